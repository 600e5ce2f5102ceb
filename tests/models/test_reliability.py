"""Regression tests for the single-fit defects of the reliability campaign
(shared/reviews/reliability-2026-12.md): D1, D2, D5, D6, D7, D8, D13, D16, D17.

Expected values are the review's stated metafor results or derived by hand (closed forms
written out in the comments), never output of the code under test. Every test runs with
warnings turned into errors (D17: no NumPy RuntimeWarning may reach the user)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

import metaverdict as mv
from metaverdict.errors import InputError

pytestmark = pytest.mark.filterwarnings("error")

Z975 = stats.norm.isf(0.025)


# ----------------------------------------------------------------------------- D1

def test_d1_reml_extreme_variance_ratio_is_finite_and_correct() -> None:
    r = mv.meta_analysis([3.0, 0.0], [1e-12, 1e5], method="REML")
    # metafor: tau2 0, estimate 3. By hand at tau2 = 0: w = (1e12, 1e-5), the estimate is the
    # weighted mean 3 - 3e-17, se = 1/sqrt(sum w); REML se(tau2) = sqrt(2 / tr P²) with
    # tr P² = 4 w1² w2² / (w1 + w2)² ~ 4 w2² (P has entries ±w1 w2/(w1 + w2)).
    w1, w2 = 1e12, 1e-5
    assert r.converged
    assert r.tau2 == 0.0
    assert r.estimate == pytest.approx(3.0, rel=1e-15)
    assert r.se == pytest.approx(1 / math.sqrt(w1 + w2), rel=1e-12)
    trp2 = 4 * (w1 * w2 / (w1 + w2)) ** 2
    assert r.tau2_se == pytest.approx(math.sqrt(2 / trp2), rel=1e-9)


def test_d1_dl_tau2_and_its_se_without_cancellation() -> None:
    y = [3.1257302210933933, 0.1257302210933933]
    v = [2.4926611944804216e-12, 32997857.354438946]
    r = mv.meta_analysis(y, v, method="DL")
    # By hand: w = 1/v, tr P = 2 w1 w2 / (w1 + w2), Q = (y1 - y2)² w1 w2 / (w1 + w2) = 9 w1 w2/(w1
    # + w2) < k - 1 = 1, so tau2 = 0 (metafor: 0) and se = sqrt(2 (k - 1)) / tr P. (metafor
    # reports 4.7e7: its tr P = sum(diag(P)) rounds P11 = w1 - w1²/sum(w) to 0 and keeps only
    # w2, half the exact value; the exact tr P gives 2.33e7.)
    w1, w2 = 1 / v[0], 1 / v[1]
    trp = 2 * w1 * w2 / (w1 + w2)
    assert r.tau2 == 0.0
    assert r.tau2_se == pytest.approx(math.sqrt(2) / trp, rel=1e-9)
    assert r.tau2_se == pytest.approx(2.333e7, rel=1e-3)


def test_d1_reml_tau2_se_at_ratio_1e9_matches_metafor() -> None:
    r = mv.meta_analysis([3.0, 0.0], [1e-6, 1e3], method="REML")
    assert r.tau2 == 0.0
    assert r.tau2_se == pytest.approx(707.1, abs=0.05)         # metafor 707.1
    w1, w2 = 1e6, 1e-3                                          # by hand, as above
    assert r.tau2_se == pytest.approx(math.sqrt(2 / (4 * (w1 * w2 / (w1 + w2)) ** 2)), rel=1e-9)


@pytest.mark.parametrize("method", ["DL", "GENQ", "HS", "HSk", "REML", "ML", "PM", "SJ", "HE"])
def test_d1_every_estimator_is_finite_on_extreme_ratios(method: str) -> None:
    r = mv.meta_analysis([3.0, 0.0, 1.0], [1e-12, 1e5, 1e12], method=method)
    for field in ("estimate", "se", "tau2", "tau2_se", "i2", "h2", "q", "pi_lower"):
        assert np.isfinite(getattr(r, field)), field
    assert r.tau2 >= 0 and r.tau2_se > 0


def test_d1_diagnostics_refits_on_extreme_ratios_are_finite() -> None:
    r = mv.meta_analysis([3.0, 0.0, 1.0], [1e-12, 1e5, 1.0], method="REML")
    loo = mv.leave_one_out(r)
    assert np.isfinite(loo[["estimate", "se", "tau2", "pvalue"]].to_numpy()).all()
    infl = mv.influence(r)
    assert np.isfinite(infl[["rstudent", "hat", "tau2_deleted"]].to_numpy()).all()
    assert np.isfinite(mv.rstandard(r)["se"].to_numpy()).all()


# ----------------------------------------------------------------------------- D2

def test_d2_single_study_knha_falls_back_to_z_as_metafor() -> None:
    with pytest.warns(UserWarning, match="test='z' since k = 1"):
        r = mv.meta_analysis([0.5], [0.1], test="knha")
    se = math.sqrt(0.1)                                         # metafor: se = sqrt(vi)
    assert r.test == "z" and np.isnan(r.df)
    assert r.se == pytest.approx(se, rel=1e-14)
    assert r.statistic == pytest.approx(0.5 / se, rel=1e-14)
    assert r.pvalue == pytest.approx(2 * stats.norm.sf(0.5 / se), rel=1e-12)
    assert r.ci_lower == pytest.approx(0.5 - Z975 * se, rel=1e-12)
    assert r.ci_upper == pytest.approx(0.5 + Z975 * se, rel=1e-12)
    assert r.pi_lower == pytest.approx(0.5 - Z975 * se, rel=1e-12)


def test_d2_leave_one_out_of_two_studies_with_knha() -> None:
    r = mv.meta_analysis([0.189, -0.523], [0.41, 0.41], method="DL", test="knha")
    loo = mv.leave_one_out(r)
    se = math.sqrt(0.41)                       # each refit is one study: z test, se sqrt(vi)
    assert loo["estimate"].tolist() == pytest.approx([-0.523, 0.189], rel=1e-14)
    assert loo["se"].tolist() == pytest.approx([se, se], rel=1e-14)
    assert loo["pvalue"].tolist() == pytest.approx(
        [2 * stats.norm.sf(0.523 / se), 2 * stats.norm.sf(0.189 / se)], rel=1e-12)
    assert loo["ci_lower"].iloc[0] == pytest.approx(-0.523 - Z975 * se, rel=1e-12)


def test_d2_cumulative_baujat_influence_on_two_studies_with_knha() -> None:
    r = mv.meta_analysis([0.189, -0.523], [0.41, 0.41], method="DL", test="knha")
    cum = mv.cumulative(r)
    assert cum["se"].iloc[0] == pytest.approx(math.sqrt(0.41), rel=1e-14)
    assert np.isfinite(cum["pvalue"].iloc[0])
    # Baujat y: (y_j - fitted)² / v_j with the other study's z fit, fitted = mean = -0.167
    bj = mv.baujat(r)
    assert bj["y"].tolist() == pytest.approx([0.356 ** 2 / 0.41] * 2, rel=1e-12)
    infl = mv.influence(r)
    # rstudent_i = (y_i - y_j) / sqrt(v_i + v_j) (the deleted fit is study j alone, s2w = 1)
    assert infl["rstudent"].tolist() == pytest.approx([0.712 / math.sqrt(0.82),
                                                       -0.712 / math.sqrt(0.82)], rel=1e-12)
    assert np.isfinite(infl["dffits"]).all()


# ----------------------------------------------------------------------------- D5

def test_d5_ml_global_search_finds_the_higher_maximum_next_to_a_huge_variance() -> None:
    y = [2.348208672671018, 2.3482105111123017, -0.6517904934639398, -0.6517927940089843]
    v = [1e12, 1.011004334289841, 0.027309864185619735, 1.510386813938554]
    r = mv.meta_analysis(y, v, method="ML")
    # review: the fit returned tau2 = 0 (log-likelihood -20.239); metafor's logLik at
    # tau2 = 1.037 is -19.956
    assert r.tau2 == pytest.approx(1.037, abs=5e-4)
    assert r.fit_statistics.ll_ml == pytest.approx(-19.956, abs=5e-4)


@pytest.mark.parametrize("method", ["PM", "EB", "PMM", "REML", "ML", "DL", "SJ"])
def test_d5_estimates_are_equivariant_under_rescaling(method: str) -> None:
    y, v = np.array([0.1, 0.5, -0.3, 0.9, 0.2]), np.array([0.1, 0.2, 0.05, 0.3, 0.15])
    base = mv.meta_analysis(y, v, method=method).tau2
    for s in (1e-12, 1e12):
        assert mv.meta_analysis(y * s ** 0.5, v * s, method=method).tau2 / s == pytest.approx(
            base, rel=1e-10)
    if method == "PM":
        assert base == pytest.approx(0.054732, abs=5e-7)        # the review's value at s = 1


def test_d5_q_profile_bounds_are_equivariant_at_tiny_scales() -> None:
    y, v = np.array([0.1, 0.5, -0.3, 0.9, 0.2]), np.array([0.1, 0.2, 0.05, 0.3, 0.15])
    lo, hi = mv.meta_analysis(y, v).tau2_ci()
    lo_s, hi_s = mv.meta_analysis(y * 1e-6, v * 1e-12).tau2_ci()
    assert lo_s / 1e-12 == pytest.approx(lo, rel=1e-9, abs=1e-15)
    assert hi_s / 1e-12 == pytest.approx(hi, rel=1e-9)


# ----------------------------------------------------------------------------- D6

def test_d6_near_collinear_moderators_are_refused_naming_them() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=4)
    mods = np.column_stack([x, x + 1e-10 * rng.normal(size=4)])
    with pytest.raises(InputError, match=r"\['0', '1'\] are \(nearly\) linearly dependent"):
        mv.meta_analysis([-0.65, -0.17, 1.66, 0.66], [0.31, 0.19, 0.40, 0.10], mods=mods,
                         method="DL")


def test_d6_moderator_nearly_constant_is_dependent_on_the_intercept() -> None:
    import pandas as pd
    df = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4], "vi": [0.1] * 5,
                       "x": 5 + 1e-12 * np.arange(5)})
    with pytest.raises(InputError, match=r"'intrcpt', 'x'"):
        mv.meta_analysis("yi", "vi", data=df, mods="x")


@pytest.mark.parametrize("factor", [1e-8, 1e8])
def test_d6_fit_does_not_depend_on_the_units_of_a_moderator(factor: float) -> None:
    y = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.8])
    v = np.array([0.1, 0.2, 0.1, 0.3, 0.2, 0.1])
    x = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 7.0])
    a = mv.meta_analysis(y, v, mods=x, method="REML")
    b = mv.meta_analysis(y, v, mods=x * factor, method="REML")
    assert b.tau2 == pytest.approx(a.tau2, rel=1e-9, abs=1e-14)
    coef_a, coef_b = a.coefficients, b.coefficients
    assert coef_b["estimate"].iloc[1] * factor == pytest.approx(coef_a["estimate"].iloc[1],
                                                                rel=1e-9)
    assert coef_b["statistic"].tolist() == pytest.approx(coef_a["statistic"].tolist(), rel=1e-9)


def test_d6_moderator_of_unrepresentable_magnitude_is_refused() -> None:
    x = np.array([1.0, 2.0, 4.0, 3.0, 5.0]) * 1e200
    with pytest.raises(InputError, match="moderator '0' has values of magnitude"):
        mv.meta_analysis([0.1, 0.3, 0.2, 0.5, 0.4], [0.1] * 5, mods=x)


# ----------------------------------------------------------------------------- D7

@pytest.mark.parametrize("level", [95, -0.5, "0.9", 0, 1, float("nan"), True])
def test_d7_tau2_ci_and_heterogeneity_ci_validate_level(level: object) -> None:
    r = mv.meta_analysis([0.1, 0.5, 0.9], [0.1, 0.1, 0.1])
    with pytest.raises(InputError, match="field 'level'"):
        r.tau2_ci(level=level)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="field 'level'"):
        r.heterogeneity_ci(level=level)  # type: ignore[arg-type]


def test_d7_percentage_level_gets_a_hint_and_numpy_levels_work() -> None:
    r = mv.meta_analysis([0.1, 0.5, 0.9], [0.1, 0.1, 0.1])
    with pytest.raises(InputError, match="not a percentage"):
        r.tau2_ci(level=95)
    assert r.tau2_ci(level=np.float64(0.9)) == r.tau2_ci(level=0.9)


# ----------------------------------------------------------------------------- D8

@pytest.mark.parametrize("n", [1e5, 1e9, 5e14, 5e15, 1e100])
def test_d8_hedges_correction_is_stable_for_large_n(n: float) -> None:
    es = mv.effect_sizes("SMD", m1i=[1.0], sd1i=[1.0], n1i=[n], m2i=[0.0], sd2i=[1.0], n2i=[n])
    m = 2 * n - 2
    # c(m) = 1 - 3/(4m) + O(m^-2) (Hedges 1981); the O(m^-2) term is below 1e-10 here
    assert es.yi[0] == pytest.approx(1 - 3 / (4 * m), rel=1e-14, abs=2e-10)


def test_d8_hedges_correction_small_m_is_the_exact_gamma_ratio() -> None:
    from metaverdict.effects import hedges_correction
    m = np.array([2.0, 5.0, 10.0, 29.0, 30.0, 31.0, 100.0])
    exact = [math.exp(math.lgamma(x / 2) - 0.5 * math.log(x / 2) - math.lgamma((x - 1) / 2))
             for x in m]
    assert hedges_correction(m).tolist() == pytest.approx(exact, rel=1e-13)


# ----------------------------------------------------------------------------- D13

def test_d13_influence_with_a_singular_knha_vcov_does_not_raise() -> None:
    r = mv.meta_analysis([0.2, 0.2], [0.1, 0.2], method="DL", test="knha")
    assert r.se == 0.0                                        # Q = 0: s2w = 0, as metafor
    infl = mv.influence(r)
    # identical effects: every deletion leaves the estimate at 0.2 (no influence), while the
    # deleted fit (one study, z test) has a positive variance against the full fit's 0
    assert infl["rstudent"].tolist() == [0.0, 0.0]
    assert infl["cooks_distance"].tolist() == [0.0, 0.0]
    assert infl["cov_ratio"].tolist() == [np.inf, np.inf]
    assert infl["hat"].tolist() == pytest.approx([2 / 3, 1 / 3], rel=1e-12)
    rs = mv.rstandard(r)
    assert rs["z"].tolist() == [0.0, 0.0]


def test_d13_rstandard_and_influence_with_tiny_variances() -> None:
    r = mv.meta_analysis([0.3, 0.1, 0.2], [1e-12, 0.1, 0.2], method="REML")
    rs = mv.rstandard(r)
    assert np.isfinite(rs.to_numpy()).all()
    assert np.isfinite(mv.influence(r)[["rstudent", "hat", "cooks_distance"]].to_numpy()).all()


# ----------------------------------------------------------------------------- D16

@pytest.mark.parametrize("di", [2, 3])
def test_d16_mh_risk_difference_on_an_all_or_none_table(di: int) -> None:
    r = mv.mantel_haenszel("RD", ai=[3], bi=[0], ci=[0], di=[di])
    # p1 = 1, p2 = 0: RD = 1 and the Sato variance is exactly 0 (every term has a factor
    # a_i b_i or c_i d_i), so se = 0 whatever the rounding (was NaN for di = 2)
    assert r.estimate == 1.0
    assert r.se == 0.0


def test_d16_trim_and_fill_l0_se_k0_is_finite_on_identical_effects() -> None:
    r = mv.meta_analysis([0.3, 0.3, 0.3, 0.3], [0.1, 0.2, 0.3, 0.4], method="DL")
    t = mv.trim_and_fill(r, side="left")
    # no positive centred effect: S_r = 0, k0 = -k(k+1)/(2k-1) < 0 -> 0, and the variance
    # polynomial is negative there, truncated at 0
    assert t.k0 == 0
    assert t.se_k0 == 0.0


# ----------------------------------------------------------------------------- D17

def test_d17_no_numpy_warning_on_extreme_data() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("DL", "REML", "GENQ", "HSk"):
            r = mv.meta_analysis([3.0, 0.0, 1.0, 2.0], [1e-12, 1e12, 1e-6, 1e6], method=method,
                                 test="knha")
            mv.leave_one_out(r)
            mv.cumulative(r)
            mv.influence(r)
            mv.rstandard(r)
            mv.baujat(r)


# ------------------------------------------------- found while fuzzing meta-regressions (D6, D13)

def test_knha_meta_regression_with_an_exact_fit_has_infinite_qm() -> None:
    # y = 1 + 2x exactly: residual Q = 0, so s2w = 0 and every variance is 0 (metafor's
    # infinite statistics); the omnibus test of the slope 2 != 0 is then infinite, p = 0
    r = mv.meta_analysis([1.0, 3.0, 5.0, 7.0], [0.1, 0.2, 0.1, 0.3], mods=[0.0, 1.0, 2.0, 3.0],
                         method="DL", test="knha")
    assert r.coefficients["estimate"].tolist() == pytest.approx([1.0, 2.0], rel=1e-12)
    assert r.qm == np.inf and r.qm_pvalue == 0.0


def test_influence_of_a_meta_regression_with_one_residual_df() -> None:
    # k = 3, p = 2: a deletion leaves k = p, no df for tau² (metafor's refit fails: NA)
    r = mv.meta_analysis([0.1, 0.4, 0.2], [0.1, 0.2, 0.3], mods=[1.0, 2.0, 4.0], method="DL")
    infl = mv.influence(r)
    assert infl["tau2_deleted"].isna().all()
    assert np.isfinite(infl["hat"]).all()


def test_common_effect_pseudo_r2_with_rounded_identical_effects() -> None:
    r = mv.meta_analysis(np.full(5, 0.3), [0.1, 0.2, 0.3, 0.1, 0.2],
                         mods=[1.0, 2.0, 4.0, 3.0, 5.0], method="EE")
    assert r.r2 == 0.0
