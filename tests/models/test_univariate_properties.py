"""Invariants of the univariate engine and its handling of bad input.

Independent checks: the REML/ML estimates are compared with a bounded scalar maximisation of
the (restricted) log-likelihood written out here from its textbook formula (Viechtbauer 2005,
eqs. 6 and 8), not with the engine's own likelihood code.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import metaverdict as mv
from metaverdict import InputError
from metaverdict.models import SolverControl

finite = st.floats(-5, 5, allow_nan=False)
variance = st.floats(1e-3, 4, allow_nan=False)


@st.composite
def datasets(draw, min_k=2, max_k=30):
    k = draw(st.integers(min_k, max_k))
    y = np.array(draw(st.lists(finite, min_size=k, max_size=k)))
    v = np.array(draw(st.lists(variance, min_size=k, max_size=k)))
    return y, v


def textbook_loglik(tau2: float, y: np.ndarray, v: np.ndarray, reml: bool) -> float:
    w = 1.0 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * np.sum(w * (y - mu) ** 2)
    return ll - 0.5 * np.log(np.sum(w)) if reml else ll


@pytest.mark.parametrize("method", ["REML", "ML"])
@settings(max_examples=60, deadline=None)
@given(data=datasets(min_k=3))
def test_likelihood_estimators_maximise_the_likelihood(method: str, data) -> None:
    y, v = data
    res = mv.meta_analysis(y, v, method=method)
    assert res.converged and res.tau2 >= 0
    ll = lambda t: textbook_loglik(t, y, v, method == "REML")  # noqa: E731
    upper = 10 * (np.var(y) + v.max()) + 1
    grid = np.concatenate([[0.0], np.geomspace(1e-6, upper, 400)])
    best = grid[np.argmax([ll(t) for t in grid])]
    lo, hi = max(0.0, best / 2 - 1e-6), best * 2 + 1e-6
    opt = optimize.minimize_scalar(lambda t: -ll(t), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-12})
    t_star = 0.0 if ll(0.0) >= -opt.fun else opt.x
    # the engine's optimum is at least as good as an independent search
    assert ll(res.tau2) >= ll(t_star) - 1e-9 * (1 + abs(ll(t_star)))


@settings(max_examples=60, deadline=None)
@given(data=datasets(min_k=2))
def test_paule_mandel_solves_its_estimating_equation(data) -> None:
    y, v = data
    res = mv.meta_analysis(y, v, method="PM")
    w = 1 / (v + res.tau2)
    q = np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)
    k = len(y)
    if res.tau2 > 0:
        assert q == pytest.approx(k - 1, rel=1e-8)
    else:
        assert q <= k - 1 + 1e-8


@settings(max_examples=40, deadline=None)
@given(data=datasets(), shift=finite, perm_seed=st.integers(0, 2**16))
def test_location_shift_and_permutation_invariance(data, shift: float, perm_seed: int) -> None:
    y, v = data
    base = mv.meta_analysis(y, v, method="REML")
    perm = np.random.default_rng(perm_seed).permutation(len(y))
    moved = mv.meta_analysis(y[perm] + shift, v[perm], method="REML")
    assert moved.estimate == pytest.approx(base.estimate + shift, abs=1e-7)
    assert moved.tau2 == pytest.approx(base.tau2, rel=1e-6, abs=1e-10)
    assert moved.q == pytest.approx(base.q, rel=1e-6, abs=1e-8)


@settings(max_examples=40, deadline=None)
@given(data=datasets(min_k=2), method=st.sampled_from(["EE", "DL", "HE", "HS", "HSk", "SJ", "ML",
                                                        "REML", "EB", "PM", "PMM", "GENQ"]))
def test_intervals_are_ordered_and_weights_sum_to_100(data, method: str) -> None:
    y, v = data
    res = mv.meta_analysis(y, v, method=method)
    assert res.ci_lower <= res.estimate <= res.ci_upper
    assert res.pi_lower <= res.ci_lower and res.pi_upper >= res.ci_upper
    assert res.weights.sum() == pytest.approx(100)
    assert 0 <= res.i2 <= 100
    # H² is Q/(k-1) for a common-effect model (may be < 1) and 1 + tau²/v~ otherwise
    assert res.h2 >= 0 if method == "EE" else res.h2 >= 1 - 1e-12
    assert 0 <= res.pvalue <= 1


def test_common_effect_is_the_inverse_variance_mean() -> None:
    y, v = np.array([0.2, -0.1, 0.5]), np.array([0.04, 0.09, 0.01])
    w = 1 / v
    res = mv.meta_analysis(y, v, method="EE")
    assert res.estimate == pytest.approx(np.sum(w * y) / np.sum(w))
    assert res.se == pytest.approx(np.sqrt(1 / np.sum(w)))
    assert res.pvalue == pytest.approx(2 * stats.norm.sf(abs(res.estimate / res.se)))


def test_metafor_fisher_scoring_failures_converge() -> None:
    """metafor's Fisher scoring cycles between two values on some data sets; the bracketing
    search must still find the REML root (seeded draws that made the scoring oscillate).
    Single fits take Newton steps by default; they find the same roots, without cycling."""
    rng = np.random.default_rng(1)
    fisher = SolverControl(step="fisher", scale_free=True)
    fits, newton = [], []
    for _ in range(1500):
        v = rng.uniform(0.01, 1, 10) ** 2 * rng.choice([1, 10, 100])
        y = rng.normal(0, np.sqrt(v + rng.choice([0, 0.1, 1])))
        fits.append(mv.meta_analysis(y, v, method="REML", control=fisher))
        newton.append(mv.meta_analysis(y, v, method="REML"))
    assert all(f.converged for f in fits + newton)
    assert max(f.iterations for f in fits) > 100        # some needed the fallback
    assert max(f.iterations for f in newton) < 100
    np.testing.assert_allclose([f.tau2 for f in newton], [f.tau2 for f in fits],
                               rtol=1e-9, atol=1e-14)


def test_single_study() -> None:
    res = mv.meta_analysis([0.5], [0.1], method="REML")
    assert res.k == 1 and res.tau2 == 0 and np.isnan(res.tau2_se)
    assert res.q == 0 and res.q_pvalue == 1 and res.i2 == 0 and res.h2 == 1
    assert res.se == pytest.approx(np.sqrt(0.1))


@pytest.mark.parametrize("value, stat, p",
                         [(0.5, np.inf, 0.0), (-1.0, -np.inf, 0.0), (0.0, 0.0, 1.0)])
def test_knha_with_identical_estimates(value, stat, p) -> None:
    """Q = 0 makes the Hartung-Knapp SE 0: an infinite statistic (metafor) with no warning."""
    res = mv.meta_analysis([value] * 3, [0.1, 0.2, 0.3], method="REML", test="knha")
    assert res.se == 0 and res.ci_lower == res.ci_upper == value
    assert res.statistic == stat and res.pvalue == p


def test_sei_and_effect_sizes_inputs() -> None:
    a = mv.meta_analysis([0.1, 0.4, 0.3], sei=[0.1, 0.2, 0.3], method="DL")
    b = mv.meta_analysis([0.1, 0.4, 0.3], [0.01, 0.04, 0.09], method="DL")
    assert a.estimate == pytest.approx(b.estimate) and a.tau2 == pytest.approx(b.tau2)


def test_summary_and_dict() -> None:
    res = mv.meta_analysis([0.1, 0.4, 0.3, 0.9], [0.01, 0.04, 0.09, 0.02], method="REML",
                           test="knha")
    text = res.summary()
    for piece in ("tau^2", "I^2", "Q(3)", "prediction interval", "Hartung-Knapp"):
        assert piece in text
    d = res.to_dict()
    assert d["estimate"] == pytest.approx(res.estimate) and d["df"] == 3
    assert "estimate=" in repr(res)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(yi=[1, 2, 3], vi=[1, -1, 1]), "row 2, field 'vi'"),
    (dict(yi=[1, 2, 3], vi=[1, 0, 1]), "row 2, field 'vi'"),
    (dict(yi=[1, np.nan, 3], vi=[1, 1, 1]), "row 2, field 'yi'"),
    (dict(yi=[1, 2, 3], vi=[1, 1, np.inf]), "row 3, field 'vi'"),
    (dict(yi=[1, 2, 3], vi=[1, 1]), "mismatched lengths"),
    (dict(yi=[1, 2], vi=[1, 1], method="XYZ"), "unknown value 'XYZ'"),
    (dict(yi=[1, 2], vi=[1, 1], test="wald"), "field 'test'"),
    (dict(yi=[1, 2], vi=[1, 1], level=95), "field 'level'"),
    (dict(yi=[1, "a"], vi=[1, 1]), "row 2, field 'yi': not a number"),
    (dict(yi=[], vi=[]), "no studies"),
    (dict(yi=[1, 2]), "field 'vi'"),
])
def test_bad_input_names_row_and_field(kwargs, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
        mv.meta_analysis(**kwargs)


def test_bad_input_uses_study_labels_and_columns() -> None:
    import pandas as pd
    df = pd.DataFrame({"y": [0.1, 0.2], "v": [0.1, -0.2]}, index=["Smith 2001", "Jones 2004"])
    with pytest.raises(InputError, match="study 'Jones 2004', field 'vi'"):
        mv.meta_analysis("y", "v", data=df)
    with pytest.raises(InputError, match="no column 'var'"):
        mv.meta_analysis("y", "var", data=df)


def test_missing_omit_drops_studies() -> None:
    res = mv.meta_analysis([0.1, np.nan, 0.3], [0.1, 0.1, 0.1], missing="omit",
                           labels=["a", "b", "c"])
    assert res.k == 2 and res.labels == ["a", "c"]
