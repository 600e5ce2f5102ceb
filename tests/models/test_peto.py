"""Peto's method: parity with metafor 3.8 ``rma.peto()`` (1e-6), properties, bad input."""
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
from metaverdict.models.peto import peto, peto_heterogeneity, peto_odds_ratio

from conftest import assert_close, case_data, case_ids, load_case

FIELDS = {
    "b": "estimate", "se": "se", "zval": "statistic", "pval": "pvalue", "ci.lb": "ci_lower",
    "ci.ub": "ci_upper", "QE": "q", "QEp": "q_pvalue", "I2": "i2", "H2": "h2", "k": "k",
    "k.yi": "k_yi",
}

PETO_CASES = [c for c in case_ids() if "rma.peto" in load_case(c)]


def fit_case(case: dict[str, Any]) -> PooledTablesResult:
    return peto(data=case_data(case), **case["escalc"]["args"])


def test_there_are_peto_cases() -> None:
    assert len(PETO_CASES) >= 10


@pytest.mark.parametrize("case_id", PETO_CASES)
def test_parity_with_metafor(case_id: str) -> None:
    case = load_case(case_id)
    ref = case["rma.peto"]
    res = fit_case(case)
    for key, attr in FIELDS.items():
        assert ref.get(key) is not None, key
        assert_close(getattr(res, attr), ref[key], f"{case_id} {key}")
    used = np.isfinite(res.yi)   # metafor lists yi/vi of the studies in Q only
    assert_close(res.yi[used], ref["yi"], f"{case_id} yi")
    assert_close(res.vi[used], ref["vi"], f"{case_id} vi")
    assert res.method == "Peto" and res.measure == "OR"
    assert all(getattr(res, a) is None for a in ("cmh", "cochran", "breslow_day", "tarone"))


def test_summary_and_dict() -> None:
    res = fit_case(load_case("dat.bcg__OR"))
    text = res.summary()
    for part in ("Peto", "log OR", "Heterogeneity: Q(12)", "I² ="):
        assert part in text, part
    assert "Breslow" not in text
    d = json.loads(json.dumps(res.to_dict()))
    assert d["method"] == "Peto" and d["k"] == 13


def test_group_sizes_instead_of_non_events() -> None:
    a = peto(ai=[3, 5], bi=[10, 8], ci=[6, 9], di=[8, 5])
    b = peto(ai=[3, 5], n1i=[13, 13], ci=[6, 9], n2i=[14, 14])
    assert a.estimate == b.estimate and a.se == b.se and a.q == b.q


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


def informative(t: np.ndarray) -> bool:
    return bool(np.any((t[0] + t[2] > 0) & (t[1] + t[3] > 0) & (t.sum(0) > 1)))


def fit(t: np.ndarray) -> PooledTablesResult:
    return peto(ai=t[0], bi=t[1], ci=t[2], di=t[3])


def close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None)
@given(tables())
def test_swapping_arms_or_outcomes_negates_estimate(t: np.ndarray) -> None:
    assume(informative(t))
    res = fit(t)
    for swapped in (fit(t[[2, 3, 0, 1]]), fit(t[[1, 0, 3, 2]])):
        assert close(swapped.estimate, -res.estimate) and close(swapped.se, res.se)
        assert close(swapped.q, res.q)


@settings(max_examples=100, deadline=None)
@given(tables(min_k=2), st.randoms(use_true_random=False))
def test_study_order_does_not_matter(t: np.ndarray, rnd: Any) -> None:
    assume(informative(t))
    order = list(range(t.shape[1]))
    rnd.shuffle(order)
    res, perm = fit(t), fit(t[:, order])
    for attr in ("estimate", "se", "q", "q_pvalue", "i2", "k_yi"):
        assert close(getattr(res, attr), getattr(perm, attr)), attr
    np.testing.assert_array_equal(perm.vi, res.vi[order])


@settings(max_examples=100, deadline=None)
@given(tables())
def test_q_equals_inverse_variance_q_without_zero_cells(t: np.ndarray) -> None:
    assume(np.all(t > 0) and np.all(t.sum(0) > 1))
    res = fit(t)
    assert close(res.q, float(np.sum((res.yi - res.estimate) ** 2 / res.vi)))
    if t.shape[1] == 1:
        assert close(res.estimate, res.yi[0]) and close(res.se**2, res.vi[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(tables(min_k=4, max_k=4), min_size=2, max_size=4))
def test_kernels_pool_a_batch_like_single_fits(batch: list[np.ndarray]) -> None:
    assume(all(informative(t) for t in batch))
    stacked = np.stack(batch, axis=1)   # (4, B, k)
    beta, se = peto_odds_ratio(*stacked)
    q, n = peto_heterogeneity(*stacked)
    for i, t in enumerate(batch):
        np.testing.assert_allclose([beta[i], se[i], q[i], n[i]],
                                   [*peto_odds_ratio(*t), *peto_heterogeneity(*t)], rtol=1e-12)


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    (dict(ai=[3, -1], bi=[10, 8], ci=[6, 9], di=[8, 5]), ["row 2", "'ai'", ">= 0"]),
    (dict(ai=[3, 1.5], bi=[10, 8], ci=[6, 9], di=[8, 5]), ["row 2", "'ai'", "whole"]),
    (dict(ai=[3, 9], n1i=[10, 8], ci=[6, 9], n2i=[8, 15]), ["row 2", "'ai'", "exceed"]),
    (dict(ai=[3, 1], bi=[10, 8], ci=[6, float("nan")], di=[8, 5]), ["row 2", "'ci'", "finite"]),
    (dict(ai=[3, 1, 2], bi=[10, 8], ci=[6, 9], di=[8, 5]), ["mismatched lengths"]),
    (dict(ai=[0, 0], bi=[10, 8], ci=[0, 0], di=[8, 5]), ["no events"]),
    (dict(ai=[1, 0], bi=[0, 1], ci=[0, 0], di=[0, 0]), ["row 1", "no participants"]),
    (dict(ai=[2, 0], bi=[0, 4], ci=[3, 0], di=[0, 5]), ["Peto", "no information"]),
    (dict(ai=[1, 0], ci=[0, 0], di=[1, 1]), ["'bi' or 'n1i'", "required"]),
])
def test_bad_input_raises_input_error(kwargs: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        peto(**kwargs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_missing_column_and_labels() -> None:
    import pandas as pd
    df = pd.DataFrame({"id": ["A", "B"], "a": [3, 4], "b": [7, -2], "c": [1, 2], "d": [9, 9]})
    with pytest.raises(InputError, match=r"study 'B'.*'bi'"):
        peto(data=df, ai="a", bi="b", ci="c", di="d", labels="id")
    with pytest.raises(InputError, match=r"'di'.*'dd' not found"):
        peto(data=df, ai="a", bi="b", ci="c", di="dd")
