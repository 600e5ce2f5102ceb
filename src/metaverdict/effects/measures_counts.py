"""Kernels of the count measures: 2x2 tables, two-group and one-group person-time data, and
single proportions (metafor's ``escalc`` formulas; see the ``escalc`` help page of metafor).

A 2x2 table has ``ai``, ``ci`` events and ``bi``, ``di`` non-events in groups 1 and 2 (for the
paired measures ``MP*``: the four cells of the pre/post or matched-pairs table). All inputs are
counts after the continuity correction.

References
----------
Yule, G. U. (1912). On the methods of measuring association between two attributes. Journal of
the Royal Statistical Society, 75(6), 579-652 (Q, Y and the variance of phi, p. 593, 603).
Sanchez-Meca, J., Marin-Martinez, F., & Chacon-Moscoso, S. (2003). Effect-size indices for
dichotomized outcomes in meta-analysis. Psychological Methods, 8(4), 448-467 (PBIT, OR2D).
Kirk, D. B. (1973). On the numerical approximation of the bivariate normal (tetrachoric)
correlation coefficient. Psychometrika, 38(2), 259-268 (RTET as a maximum-likelihood estimate).
Owen, D. B. (1956). Tables for computing bivariate normal probabilities. Annals of Mathematical
Statistics, 27(4), 1075-1090 (the bivariate normal CDF through Owen's T function).
Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the square
root. Annals of Mathematical Statistics, 21(4), 607-611.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri, owens_t
from scipy.stats import norm

from metaverdict.effects._base import (
    Arrays,
    FloatArray,
    Options,
    by_vtype,
    study_mean,
    to_z_scale,
)


def _cells(x: Arrays) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    return x["ai"], x["bi"], x["ci"], x["di"]


def _risks(x: Arrays) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``p1, p2, n1, n2`` of a 2x2 table."""
    a, b, c, d = _cells(x)
    n1, n2 = a + b, c + d
    return a / n1, c / n2, n1, n2


def _average_risks(x: Arrays) -> tuple[FloatArray, FloatArray]:
    """Sample-size weighted mean risks over the studies (for ``vtype="AV"``)."""
    p1, p2, n1, n2 = _risks(x)
    return study_mean(p1, n1), study_mean(p2, n2)


# --- 2x2 tables ---------------------------------------------------------------------------------
def odds_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = _cells(x)
    n1, n2 = a + b, c + d
    return np.log(a / b) - np.log(c / d), by_vtype(
        o, LS=lambda: 1 / a + 1 / b + 1 / c + 1 / d,
        AV=lambda: _or_average(x, n1, n2))


def _or_average(x: Arrays, n1: FloatArray, n2: FloatArray) -> FloatArray:
    q1, q2 = _average_risks(x)
    return 1 / (q1 * (1 - q1) * n1) + 1 / (q2 * (1 - q2) * n2)


def risk_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, _, c, _ = _cells(x)
    p1, p2, n1, n2 = _risks(x)

    def average() -> FloatArray:
        q1, q2 = _average_risks(x)
        return (1 - q1) / (q1 * n1) + (1 - q2) / (q2 * n2)

    return np.log(p1) - np.log(p2), by_vtype(
        o, LS=lambda: 1 / a - 1 / n1 + 1 / c - 1 / n2, AV=average)


def risk_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p1, p2, n1, n2 = _risks(x)

    def average() -> FloatArray:
        q1, q2 = _average_risks(x)
        return q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2

    return p1 - p2, by_vtype(
        o, LS=lambda: p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2,
        UB=lambda: p1 * (1 - p1) / (n1 - 1) + p2 * (1 - p2) / (n2 - 1), AV=average)


