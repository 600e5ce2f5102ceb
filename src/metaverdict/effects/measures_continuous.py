"""Kernels of the measures for quantitative outcomes: two independent groups (means and SDs),
one group (mean and SD), pre-post or matched designs (two means and SDs of the same ``ni``
people with their correlation ``ri``), and Cronbach's alpha (metafor's ``escalc`` formulas).

References
----------
Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
estimators. Journal of Educational Statistics, 6(2), 107-128.
Bonett, D. G. (2008). Confidence intervals for standardized linear contrasts of means.
Psychological Methods, 13(2), 99-109 (SMDH eq. 8, SMD1H eq. 12, SMCRH eq. 13, SMCRPH eq. 10).
Becker, B. J. (1988). Synthesizing standardized mean-change measures. British Journal of
Mathematical and Statistical Psychology, 41(2), 257-278 (SMCR, eq. 13).
Gibbons, R. D., Hedeker, D. R., & Davis, J. M. (1993). Estimation of effect size from a series
of experiments involving paired comparisons. Journal of Educational Statistics, 18(3), 271-279.
Morris, S. B. (2000). Distribution of the standardized mean change effect size for
meta-analysis on repeated measures. British Journal of Mathematical and Statistical Psychology,
53(1), 17-29.
Cousineau, D. (2020). Approximating the distribution of Cohen's d_p in within-subject designs.
The Quantitative Methods for Psychology, 16(4), 418-421 (SMCRP).
Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of response ratios in
experimental ecology. Ecology, 80(4), 1150-1156.
Lajeunesse, M. J. (2011). On the meta-analysis of response ratios for studies with correlated
and multi-group designs. Ecology, 92(11), 2049-2055 (ROMC, eq. 6).
Lajeunesse, M. J. (2015). Bias and correction for the log response ratio in ecological
meta-analysis. Ecology, 96(8), 2056-2063 (ROM's second-order correction, eq. 8).
Nakagawa, S., Poulin, R., Mengersen, K., et al. (2015). Meta-analysis of variation: ecological
and evolutionary applications and beyond. Methods in Ecology and Evolution, 6(2), 143-152.
Tate, R. F. (1954). Correlation between a discrete and a continuous variable. Point-biserial
correlation. Annals of Mathematical Statistics, 25(3), 603-607 (RPB, vtype "CS").
Soper, H. E. (1914). On the probable error of the bi-serial expression for the correlation
coefficient. Biometrika, 10(2/3), 384-390 (RBIS).
Bonett, D. G. (2002). Sample size requirements for testing and estimating coefficient alpha.
Journal of Educational and Behavioral Statistics, 27(4), 335-340 (ABT).
Hakstian, A. R., & Whalen, T. E. (1976). A k-sample significance test for independent alpha
coefficients. Psychometrika, 41(2), 219-231 (AHW).
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import norm

from metaverdict.effects._base import (
    Arrays,
    FloatArray,
    Options,
    bias_factor,
    by_vtype,
    olkin_pratt,
    pooled_sd_kernel,
    study_mean,
    to_z_scale,
)


# --- two independent groups ----------------------------------------------------------------------
def mean_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    n1, n2 = x["n1i"], x["n2i"]
    return x["m1i"] - x["m2i"], by_vtype(
        o, LS=lambda: x["sd1i"] ** 2 / n1 + x["sd2i"] ** 2 / n2,
        UB=lambda: x["sd1i"] ** 2 / n1 + x["sd2i"] ** 2 / n2,
        HO=lambda: pooled_sd_kernel(x["sd1i"], n1, x["sd2i"], n2) ** 2 * (1 / n1 + 1 / n2))


def _hedges(x: Arrays, o: Options, one_group_sd: bool
            ) -> tuple[FloatArray, FloatArray]:
    """SMD and SMD1: standardized by the pooled SD (df n1+n2-2) or by group 2's (df n2-1)."""
    n1, n2 = x["n1i"], x["n2i"]
    if one_group_sd:
        m, sd, npi = n2 - 1, x["sd2i"], n2
    else:
        m, sd, npi = n1 + n2 - 2, pooled_sd_kernel(x["sd1i"], n1, x["sd2i"], n2), n1 + n2
    c = bias_factor(m, o)
    d = (x["m1i"] - x["m2i"]) / sd
    g = c * d
    return g, by_vtype(
        o, LS=lambda: 1 / n1 + 1 / n2 + g**2 / (2 * npi),
        LS2=lambda: c**2 * (1 / n1 + 1 / n2 + d**2 / (2 * npi)),
        UB=lambda: 1 / n1 + 1 / n2 + (1 - (m - 2) / (m * c**2)) * g**2,
        AV=lambda: 1 / n1 + 1 / n2 + study_mean(g, n1 + n2) ** 2 / (2 * npi))


