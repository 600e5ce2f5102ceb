"""Properties of the diagnostics that hold for any data, cross-checks of the batched refits
against one-at-a-time fits, and bad input raising InputError with a clear message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats

import metaverdict as mv
from metaverdict.diagnostics import (
    baujat,
    blup,
    cumulative,
    egger_test,
    fail_safe_n,
    henmi_copas,
    influence,
    leave_one_out,
    pet_peese,
    ranef,
    rank_test,
    rstandard,
    trim_and_fill,
)

# dat.bcg log risk ratios (metafor's escalc "RR"), as a fixed example
BCG_YI = np.array([-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209, 0.0120,
                   -0.4694, -1.3713, -0.3394, 0.4459, -0.0173])
BCG_VI = np.array([0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230, 0.0040, 0.0564,
                   0.0730, 0.0124, 0.5325, 0.0714])
BCG_ABLAT = np.array([44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33], dtype=float)
METHODS = ("EE", "DL", "REML", "PM", "SJ")


@st.composite
def studies(draw, min_k: int = 3, max_k: int = 12):
    k = draw(st.integers(min_k, max_k))
    yi = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(data=studies(), method=st.sampled_from(METHODS), test=st.sampled_from(["z", "knha"]))
def test_leave_one_out_has_one_row_per_study_and_matches_single_refits(data, method, test):
    yi, vi = data
    res = mv.meta_analysis(yi, vi, method=method, test=test)
    out = leave_one_out(res)
    assert len(out) == len(yi)
    for i in (0, len(yi) - 1):
        keep = np.arange(len(yi)) != i
        single = mv.meta_analysis(yi[keep], vi[keep], method=method, test=test)
        np.testing.assert_allclose(out.iloc[i][["estimate", "se", "tau2", "q"]].to_numpy(float),
                                   [single.estimate, single.se, single.tau2, single.q],
                                   rtol=1e-8, atol=1e-10)


@PROPS
@given(data=studies(), method=st.sampled_from(METHODS))
def test_cumulative_last_row_is_the_full_fit(data, method):
    yi, vi = data
    res = mv.meta_analysis(yi, vi, method=method)
    out = cumulative(res)
    assert len(out) == len(yi)
    last = out.iloc[-1]
    np.testing.assert_allclose([last.estimate, last.se, last.tau2, last.q, last.i2],
                               [res.estimate, res.se, res.tau2, res.q, res.i2],
                               rtol=1e-8, atol=1e-10)
    first = out.iloc[0]
    assert first.q == 0 and first.q_pvalue == 1 and first.tau2 == 0
    assert first.estimate == pytest.approx(yi[0], abs=1e-12)


def test_cumulative_order_sorts_by_key_and_positions_follow_the_given_sequence():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="DL", labels=[f"s{i}" for i in range(13)])
    by_lat = cumulative(res, order=BCG_ABLAT)
    expected = [f"s{i}" for i in np.argsort(BCG_ABLAT, kind="stable")]
    assert list(by_lat.index) == expected
    assert by_lat.equals(cumulative(res, positions=np.argsort(BCG_ABLAT, kind="stable")))
    down = cumulative(res, order=BCG_ABLAT, decreasing=True)
    # 55 first; the two 13s last, in data order
    assert list(down.index[[0, -2, -1]]) == ["s1", "s4", "s7"]
    assert list(cumulative(res, positions=[3, 1]).index) == ["s3", "s1"]


@PROPS
@given(data=studies(), method=st.sampled_from(METHODS))
def test_influence_weights_sum_to_100_and_hat_values_to_p(data, method):
    yi, vi = data
    res = mv.meta_analysis(yi, vi, method=method)
    out = influence(res)
    assert len(out) == len(yi)
    assert out["weight"].sum() == pytest.approx(100)
    assert out["hat"].sum() == pytest.approx(1)
    assert out["is_influential"].dtype == bool
    np.testing.assert_allclose(rstandard(res)["resid"], yi - res.estimate, atol=1e-12)


def test_influence_with_moderators_matches_brute_force_refits():
    df = pd.DataFrame({"ablat": BCG_ABLAT})
    res = mv.meta_analysis(BCG_YI, BCG_VI, mods="ablat", data=df, method="REML")
    out = influence(res)
    assert {"dfbs_intrcpt", "dfbs_ablat"} <= set(out.columns)
    for i in (0, 7):
        keep = np.arange(13) != i
        single = mv.meta_analysis(BCG_YI[keep], BCG_VI[keep], mods=df[keep], method="REML")
        assert out["tau2_deleted"].iloc[i] == pytest.approx(single.tau2, rel=1e-8, abs=1e-12)
        assert out["q_deleted"].iloc[i] == pytest.approx(single.q, rel=1e-10)
        ratio = np.linalg.det(single.vcov) / np.linalg.det(res.vcov)
        assert out["cov_ratio"].iloc[i] == pytest.approx(ratio, rel=1e-8)
    assert out["hat"].sum() == pytest.approx(2)


@PROPS
@given(data=studies(), method=st.sampled_from(("DL", "REML")))
def test_blups_lie_between_the_study_effect_and_the_pooled_estimate(data, method):
    yi, vi = data
    res = mv.meta_analysis(yi, vi, method=method)
    pred = blup(res)["pred"].to_numpy()
    lo, hi = np.minimum(yi, res.estimate), np.maximum(yi, res.estimate)
    assert np.all((pred >= lo - 1e-12) & (pred <= hi + 1e-12))
    np.testing.assert_allclose(ranef(res)["pred"].to_numpy(), pred - res.estimate, atol=1e-12)


def test_ranef_of_a_common_effect_model_is_zero():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="EE")
    assert (ranef(res)[["pred", "se"]].to_numpy() == 0).all()


@PROPS
@given(data=studies(min_k=4))
def test_trim_and_fill_with_no_missing_studies_returns_the_original_fit(data):
    yi, vi = data
    assume(len(np.unique(vi)) > 1)                   # else the side cannot be estimated
    res = mv.meta_analysis(yi, vi, method="DL")
    for estimator in ("L0", "R0"):
        out = trim_and_fill(res, estimator=estimator)
        assert out.k0 >= 0 and out.side in ("left", "right")
        assert len(out.yi_augmented) == res.k + out.k0 == out.filled.k
        assert out.is_filled.sum() == out.k0
        np.testing.assert_array_equal(out.yi_augmented[: res.k], yi)
        if out.k0 == 0:
            assert out.filled is res
        if estimator == "R0":
            assert out.p_k0 == pytest.approx(0.5 ** (out.k0 + 1))


def test_trim_and_fill_mirrors_studies_about_the_trimmed_estimate():
    yi = np.array([0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 1.5])
    vi = np.array([0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2])
    res = mv.meta_analysis(yi, vi, method="EE")
    out = trim_and_fill(res, side="left")
    assert out.side == "left" and out.k0 > 0
    # every imputed study is the mirror image of one of the largest observed effects
    centre = (out.yi_augmented[out.is_filled] + np.sort(yi)[-out.k0:]) / 2
    assert np.allclose(centre, centre[0])
    assert "missing" in out.summary()


@PROPS
@given(data=studies(min_k=3, max_k=30))
def test_rank_test_exact_pvalue_matches_scipy(data):
    yi, vi = data
    res = mv.meta_analysis(yi, vi, method="EE")
    out = rank_test(res)
    w = 1 / vi
    ystar = (yi - res.estimate) / np.sqrt(vi - 1 / w.sum())
    if len(np.unique(ystar)) == len(yi) and len(np.unique(vi)) == len(yi):
        ref = stats.kendalltau(ystar, vi, method="exact")
        assert out.exact
        assert out.statistic == pytest.approx(ref.statistic, abs=1e-12)
        assert out.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-14)
    if np.isfinite(out.statistic):                 # NaN (as R's NA) when a variable is constant
        assert -1 <= out.statistic <= 1 and 0 <= out.pvalue <= 1


def test_rank_test_with_ties_uses_the_normal_approximation():
    vi = np.array([0.1, 0.1, 0.2, 0.3, 0.3, 0.4])
    res = mv.meta_analysis(np.array([0.1, 0.5, 0.2, 0.9, 0.4, 1.0]), vi, method="EE")
    out = rank_test(res)
    assert not out.exact
    ref = stats.kendalltau((res.yi - res.estimate) / np.sqrt(vi - 1 / (1 / vi).sum()), vi,
                           method="asymptotic")
    assert out.statistic == pytest.approx(ref.statistic)
    assert out.pvalue == pytest.approx(ref.pvalue, rel=1e-9)


def test_egger_lm_is_weighted_least_squares_with_dispersion():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="EE")
    out = egger_test(res, model="lm")
    sei = np.sqrt(BCG_VI)
    X = np.column_stack([np.ones(13), sei])
    W = np.diag(1 / BCG_VI)
    cov = np.linalg.inv(X.T @ W @ X)
    beta = cov @ X.T @ W @ BCG_YI
    sigma2 = (BCG_YI - X @ beta) @ W @ (BCG_YI - X @ beta) / 11
    assert out.df == 11
    assert out.statistic == pytest.approx(beta[1] / np.sqrt(cov[1, 1] * sigma2))
    assert out.limit_estimate == pytest.approx(beta[0])
    assert "asymmetry" in out.summary()


def test_egger_sample_size_predictors_and_moderators():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="REML")
    ni = np.arange(100, 1400, 100)
    assert np.isnan(egger_test(res, predictor="ni", ni=ni).limit_estimate)   # ni -> infinity, not 0
    assert np.isfinite(egger_test(res, predictor="sqrtninv", ni=ni).limit_estimate)
    mods = mv.meta_analysis(BCG_YI, BCG_VI, mods=pd.DataFrame({"ablat": BCG_ABLAT}), method="REML")
    out = egger_test(mods)
    assert np.isfinite(out.statistic) and np.isnan(out.limit_estimate)
    knha = egger_test(mv.meta_analysis(BCG_YI, BCG_VI, method="REML", test="knha"))
    assert knha.df == 11


def test_pet_peese_conditional_choice():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="REML")
    out = pet_peese(res)
    assert out.pet.predictor == "sei" and out.peese.predictor == "vi"
    chosen = out.peese if out.pet_intercept_pvalue < 0.05 else out.pet
    assert out.method == ("PEESE" if chosen is out.peese else "PET")
    assert out.estimate == chosen.limit_estimate == pytest.approx(chosen.limit_estimate)
    assert out.pet.limit_estimate == pytest.approx(egger_test(res).limit_estimate)
    assert pet_peese(res, alpha=0.999).method == "PEESE"
    assert "PEESE" in out.summary()


@PROPS
@given(data=studies(min_k=2), kind=st.sampled_from(["Rosenthal", "Orwin", "Rosenberg"]))
def test_fail_safe_n_is_a_non_negative_whole_number(data, kind):
    yi, vi = data
    out = fail_safe_n(yi, vi, kind=kind)
    assert out.n >= 0 and (np.isinf(out.n) or out.n == int(out.n))


def test_fail_safe_n_orwin_target():
    out = fail_safe_n([0.4, 0.6], [0.1, 0.1], kind="Orwin", target=0.1)
    assert out.n == 8 and out.mean_effect == pytest.approx(0.5)          # 2 * (0.5 - 0.1) / 0.1
    assert np.isinf(fail_safe_n([0.4, 0.6], [0.1, 0.1], kind="Orwin", target=-0.1).n)


def test_henmi_copas_exact_root_is_close_to_the_default_tolerance():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="DL")
    loose, exact = henmi_copas(res), henmi_copas(res, tol=1e-12)
    common = mv.meta_analysis(BCG_YI, BCG_VI, method="EE").estimate
    assert loose.estimate == exact.estimate == pytest.approx(common)
    assert exact.ci_lower == pytest.approx(loose.ci_lower, rel=1e-3)
    assert exact.ci_lower < exact.estimate < exact.ci_upper


def test_baujat_x_sums_to_cochrans_q_for_a_common_effect_model():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="EE")
    out = baujat(res)
    assert out["x"].sum() == pytest.approx(res.q)
    assert (out["y"] >= 0).all() and len(out) == 13


def test_results_serialise_and_print():
    res = mv.meta_analysis(BCG_YI, BCG_VI, method="REML")
    for out in (egger_test(res), rank_test(res), trim_and_fill(res), henmi_copas(res),
                fail_safe_n(BCG_YI, BCG_VI), pet_peese(res)):
        assert isinstance(out.to_dict(), dict)
        assert out.summary() and repr(out)


# ----------------------------------------------------------------------------- bad input

def _res(k: int, method: str = "REML") -> mv.MetaAnalysisResult:
    return mv.meta_analysis(BCG_YI[:k], BCG_VI[:k], method=method)


@pytest.mark.parametrize("call, match", [
    (lambda: egger_test(_res(2)), "needs at least 3 studies"),
    (lambda: egger_test(_res(13), predictor="precision"), "unknown value 'precision'"),
    (lambda: egger_test(_res(13), model="glm"), "unknown value 'glm'"),
    (lambda: egger_test(_res(13), predictor="ni"), "needs the sample sizes"),
    (lambda: egger_test(_res(13), predictor="ni", ni=[10, 20]), "one sample size per study"),
    (lambda: egger_test(mv.meta_analysis([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], method="DL")),
     "collinear"),
    (lambda: trim_and_fill(_res(1)), "at least 2 studies"),
    (lambda: trim_and_fill(_res(2)), "needs at least 3 studies"),
    (lambda: trim_and_fill(_res(13), estimator="Q1"), "unknown value 'Q1'"),
    (lambda: trim_and_fill(_res(13), side="up"), "unknown value 'up'"),
    (lambda: rank_test(_res(1)), "at least 2 studies"),
    (lambda: rank_test(mv.meta_analysis(BCG_YI, BCG_VI, mods=pd.DataFrame({"ablat": BCG_ABLAT}))),
     "models without moderators"),
    (lambda: leave_one_out(_res(1)), "at least 2 studies"),
    (lambda: leave_one_out(mv.meta_analysis(BCG_YI, BCG_VI,
                                            mods=pd.DataFrame({"ablat": BCG_ABLAT}))),
     "ablat"),
    (lambda: cumulative(_res(13), order=[1, 2]), "one sort key per study"),
    (lambda: cumulative(_res(13), positions=[0, 13]), "must lie in 0..12"),
    (lambda: cumulative(_res(13), order=BCG_ABLAT, positions=[0]), "not both"),
    (lambda: influence(_res(1)), "at least 2 studies"),
    (lambda: fail_safe_n(BCG_YI, BCG_VI, kind="Fisher"), "unknown value 'Fisher'"),
    (lambda: fail_safe_n(BCG_YI, BCG_VI, alpha=1.5), "alpha"),
    (lambda: fail_safe_n(BCG_YI, BCG_VI[:5]), "mismatched lengths"),
    (lambda: fail_safe_n(BCG_YI, -BCG_VI), "vi"),
    (lambda: henmi_copas(_res(1)), "at least 2 studies"),
    (lambda: blup(mv.meta_analysis(BCG_YI, BCG_VI, weights=np.ones(13))), "user weights"),
    (lambda: pet_peese(_res(13), alpha=0), "alpha"),
])
def test_bad_input_raises_input_error(call, match):
    with pytest.raises(mv.InputError, match=match):
        call()


def test_rank_test_with_a_constant_variable_is_nan_without_warning() -> None:
    """Identical effects (or identical variances) make Kendall's tau undefined: NaN, as R's NA."""
    res = mv.meta_analysis(np.zeros(5), np.ones(5), method="EE")
    out = rank_test(res)
    assert np.isnan(out.statistic) and np.isnan(out.pvalue) and not out.exact
