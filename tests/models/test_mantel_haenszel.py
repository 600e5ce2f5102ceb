"""Mantel-Haenszel pooling: parity with metafor 3.8 ``rma.mh()`` (1e-6), properties, bad input."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.mantel_haenszel import (
    breslow_day,
    cmh_tests,
    mantel_haenszel,
    mh_odds_ratio,
    mh_rate_ratio,
    mh_risk_difference,
    mh_risk_ratio,
)

from conftest import assert_close, case_data, case_ids, load_case

#: metafor field -> PooledTablesResult attribute
FIELDS = {
    "b": "estimate", "se": "se", "zval": "statistic", "pval": "pvalue", "ci.lb": "ci_lower",
    "ci.ub": "ci_upper", "QE": "q", "QEp": "q_pvalue", "I2": "i2", "H2": "h2", "k": "k",
    "k.yi": "k_yi", "MH": "cmh", "MHp": "cmh_pvalue", "CO": "cochran", "COp": "cochran_pvalue",
    "BD": "breslow_day", "BDp": "breslow_day_pvalue", "TA": "tarone", "TAp": "tarone_pvalue",
}

MH_CASES = [c for c in case_ids() if "rma.mh" in load_case(c)]


def fit_case(case: dict[str, Any]) -> PooledTablesResult:
    return mantel_haenszel(case["rma.mh"]["measure"], data=case_data(case),
                           **case["escalc"]["args"])


def compare(res: PooledTablesResult, ref: dict[str, Any], where: str) -> int:
    """Compare every non-null reference field plus yi/vi; return how many were compared."""
    checked = 0
    for key, attr in FIELDS.items():
        if ref.get(key) is None:
            continue
        assert_close(getattr(res, attr), ref[key], f"{where} {key}")
        checked += 1
    used = np.isfinite(res.yi)   # metafor lists yi/vi of the studies in Q only
    assert_close(res.yi[used], ref["yi"], f"{where} yi")
    assert_close(res.vi[used], ref["vi"], f"{where} vi")
    return checked + 2


def test_there_are_mh_cases() -> None:
    measures = {load_case(c)["rma.mh"]["measure"] for c in MH_CASES}
    assert measures == {"OR", "RR", "RD", "IRR"}


@pytest.mark.parametrize("case_id", MH_CASES)
def test_parity_with_metafor(case_id: str) -> None:
    case = load_case(case_id)
    res = fit_case(case)
    checked = compare(res, case["rma.mh"], case_id)
    assert checked >= 14
    assert res.method == "MH" and res.measure == case["rma.mh"]["measure"]
    applies = {"OR": ("cmh", "cochran", "breslow_day", "tarone"), "IRR": ("cmh",)}
    for attr in ("cmh", "cochran", "breslow_day", "tarone"):
        is_none = getattr(res, attr) is None
        assert is_none == (attr not in applies.get(res.measure, ())), attr


def test_parity_with_array_input() -> None:
    case = load_case("dat.collins1985a__OR")
    frame = case_data(case)
    arrays = {arg: frame[col].to_numpy() for arg, col in case["escalc"]["args"].items()}
    compare(mantel_haenszel("or", **arrays), case["rma.mh"], "arrays")


def test_summary_and_dict() -> None:
    case = load_case("dat.bcg__OR")
    res = fit_case(case)
    text = res.summary()
    for part in ("Mantel-Haenszel", "log OR", "Heterogeneity: Q(12) = 163.94", "I² = 92.7%",
                 "Breslow-Day", "Tarone", "Cochran-Mantel-Haenszel", "0.6229"):
        assert part in text, part
    d = json.loads(json.dumps(res.to_dict()))
    assert d["measure"] == "OR" and d["k"] == 13 and len(d["yi"]) == 13
    assert math.isclose(res.exp_estimate, math.exp(res.estimate))
    assert "log" not in fit_case(load_case("dat.bcg__RD")).summary().split("\n")[2]


def test_level() -> None:
    case = load_case("dat.bcg__RR")
    wide, narrow = (mantel_haenszel("RR", data=case_data(case), level=lv, **case["escalc"]["args"])
                    for lv in (0.99, 0.9))
    assert wide.ci_lower < narrow.ci_lower < narrow.ci_upper < wide.ci_upper
    assert wide.estimate == narrow.estimate


def test_double_zero_study_in_k_not_in_q() -> None:
    res = mantel_haenszel("OR", ai=[3, 0, 5], bi=[10, 20, 8], ci=[6, 0, 9], di=[8, 19, 5])
    assert res.k == 3 and res.k_yi == 2 and np.isnan(res.yi[1])
    without = mantel_haenszel("OR", ai=[3, 5], bi=[10, 8], ci=[6, 9], di=[8, 5])
    assert res.estimate == pytest.approx(without.estimate, rel=1e-12)


def test_undefined_estimate_is_nan_like_metafor() -> None:
    res = mantel_haenszel("OR", ai=[0, 0], bi=[10, 12], ci=[3, 4], di=[7, 8])
    assert np.isnan(res.estimate) and np.isnan(res.breslow_day)
    assert res.cmh > 0


# --- properties --------------------------------------------------------------------------------

@st.composite
def tables(draw: st.DrawFn, min_k: int = 1, max_k: int = 8) -> np.ndarray:
    """(4, k) array of counts ai, bi, ci, di with both groups non-empty."""
    k = draw(st.integers(min_k, max_k))
    rows = []
    for _ in range(k):
        n1, n2 = draw(st.integers(1, 60)), draw(st.integers(1, 60))
        a, c = draw(st.integers(0, n1)), draw(st.integers(0, n2))
        rows.append((a, n1 - a, c, n2 - c))
    return np.array(rows, dtype=float).T


def fit(measure: str, t: np.ndarray) -> PooledTablesResult:
    return mantel_haenszel(measure, ai=t[0], bi=t[1], ci=t[2], di=t[3])


def estimable(t: np.ndarray) -> bool:
    a, b, c, d = t
    return bool(np.sum(a * d / t.sum(0)) > 0 and np.sum(b * c / t.sum(0)) > 0)


def close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None)
@given(tables())
def test_swapping_arms_negates_log_or(t: np.ndarray) -> None:
    assume(estimable(t))
    res, swapped = fit("OR", t), fit("OR", t[[2, 3, 0, 1]])
    assert close(swapped.estimate, -res.estimate) and close(swapped.se, res.se)
    for attr in ("q", "cmh", "cochran", "breslow_day", "tarone"):
        assert close(getattr(swapped, attr), getattr(res, attr)), attr
    outcome_swap = fit("OR", t[[1, 0, 3, 2]])
    assert close(outcome_swap.estimate, -res.estimate)


@settings(max_examples=100, deadline=None)
@given(tables(), st.sampled_from(["RR", "RD"]))
def test_swapping_arms_negates_rr_and_rd(t: np.ndarray, measure: str) -> None:
    a, _, c, _ = t
    assume(a.sum() > 0 and c.sum() > 0 and t[[1, 3]].sum() > 0)
    res, swapped = fit(measure, t), fit(measure, t[[2, 3, 0, 1]])
    assert close(swapped.estimate, -res.estimate) and close(swapped.se, res.se)


@settings(max_examples=100, deadline=None)
@given(tables(min_k=2), st.sampled_from(["OR", "RR", "RD"]), st.randoms(use_true_random=False))
def test_study_order_does_not_matter(t: np.ndarray, measure: str, rnd: Any) -> None:
    assume(estimable(t))
    order = list(range(t.shape[1]))
    rnd.shuffle(order)
    res, perm = fit(measure, t), fit(measure, t[:, order])
    for attr in ("estimate", "se", "q", "i2", "k_yi", "cmh", "breslow_day", "tarone"):
        a, b = getattr(res, attr), getattr(perm, attr)
        assert (a is None and b is None) or close(a, b), attr
    np.testing.assert_array_equal(perm.yi, res.yi[order])


@settings(max_examples=100, deadline=None)
@given(tables(), st.integers(2, 5), st.sampled_from(["OR", "RR", "RD"]))
def test_scaling_counts_keeps_estimate_and_shrinks_se(t: np.ndarray, m: int, measure: str) -> None:
    assume(estimable(t))
    res, big = fit(measure, t), fit(measure, m * t)
    assert close(big.estimate, res.estimate)
    assert close(big.se, res.se / math.sqrt(m))


@settings(max_examples=100, deadline=None)
@given(tables(min_k=1, max_k=1))
def test_single_table_equals_its_own_outcome(t: np.ndarray) -> None:
    assume(np.all(t > 0))   # no continuity correction: MH = Woolf / Katz for one table
    for measure in ("OR", "RR"):
        res = fit(measure, t)
        assert close(res.estimate, res.yi[0]) and close(res.se**2, res.vi[0]), measure
        assert res.q == 0 and res.q_pvalue == 1 and res.i2 == 0 and res.h2 == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(1, 500), st.integers(0, 30),
                          st.floats(1, 500), st.floats(0.1, 10)), min_size=1, max_size=8))
def test_irr_invariant_to_person_time_units(rows: list[tuple[float, ...]]) -> None:
    x1, t1, x2, t2, scale = (np.array(v, dtype=float) for v in zip(*rows))
    assume(x1.sum() > 0 and x2.sum() > 0)
    res = mantel_haenszel("IRR", x1i=x1, t1i=t1, x2i=x2, t2i=t2)
    rescaled = mantel_haenszel("IRR", x1i=x1, t1i=t1 * scale, x2i=x2, t2i=t2 * scale)
    assert close(res.estimate, rescaled.estimate) and close(res.se, rescaled.se)
    assert close(res.cmh, rescaled.cmh)
    swapped = mantel_haenszel("IRR", x1i=x2, t1i=t2, x2i=x1, t2i=t1)
    assert close(swapped.estimate, -res.estimate) and close(swapped.cmh, res.cmh)


@settings(max_examples=40, deadline=None)
@given(st.lists(tables(min_k=5, max_k=5), min_size=2, max_size=4))
def test_kernels_pool_a_batch_like_single_fits(batch: list[np.ndarray]) -> None:
    stacked = np.stack(batch, axis=1)   # (4, B, k)
    for kernel in (mh_odds_ratio, mh_risk_ratio, mh_risk_difference):
        beta, se = kernel(*stacked)
        for i, t in enumerate(batch):
            b1, s1 = kernel(*t)
            np.testing.assert_allclose([beta[i], se[i]], [b1, s1], rtol=1e-12)
    beta, _ = mh_odds_ratio(*stacked)
    bd = breslow_day(*stacked, np.exp(beta))
    cmh = cmh_tests(*stacked)
    for i, t in enumerate(batch):
        b1, _ = mh_odds_ratio(*t)
        np.testing.assert_allclose([x[i] for x in bd], breslow_day(*t, np.exp(b1)), rtol=1e-12)
        np.testing.assert_allclose([x[i] for x in cmh], cmh_tests(*t), rtol=1e-12)
    rates = stacked[[0, 1, 2, 3]] + 1.0
    beta, se = mh_rate_ratio(*rates)
    np.testing.assert_allclose(beta[0], mh_rate_ratio(*(rates[:, 0]))[0], rtol=1e-12)


def test_breslow_day_is_zero_for_proportional_tables() -> None:
    t = np.array([[10, 20, 40], [20, 40, 80], [5, 10, 20], [20, 40, 80]], dtype=float)
    bd, ta, n = breslow_day(*t, np.exp(mh_odds_ratio(*t)[0]))
    assert bd == pytest.approx(0, abs=1e-12) and ta == pytest.approx(0, abs=1e-12) and n == 3


# --- bad input ---------------------------------------------------------------------------------

GOOD = dict(ai=[3, 5, 2], bi=[10, 8, 9], ci=[6, 9, 4], di=[8, 5, 7])


def with_(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


@pytest.mark.parametrize("kwargs, words", [
    (with_(ai=[3, -1, 2]), ["row 2", "'ai'", ">= 0"]),
    (with_(bi=[10, 8, 2.5]), ["row 3", "'bi'", "whole number"]),
    (with_(ci=[6, float("nan"), 4]), ["row 2", "'ci'", "finite"]),
    (with_(di=[8, 5]), ["mismatched lengths"]),
    (with_(ci=[6, 9, "x"]), ["row 3", "'ci'", "not a number"]),
    (dict(ai=[3, 7], n1i=[10, 6], ci=[1, 2], n2i=[9, 9]), ["row 2", "'ai'", "exceed", "n1i"]),
    (dict(ai=[3, 0], n1i=[10, 0], ci=[1, 2], n2i=[9, 9]), ["row 2", "'n1i'", "no participants"]),
    (dict(ai=[3, 1], bi=[7, 5], n1i=[10, 5], ci=[1, 2], n2i=[9, 9]), ["row 2", "'bi'", "n1i"]),
    (dict(ai=[3, 1], ci=[1, 2], di=[8, 9]), ["'bi' or 'n1i'", "required"]),
    (dict(ai=[0, 0], bi=[5, 6], ci=[0, 0], di=[7, 8]), ["no events", "rows 1-2"]),
    (dict(ai=[5, 6], bi=[0, 0], ci=[7, 8], di=[0, 0]), ["no non-events"]),
    (with_(x1i=[1, 2, 3]), ["'x1i'", "not used"]),
])
def test_bad_tables_raise_input_error(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        mantel_haenszel("OR", **kwargs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_errors_name_the_study_label_and_column() -> None:
    import pandas as pd
    df = pd.DataFrame({"study": ["Adams", "Baker"], "ev1": [3, 4], "n1": [10, 3],
                       "ev2": [1, 2], "n2": [9, 9]})
    with pytest.raises(InputError, match=r"study 'Baker'.*'ai'"):
        mantel_haenszel("RR", data=df, ai="ev1", n1i="n1", ci="ev2", n2i="n2", labels="study")
    with pytest.raises(InputError, match=r"'ci'.*'events2' not found"):
        mantel_haenszel("RR", data=df, ai="ev1", n1i="n1", ci="events2", n2i="n2")
    with pytest.raises(InputError, match="no data="):
        mantel_haenszel("RR", ai="ev1", n1i="n1", ci="ev2", n2i="n2")


def test_unknown_measure_and_level() -> None:
    with pytest.raises(InputError, match="'measure'.*'SMD'"):
        mantel_haenszel("SMD", **GOOD)
    with pytest.raises(InputError, match="'level'"):
        mantel_haenszel("OR", level=95, **GOOD)


@pytest.mark.parametrize("kwargs, words", [
    (dict(x1i=[1, 2], t1i=[10, 0], x2i=[3, 4], t2i=[10, 10]), ["row 2", "'t1i'", "> 0"]),
    (dict(x1i=[1, 2.5], t1i=[10, 9], x2i=[3, 4], t2i=[10, 10]), ["row 2", "'x1i'", "whole"]),
    (dict(x1i=[1, 2], t1i=[10, 9], x2i=[3, 4]), ["'t2i'", "required"]),
    (dict(x1i=[0, 0], t1i=[10, 9], x2i=[0, 0], t2i=[10, 10]), ["no events"]),
    (dict(ai=[1, 2], t1i=[10, 9], x2i=[0, 0], t2i=[10, 10]), ["'ai'", "not used"]),
])
def test_bad_rates_raise_input_error(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        mantel_haenszel("IRR", **kwargs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))