def standardized_mean_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return _hedges(x, o, one_group_sd=False)


def glass_delta(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return _hedges(x, o, one_group_sd=True)


def smd_heteroscedastic(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMDH: standardized by ``sqrt((sd1^2 + sd2^2)/2)`` (Bonett 2008, eq. 8)."""
    n1, n2, v1, v2 = x["n1i"], x["n2i"], x["sd1i"] ** 2, x["sd2i"] ** 2
    c = bias_factor(n1 + n2 - 2, o)
    s2 = (v1 + v2) / 2
    g = c * (x["m1i"] - x["m2i"]) / np.sqrt(s2)

    def large_sample() -> FloatArray:
        vi = g**2 * (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) / (8 * s2**2) + (
            v1 / (n1 - 1) + v2 / (n2 - 1)) / s2
        return c**2 * vi if o.legacy else vi

    def large_sample_n() -> FloatArray:
        if o.legacy:    # metafor 3.8-1's LS2 (with sd^2 where later versions have sd^4)
            return (g**2 * (v1 / n1 + v2 / n2) / (8 * s2**2)
                    + (v1 / n1 + v2 / n2) / s2)
        return (v1 / n1 + v2 / n2) / s2 + g**2 * (v1**2 / n1 + v2**2 / n2) / (8 * s2**2)

    def large_sample_3() -> FloatArray:
        return (v1 / n1 + v2 / n2) / s2 + g**2 * (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) / (8 * s2**2)

    return g, by_vtype(o, LS=large_sample, LS2=large_sample_n, LS3=large_sample_3)


def glass_delta_heteroscedastic(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMD1H: standardized by group 2's SD, variance without homoscedasticity (Bonett 2008,
    eq. 12; metafor 3.8-1 had ``n`` where eq. 12 has ``n - 1``)."""
    n1, n2 = x["n1i"], x["n2i"]
    g = bias_factor(n2 - 1, o) * (x["m1i"] - x["m2i"]) / x["sd2i"]
    f1, f2 = (n1, n2) if o.legacy else (n1 - 1, n2 - 1)
    return g, (x["sd1i"] / x["sd2i"]) ** 2 / f1 + 1 / f2 + g**2 / (2 * f2)


def ratio_of_means(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """ROM: ``ln(m1/m2)``; with ``correct`` (metafor 5) plus Lajeunesse's (2015, eq. 8)
    second-order bias correction ``(sd1^2/(n1 m1^2) - sd2^2/(n2 m2^2))/2``."""
    m1, m2, s1, s2, n1, n2 = x["m1i"], x["m2i"], x["sd1i"], x["sd2i"], x["n1i"], x["n2i"]
    cv1, cv2 = s1 / m1, s2 / m2
    yi = np.log(m1 / m2)
    if o.correct and not o.legacy:
        yi = yi + (cv1**2 / n1 - cv2**2 / n2) / 2

    def pooled() -> FloatArray:
        sp = pooled_sd_kernel(s1, n1, s2, n2)
        return sp**2 / (n1 * m1**2) + sp**2 / (n2 * m2**2)

    def both_average() -> FloatArray:
        ok = np.isfinite(cv1) & np.isfinite(cv2) & np.isfinite(n1) & np.isfinite(n2)
        num = np.sum(np.where(ok, n1 * cv1 + n2 * cv2, 0.0), axis=-1, keepdims=True)
        cv = num / np.sum(np.where(ok, n1 + n2, 0.0), axis=-1, keepdims=True)
        avho: FloatArray = cv**2 * (1 / n1 + 1 / n2)
        return avho

    return yi, by_vtype(
        o, LS=lambda: cv1**2 / n1 + cv2**2 / n2, HO=pooled,
        AV=lambda: study_mean(cv1, n1) ** 2 / n1 + study_mean(cv2, n2) ** 2 / n2,
        AVHO=both_average)


def _log_sd_correction(n: FloatArray, o: Options) -> FloatArray:
    return 1 / (2 * (n - 1)) if o.correct else np.zeros_like(n)


def cv_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    m1, m2, s1, s2, n1, n2 = x["m1i"], x["m2i"], x["sd1i"], x["sd2i"], x["n1i"], x["n2i"]
    yi = (np.log(s1 / m1) + _log_sd_correction(n1, o)
          - np.log(s2 / m2) - _log_sd_correction(n2, o))
    return yi, (1 / (2 * (n1 - 1)) + s1**2 / (n1 * m1**2)
                + 1 / (2 * (n2 - 1)) + s2**2 / (n2 * m2**2))


def variability_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    n1, n2 = x["n1i"], x["n2i"]
    yi = (np.log(x["sd1i"] / x["sd2i"]) + _log_sd_correction(n1, o)
          - _log_sd_correction(n2, o))
    return yi, 1 / (2 * (n1 - 1)) + 1 / (2 * (n2 - 1))


def _cohen_d(x: Arrays) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Uncorrected d with the pooled SD, its df, and the group sizes."""
    n1, n2 = x["n1i"], x["n2i"]
    d = (x["m1i"] - x["m2i"]) / pooled_sd_kernel(x["sd1i"], n1, x["sd2i"], n2)
    return d, n1 + n2 - 2, n1, n2


def point_biserial(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    d, m, n1, n2 = _cohen_d(x)
    n = n1 + n2
    h = m / n1 + m / n2
    r = d / np.sqrt(d**2 + h)

    def stratified() -> FloatArray:
        return h**2 / (h + d**2) ** 3 * (1 / n1 + 1 / n2 + d**2 / (2 * n))

    return r, by_vtype(o, LS=stratified, ST=stratified,
                       CS=lambda: (1 - r**2) ** 2 * (n * r**2 / (4 * n1 * n2)
                                                     + (2 - 3 * r**2) / (2 * n)))


def point_biserial_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return to_z_scale(*point_biserial(x, o))


def biserial(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    d, m, n1, n2 = _cohen_d(x)
    n = n1 + n2
    rpb = d / np.sqrt(d**2 + m / n1 + m / n2)
    p1, p2 = n1 / n, n2 / n
    z = -ndtri(p1)
    f = norm.pdf(z)
    yi = np.sqrt(p1 * p2) / f * rpb
    yt = np.clip(yi, -1, 1)
    vi = (p1 * p2 / f**2 - (1.5 + (1 - p1 * z / f) * (1 + p2 * z / f)) * yt**2 + yt**4) / (n - 1)
    return yi, vi


def biserial_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return to_z_scale(*biserial(x, o))


def d_to_log_odds_logistic(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    d, _, n1, n2 = _cohen_d(x)
    return np.pi / np.sqrt(3) * d, np.pi**2 / 3 * (1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2)))


def d_to_log_odds_normal(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    d, _, n1, n2 = _cohen_d(x)
    return 1.65 * d, 1.65**2 * (1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2)))


# --- one group: mean mi, SD sdi, size ni ----------------------------------------------------------
def mean(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    sd, n = x["sdi"], x["ni"]
    return x["mi"].copy(), by_vtype(o, LS=lambda: sd**2 / n,
                                    HO=lambda: study_mean(sd**2, n - 1) / n)


def standardized_mean(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    n = x["ni"]
    yi = bias_factor(n - 1, o) * x["mi"] / x["sdi"]
    return yi, 1 / n + yi**2 / (2 * n)


def log_mean(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    m = x["mi"]
    return np.log(m), x["sdi"] ** 2 / (x["ni"] * m**2)


def log_cv(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    m, sd, n = x["mi"], x["sdi"], x["ni"]
    return (np.log(sd / m) + _log_sd_correction(n, o),
            1 / (2 * (n - 1)) + sd**2 / (n * m**2))


def log_sd(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    n = x["ni"]
    return np.log(x["sdi"]) + _log_sd_correction(n, o), 1 / (2 * (n - 1))


# --- pre-post / matched: means m1i, m2i, SDs sd1i, sd2i of ni people, correlation ri -------------
def _change_sd(x: Arrays) -> FloatArray:
    s1, s2 = x["sd1i"], x["sd2i"]
    return np.sqrt(s1**2 + s2**2 - 2 * x["ri"] * s1 * s2)


def mean_change(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return x["m1i"] - x["m2i"], _change_sd(x) ** 2 / x["ni"]


def smc_change_score(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMCC: standardized by the SD of the change scores (Gibbons et al. 1993)."""
    n = x["ni"]
    m = n - 1
    c = bias_factor(m, o)
    d = (x["m1i"] - x["m2i"]) / _change_sd(x)
    g = c * d
    return g, by_vtype(o, LS=lambda: 1 / n + g**2 / (2 * n),
                       LS2=lambda: c**2 * (1 / n + d**2 / (2 * n)),
                       UB=lambda: 1 / n + (1 - (m - 2) / (m * c**2)) * g**2)


def smc_raw_score(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMCR: standardized by the SD at the first time point sd1i (Becker 1988, eq. 13)."""
    n, r = x["ni"], x["ri"]
    m = n - 1
    c = bias_factor(m, o)
    d = (x["m1i"] - x["m2i"]) / x["sd1i"]
    g = c * d
    return g, by_vtype(
        o, LS=lambda: 2 * (1 - r) / n + g**2 / (2 * n),
        LS2=lambda: c**2 * (2 * (1 - r) / n + d**2 / (2 * n)),
        UB=lambda: 2 * (1 - olkin_pratt(r, n)) / n + (1 - (m - 2) / (m * c**2)) * g**2)


def smc_raw_heteroscedastic(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMCRH: as SMCR, variance without equal variances at the two time points (Bonett 2008,
    eq. 13; metafor 3.8-1 multiplied it by ``c(m)^2``)."""
    n = x["ni"]
    c = bias_factor(n - 1, o)
    g = c * (x["m1i"] - x["m2i"]) / x["sd1i"]
    ratio = _change_sd(x) ** 2 / x["sd1i"] ** 2

    def large_sample() -> FloatArray:
        vi = ratio / (n - 1) + g**2 / (2 * (n - 1))
        return c**2 * vi if o.legacy else vi

    return g, by_vtype(o, LS=large_sample, LS2=lambda: ratio / n + g**2 / (2 * n))


def _pooled_change(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """``g`` standardized by ``sqrt((sd1^2 + sd2^2)/2)`` with df ``2(n-1)/(1 + r^2)``, and that
    squared SD."""
    n, r = x["ni"], x["ri"]
    s2 = (x["sd1i"] ** 2 + x["sd2i"] ** 2) / 2
    c = bias_factor(2 * (n - 1) / (1 + r**2), o)
    return c * (x["m1i"] - x["m2i"]) / np.sqrt(s2), s2


def smc_raw_pooled(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMCRP: standardized by the average of the two variances (Cousineau 2020, eq. 2)."""
    n, r = x["ni"], x["ri"]
    g, _ = _pooled_change(x, o)
    return g, 2 * (1 - r) / n + g**2 * (1 + r**2) / (4 * n)


def smc_raw_pooled_heteroscedastic(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """SMCRPH: as SMCRP without equal variances (Bonett 2008, eq. 10)."""
    n, r, s1, s2 = x["ni"], x["ri"], x["sd1i"], x["sd2i"]
    g, sp2 = _pooled_change(x, o)
    spread = (s1**4 + s2**4 + 2 * r**2 * s1**2 * s2**2) / (8 * sp2**2)
    ratio = _change_sd(x) ** 2 / sp2
    return g, by_vtype(o, LS=lambda: (ratio + g**2 * spread) / (n - 1),
                       LS2=lambda: (ratio + g**2 * spread) / n)


def ratio_of_means_change(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    m1, m2, s1, s2, n = x["m1i"], x["m2i"], x["sd1i"], x["sd2i"], x["ni"]
    return np.log(m1 / m2), (s1**2 / (n * m1**2) + s2**2 / (n * m2**2)
                             - 2 * x["ri"] * s1 * s2 / (m1 * m2 * n))


def cv_ratio_change(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    m1, m2, s1, s2, n, r = x["m1i"], x["m2i"], x["sd1i"], x["sd2i"], x["ni"], x["ri"]
    return np.log(s1 / m1) - np.log(s2 / m2), (
        (1 - r**2) / (n - 1)
        + (m1**2 * s2**2 + m2**2 * s1**2 - 2 * m1 * m2 * r * s1 * s2) / (m1**2 * m2**2 * n))


def variability_ratio_change(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return np.log(x["sd1i"] / x["sd2i"]), (1 - x["ri"] ** 2) / (x["ni"] - 1)


# --- Cronbach's alpha ai of a scale with mi items in ni people ------------------------------------
def alpha_raw(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, m, n = x["ai"], x["mi"], x["ni"]
    return a.copy(), 2 * m * (1 - a) ** 2 / ((m - 1) * (n - 2))


def alpha_hakstian_whalen(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """``1 - (1 - alpha)^(1/3)`` (increasing in alpha, unlike the original
    ``(1 - alpha)^(1/3)``)."""
    a, m, n = x["ai"], x["mi"], x["ni"]
    root = np.cbrt(1 - a)
    return 1 - root, 18 * m * (n - 1) * root**2 / ((m - 1) * (9 * n - 11) ** 2)


def alpha_bonett(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """``-ln(1 - alpha)`` (Bonett 2002, sign flipped so it increases with alpha)."""
    a, m, n = x["ai"], x["mi"], x["ni"]
    return -np.log(1 - a), 2 * m / ((m - 1) * (n - 2))
