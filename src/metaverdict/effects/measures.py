"""The effect-size measures of metafor's ``escalc()``: one table, one formula per measure.

Every kernel is elementwise, so it works on arrays of any shape (a leading batch axis
included). Kernels take the *prepared* inputs (counts after the continuity correction, 2x2
tables completed to ``ai, bi, ci, di``) and return ``(yi, vi)``; input checking lives in
:mod:`metaverdict.effects.escalc`.

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48 (and the ``escalc`` help page of metafor 3.8).
Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
estimators. Journal of Educational Statistics, 6(2), 107-128.
Hedges, L. V., Gurevitch, J., & Curtis, P. S. (1999). The meta-analysis of response ratios in
experimental ecology. Ecology, 80(4), 1150-1156.
Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the square
root. Annals of Mathematical Statistics, 21(4), 607-611.
Nakagawa, S., Poulin, R., Mengersen, K., et al. (2015). Meta-analysis of variation: ecological
and evolutionary applications and beyond. Methods in Ecology and Evolution, 6(2), 143-152.
Yusuf, S., Peto, R., et al. (1985). Beta blockade during and after myocardial infarction.
Progress in Cardiovascular Diseases, 27(5), 335-371.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

FloatArray = npt.NDArray[np.float64]
Arrays = dict[str, FloatArray]
Kernel = Callable[[Arrays], tuple[FloatArray, FloatArray]]

#: Inputs of each family of measures (alternatives: a 2x2 table may give n1i/n2i instead of
#: bi/di, a proportion mi (non-events) instead of ni).
FAMILY_FIELDS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "ci", "di", "n1i", "n2i"),
    "rates": ("x1i", "t1i", "x2i", "t2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "cor": ("ri", "ni"),
    "pcor": ("ti", "ni", "mi"),
    "prop": ("xi", "ni", "mi"),
}


@dataclass(frozen=True)
class Measure:
    """One effect-size measure: its family of inputs, formula and continuity-correction default.

    ``default_add`` is the ``add`` used when the caller gives none (metafor: 1/2 for count
    measures, 0 for the Freeman-Tukey transformation); ``None`` means no correction applies.
    """

    code: str
    family: str
    description: str
    kernel: Kernel
    default_add: float | None = None


#: From this many degrees of freedom on, :func:`hedges_correction` uses its asymptotic series.
HEDGES_SERIES_FROM = 30.0


def hedges_correction(m: FloatArray) -> FloatArray:
    """Exact small-sample bias correction of Hedges (1981).

    .. math:: c(m) = \\exp\\{\\ln\\Gamma(m/2) - \\tfrac12\\ln(m/2) - \\ln\\Gamma((m-1)/2)\\},

    with ``m = n1 + n2 - 2`` degrees of freedom (approximately ``1 - 3/(4m - 1)``).

    The difference of two log-gamma values of size ~m log m cancels for large m (relative
    error 4e-6 at m = 2e9, nonsense from m ~ 1e15), so from ``m >=`` :data:`HEDGES_SERIES_FROM`
    the logarithm is the asymptotic series of :math:`\\ln\\Gamma(z+\\tfrac12) - \\ln\\Gamma(z)`,
    :math:`z = (m-1)/2`: :math:`\\ln c = -\\tfrac12\\ln(1 + \\tfrac1{2z}) - \\tfrac1{8z}
    + \\tfrac1{192z^3} - \\tfrac1{640z^5} + \\tfrac{17}{14336z^7} - \\tfrac{31}{18432z^9}`,
    accurate to 1e-15 there (the exact formula is used below, as metafor does).
    """
    m = np.asarray(m, dtype=np.float64)
    big = m >= HEDGES_SERIES_FROM
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(big, (m - 1) / 2, HEDGES_SERIES_FROM)
        iz = 1 / z
        iz2 = iz * iz
        log_series = (-0.5 * np.log1p(0.5 * iz)
                      - iz * (1 / 8 - iz2 * (1 / 192 - iz2 * (1 / 640 - iz2 * (
                          17 / 14336 - iz2 * 31 / 18432)))))
        small = np.where(big, HEDGES_SERIES_FROM, m)
        log_exact = gammaln(small / 2) - 0.5 * np.log(small / 2) - gammaln((small - 1) / 2)
    c: FloatArray = np.exp(np.where(big, log_series, log_exact))
    return c


def pooled_sd_kernel(sd1: FloatArray, n1: FloatArray, sd2: FloatArray,
                     n2: FloatArray) -> FloatArray:
    """Pooled standard deviation ``sqrt(((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2))``."""
    return np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def _fisher_z(r: FloatArray) -> FloatArray:
    return 0.5 * np.log((1 + r) / (1 - r))


# --- 2x2 tables: ai, ci events and bi, di non-events in groups 1 and 2 ------------------------
def _or(x: Arrays) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = x["ai"], x["bi"], x["ci"], x["di"]
    return np.log(a / b) - np.log(c / d), 1 / a + 1 / b + 1 / c + 1 / d


def _rr(x: Arrays) -> tuple[FloatArray, FloatArray]:
    a, c, n1, n2 = x["ai"], x["ci"], x["ai"] + x["bi"], x["ci"] + x["di"]
    return np.log(a / n1) - np.log(c / n2), 1 / a - 1 / n1 + 1 / c - 1 / n2


def _rd(x: Arrays) -> tuple[FloatArray, FloatArray]:
    n1, n2 = x["ai"] + x["bi"], x["ci"] + x["di"]
    p1, p2 = x["ai"] / n1, x["ci"] / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _peto(x: Arrays) -> tuple[FloatArray, FloatArray]:
    a, b, c, d = x["ai"], x["bi"], x["ci"], x["di"]
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, nonevents = a + c, b + d
    expected = events * n1 / n
    hyper_var = events * nonevents * n1 * n2 / (n**2 * (n - 1))
    return (a - expected) / hyper_var, 1 / hyper_var


# --- two-group person-time data -----------------------------------------------------------------
def _irr(x: Arrays) -> tuple[FloatArray, FloatArray]:
    x1, x2 = x["x1i"], x["x2i"]
    return np.log(x1 / x["t1i"]) - np.log(x2 / x["t2i"]), 1 / x1 + 1 / x2


# --- two-group means and SDs ----------------------------------------------------------------------
def _md(x: Arrays) -> tuple[FloatArray, FloatArray]:
    return x["m1i"] - x["m2i"], x["sd1i"] ** 2 / x["n1i"] + x["sd2i"] ** 2 / x["n2i"]


def _smd(x: Arrays) -> tuple[FloatArray, FloatArray]:
    n1, n2 = x["n1i"], x["n2i"]
    d = (x["m1i"] - x["m2i"]) / pooled_sd_kernel(x["sd1i"], n1, x["sd2i"], n2)
    g = hedges_correction(n1 + n2 - 2) * d
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def _rom(x: Arrays) -> tuple[FloatArray, FloatArray]:
    m1, m2 = x["m1i"], x["m2i"]
    vi = x["sd1i"] ** 2 / (x["n1i"] * m1**2) + x["sd2i"] ** 2 / (x["n2i"] * m2**2)
    return np.log(m1 / m2), vi


def _vr(x: Arrays) -> tuple[FloatArray, FloatArray]:
    a, b = 1 / (2 * (x["n1i"] - 1)), 1 / (2 * (x["n2i"] - 1))
    return np.log(x["sd1i"] / x["sd2i"]) + a - b, a + b


# --- correlations ---------------------------------------------------------------------------------
def _cor(x: Arrays) -> tuple[FloatArray, FloatArray]:
    r = x["ri"]
    return r.copy(), (1 - r**2) ** 2 / (x["ni"] - 1)


def _zcor(x: Arrays) -> tuple[FloatArray, FloatArray]:
    return _fisher_z(x["ri"]), 1 / (x["ni"] - 3)


def _zpcor(x: Arrays) -> tuple[FloatArray, FloatArray]:
    df = x["ni"] - x["mi"] - 1
    t = x["ti"]
    return _fisher_z(t / np.sqrt(t**2 + df)), 1 / df


# --- single proportions: xi events, mi non-events -------------------------------------------------
def _plo(x: Arrays) -> tuple[FloatArray, FloatArray]:
    e, ne = x["xi"], x["mi"]
    return np.log(e / ne), 1 / e + 1 / ne


def _pr(x: Arrays) -> tuple[FloatArray, FloatArray]:
    n = x["xi"] + x["mi"]
    p = x["xi"] / n
    return p, p * (1 - p) / n


def _pft(x: Arrays) -> tuple[FloatArray, FloatArray]:
    e = x["xi"]
    n = e + x["mi"]
    yi = 0.5 * (np.arcsin(np.sqrt(e / (n + 1))) + np.arcsin(np.sqrt((e + 1) / (n + 1))))
    return yi, 1 / (4 * n + 2)


_TABLE: tuple[tuple[str, str, str, Kernel, float | None], ...] = (
    ("OR", "table", "log odds ratio: ln(ad/bc), vi = 1/a + 1/b + 1/c + 1/d", _or, 0.5),
    ("RR", "table", "log risk ratio: ln(p1/p2), vi = 1/a - 1/n1 + 1/c - 1/n2", _rr, 0.5),
    ("RD", "table", "risk difference: p1 - p2, vi = p1(1-p1)/n1 + p2(1-p2)/n2", _rd, 0.5),
    ("PETO", "table", "Peto log odds ratio: (a - E)/V, vi = 1/V (hypergeometric E, V)", _peto, 0.5),
    ("IRR", "rates", "log incidence rate ratio: ln((x1/t1)/(x2/t2)), vi = 1/x1 + 1/x2", _irr, 0.5),
    ("MD", "means", "mean difference: m1 - m2, vi = sd1^2/n1 + sd2^2/n2", _md, None),
    ("SMD", "means",
     "Hedges' g: c(m)(m1 - m2)/sd_pooled, vi = 1/n1 + 1/n2 + g^2/(2(n1+n2))", _smd, None),
    ("ROM", "means",
     "log ratio of means: ln(m1/m2), vi = sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2)", _rom, None),
    ("VR", "means",
     "log variability ratio: ln(sd1/sd2) + 1/(2(n1-1)) - 1/(2(n2-1)), "
     "vi = 1/(2(n1-1)) + 1/(2(n2-1)) (Nakagawa et al. 2015)", _vr, None),
    ("COR", "cor", "raw correlation: r, vi = (1 - r^2)^2/(n - 1)", _cor, None),
    ("ZCOR", "cor", "Fisher's z: atanh(r), vi = 1/(n - 3)", _zcor, None),
    ("ZPCOR", "pcor",
     "Fisher's z of the partial correlation t/sqrt(t^2 + n - m - 1), vi = 1/(n - m - 1)",
     _zpcor, None),
    ("PLO", "prop", "logit proportion: ln(x/(n-x)), vi = 1/x + 1/(n-x)", _plo, 0.5),
    ("PR", "prop", "raw proportion: x/n, vi = p(1-p)/n", _pr, 0.5),
    ("PFT", "prop", "Freeman-Tukey double arcsine, vi = 1/(4n + 2)", _pft, 0.0),
)

#: All supported measures, keyed by metafor's code.
MEASURES: dict[str, Measure] = {row[0]: Measure(*row) for row in _TABLE}