def peto(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = _cells(x)
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, nonevents = a + c, b + d
    expected = events * n1 / n
    hyper_var = events * nonevents * n1 * n2 / (n**2 * (n - 1))
    return (a - expected) / hyper_var, 1 / hyper_var


def arcsine_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p1, p2, n1, n2 = _risks(x)
    return np.arcsin(np.sqrt(p1)) - np.arcsin(np.sqrt(p2)), 1 / (4 * n1) + 1 / (4 * n2)


def phi(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """Phi coefficient; ``vtype`` "ST" (stratified: fixed group sizes) or "LS"/"CS"
    (cross-sectional sampling, Yule 1912, p. 603)."""
    a, b, c, d = _cells(x)
    p1, p2, n1, n2 = _risks(x)
    n = n1 + n2
    yi = (a * d - b * c) / np.sqrt(n1 * n2 * (a + c) * (b + d))

    def stratified() -> FloatArray:
        q1, q2 = 1 - p1, 1 - p2
        mix = p2 * q1 + p1 * q2
        num = (4 * n1**3 * p1**2 * p2 * q1**2 * q2 + 4 * n2**3 * p1 * p2**2 * q1 * q2**2
               + n1 * n2**2 * p2 * q2 * mix * (p2 * q1 + p1 * (4 * q1 + q2))
               + n1**2 * n2 * p1 * q1 * mix * (p1 * q2 + p2 * (q1 + 4 * q2)))
        return n**2 * num / (4 * (a + c) ** 3 * (b + d) ** 3)

    def cross_sectional() -> FloatArray:
        r1, r2, c1, c2 = n1 / n, n2 / n, (a + c) / n, (b + d) / n
        skew = (r1 - r2) * (c1 - c2) / np.sqrt(r1 * r2 * c1 * c2)
        return (1 - yi**2 + yi * (1 + yi**2 / 2) * skew
                - 0.75 * yi**2 * ((r1 - r2) ** 2 / (r1 * r2) + (c1 - c2) ** 2 / (c1 * c2))) / n

    return yi, by_vtype(o, ST=stratified, LS=cross_sectional, CS=cross_sectional)


def phi_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return to_z_scale(*phi(x, o))


def yule_q(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = _cells(x)
    odds = (a / b) / (c / d)
    yi = (odds - 1) / (odds + 1)
    return yi, 0.25 * (1 - yi**2) ** 2 * (1 / a + 1 / b + 1 / c + 1 / d)


def yule_y(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = _cells(x)
    root = np.sqrt((a / b) / (c / d))
    yi = (root - 1) / (root + 1)
    return yi, (1 - yi**2) ** 2 * (1 / a + 1 / b + 1 / c + 1 / d) / 16


def probit_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p1, p2, n1, n2 = _risks(x)
    z1, z2 = ndtri(p1), ndtri(p2)
    return z1 - z2, 2 * np.pi * (p1 * (1 - p1) * np.exp(z1**2) / n1
                                 + p2 * (1 - p2) * np.exp(z2**2) / n2)


def logistic_d(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """log OR rescaled to an SMD by the logistic distribution: ``sqrt(3)/pi * ln OR``."""
    yi, vi = odds_ratio(x, o)
    return np.sqrt(3) / np.pi * yi, 3 / np.pi**2 * vi


def normal_d(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """log OR rescaled to an SMD by the Cox (normal) method: ``ln OR / 1.65``."""
    yi, vi = odds_ratio(x, o)
    return yi / 1.65, vi / 1.65**2


# --- paired (matched or pre/post) 2x2 tables ------------------------------------------------------
def _paired(x: Arrays) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    a, b, c, d = _cells(x)
    n = a + b + c + d
    return b / n, c / n, (a + b) / n, (a + c) / n, n


def paired_risk_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p12, p21, p1, p2, n = _paired(x)
    return p1 - p2, (p12 * (1 - p12) + 2 * p12 * p21 + p21 * (1 - p21)) / n


def paired_risk_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p12, p21, p1, p2, n = _paired(x)
    return np.log(p1) - np.log(p2), (p12 + p21) / (n * p1 * p2)


def paired_odds_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p12, p21, p1, p2, n = _paired(x)
    yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
    return yi, ((p12 * (1 - p12) + p21 * (1 - p21) + 2 * p12 * p21)
                / (n * p1 * (1 - p1) * p2 * (1 - p2)))


def marginal_odds_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    r"""MPORM: the log odds ratio of a paired study's marginal table (rows: the two
    treatments, a + b = c + d = the n pairs) with the correlation :math:`r` (phi coefficient)
    of the pairs' outcomes, which the marginal table does not show (metafor ``MPORM``):
    :math:`v = 1/a + 1/b + 1/c + 1/d - 2\,\mathrm{Cov}`, where the covariance of the two
    log odds is :math:`r\,n/\sqrt{abcd}` (:math:`\mathrm{Var}\,\mathrm{logit}\,\hat p_1
    = n/(ab)` and so on), with n = (a + b + c + d)/2 rounded to an integer as metafor does."""
    a, b, c, d = _cells(x)
    n = np.round((a + b + c + d) / 2)
    return np.log(a / b) - np.log(c / d), (1 / a + 1 / b + 1 / c + 1 / d
                                           - 2 * x["ri"] * n / np.sqrt(a * b * c * d))


def conditional_odds_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    b, c = x["bi"], x["ci"]
    return np.log(b) - np.log(c), 1 / b + 1 / c


def paired_peto(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    b, c = x["bi"], x["ci"]
    hyper_var = (b + c) / 4
    return (b - (b + c) / 2) / hyper_var, 1 / hyper_var


# --- genotype counts: ai, bi, ci people with 0, 1, 2 copies of an allele ------------------------
def excess_heterozygosity(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """REH: log relative excess heterozygosity ``ln(p1/(2 sqrt(p0 p2)))``;
    ``vi = ((1 - p1)/(4 p0 p2) + 1/p1)/n``."""
    n = x["ai"] + x["bi"] + x["ci"]
    p0, p1, p2 = x["ai"] / n, x["bi"] / n, x["ci"] / n
    return np.log(p1) - np.log(2 * np.sqrt(p0 * p2)), ((1 - p1) / (4 * p0 * p2) + 1 / p1) / n


# --- tetrachoric correlation --------------------------------------------------------------------
#: metafor's bound on the tetrachoric correlation (``maxcor``).
MAX_TETRACHORIC = 0.9999


def bivariate_normal_cdf(h: float, k: float, rho: float) -> float:
    """``P(X <= h, Y <= k)`` for standard bivariate normal ``X, Y`` with correlation ``rho``,
    exactly through Owen's (1956) T function."""
    s = np.sqrt(1 - rho * rho)
    h = h if h != 0 else 1e-300
    k = k if k != 0 else 1e-300
    beta = 0.0 if h * k > 0 else 0.5
    return float(0.5 * (ndtr(h) + ndtr(k)) - owens_t(h, (k - rho * h) / (h * s))
                 - owens_t(k, (h - rho * k) / (k * s)) - beta)


def _tetrachoric_one(a: float, b: float, c: float, d: float) -> tuple[float, float]:
    n = a + b + c + d
    if min(a + b, c + d, a + c, b + d) == 0:
        return 0.0, np.inf
    if b == 0 and c == 0:
        return 1.0, 0.0
    if a == 0 and d == 0:
        return -1.0, 0.0
    h, k = float(ndtri((a + c) / n)), float(ndtri((a + b) / n))

    def excess(rho: float) -> float:
        return bivariate_normal_cdf(h, k, rho) - a / n

    lo, hi = -MAX_TETRACHORIC, MAX_TETRACHORIC
    rho = lo if excess(lo) >= 0 else hi if excess(hi) <= 0 else brentq(excess, lo, hi,
                                                                       xtol=1e-14, rtol=1e-14)
    vi = _tetrachoric_variance(a, b, c, d, h, k, rho)
    if b == 0 or c == 0:
        rho = 1.0
    if a == 0 or d == 0:
        rho = -1.0
    return rho, vi


def _tetrachoric_variance(a: float, b: float, c: float, d: float, h: float, k: float,
                          rho: float) -> float:
    """``[I^-1]_rho,rho`` of the three-parameter (rho, two thresholds) multinomial model at its
    maximum, ``I = n sum_j grad p_j grad p_j' / p_j`` (the observed information there)."""
    s = np.sqrt(1 - rho * rho)
    pa = bivariate_normal_cdf(h, k, rho)
    dens = np.exp(-(h * h - 2 * rho * h * k + k * k) / (2 * s * s)) / (2 * np.pi * s)
    dh, dk = norm.pdf(h), norm.pdf(k)
    ga = np.array([dens, dh * ndtr((k - rho * h) / s), dk * ndtr((h - rho * k) / s)])
    grads = [ga, np.array([0.0, 0.0, dk]) - ga, np.array([0.0, dh, 0.0]) - ga,
             ga - np.array([0.0, dh, dk])]
    probs = [pa, ndtr(k) - pa, ndtr(h) - pa, 1 - ndtr(h) - ndtr(k) + pa]
    n = a + b + c + d
    info = n * sum(np.outer(g, g) / p for g, p in zip(grads, probs))
    try:
        return float(np.linalg.inv(info)[0, 0])
    except np.linalg.LinAlgError:
        return np.nan


def tetrachoric(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    """Maximum-likelihood tetrachoric correlation and its inverse-information variance (metafor
    optimises the same likelihood numerically; the estimate is the root of
    ``Phi2(h, k; rho) = a/n`` at the marginal thresholds)."""
    a, b, c, d = (np.asarray(v, dtype=np.float64) for v in _cells(x))
    yi, vi = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    for idx in np.ndindex(a.shape):
        cells = (float(a[idx]), float(b[idx]), float(c[idx]), float(d[idx]))
        if all(np.isfinite(cells)):
            yi[idx], vi[idx] = _tetrachoric_one(*cells)
    return yi, vi


def tetrachoric_z(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return to_z_scale(*tetrachoric(x, o))


# --- two-group person-time data -------------------------------------------------------------------
def rate_ratio(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x["x1i"], x["x2i"]
    return np.log(x1 / x["t1i"]) - np.log(x2 / x["t2i"]), 1 / x1 + 1 / x2


def rate_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    t1, t2 = x["t1i"], x["t2i"]
    r1, r2 = x["x1i"] / t1, x["x2i"] / t2
    return r1 - r2, r1 / t1 + r2 / t2


def sqrt_rate_difference(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    t1, t2 = x["t1i"], x["t2i"]
    return (np.sqrt(x["x1i"] / t1) - np.sqrt(x["x2i"] / t2)), 1 / (4 * t1) + 1 / (4 * t2)


# --- one-group person-time data (xi events in ti person-time) ------------------------------------
def rate(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    t = x["ti"]
    r = x["xi"] / t
    return r, r / t


def log_rate(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return np.log(x["xi"] / x["ti"]), 1 / x["xi"]


def sqrt_rate(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    return np.sqrt(x["xi"] / x["ti"]), 1 / (4 * x["ti"])


def freeman_tukey_rate(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    t = x["ti"]
    r = x["xi"] / t
    return 0.5 * (np.sqrt(r) + np.sqrt(r + 1 / t)), 1 / (4 * t)


# --- single proportions: xi events, mi non-events ------------------------------------------------
def _proportion(x: Arrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = x["xi"] + x["mi"]
    p = x["xi"] / n
    return p, n, study_mean(p, n)


def proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p, n, pbar = _proportion(x)
    return p, by_vtype(o, LS=lambda: p * (1 - p) / n, UB=lambda: p * (1 - p) / (n - 1),
                       AV=lambda: pbar * (1 - pbar) / n)


def log_proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p, n, pbar = _proportion(x)
    return np.log(p), by_vtype(o, LS=lambda: 1 / x["xi"] - 1 / n, AV=lambda: 1 / (pbar * n) - 1 / n)


def logit_proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p, n, pbar = _proportion(x)
    return np.log(x["xi"] / x["mi"]), by_vtype(
        o, LS=lambda: 1 / x["xi"] + 1 / x["mi"],
        AV=lambda: 1 / (pbar * n) + 1 / ((1 - pbar) * n))


def probit_proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p, n, _ = _proportion(x)
    z = ndtri(p)
    return z, 2 * np.pi * p * (1 - p) * np.exp(z**2) / n


def arcsine_proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    p, n, _ = _proportion(x)
    return np.arcsin(np.sqrt(p)), 1 / (4 * n)


def freeman_tukey_proportion(x: Arrays, o: Options) -> tuple[FloatArray, FloatArray]:
    e = x["xi"]
    n = e + x["mi"]
    yi = 0.5 * (np.arcsin(np.sqrt(e / (n + 1))) + np.arcsin(np.sqrt((e + 1) / (n + 1))))
    return yi, 1 / (4 * n + 2)
