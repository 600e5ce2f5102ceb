"""Conversions reviewers need before :func:`~metaverdict.effects.effect_sizes`: standard errors
from confidence intervals or p-values, SDs from SEs, pooled SDs, and the mean and SD from a
median with quartiles and/or range.

Every function accepts scalars or array-likes (one entry per study; length-1 inputs are
broadcast) and returns a float for scalar input, else a NumPy array. Bad input raises
:class:`~metaverdict.errors.InputError` naming the row and the argument.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import integrate
from scipy.special import gammaln
from scipy.stats import norm

from metaverdict._results import ResultMixin
from metaverdict._validation import (
    as_float_array,
    check_bounds,
    check_finite,
    check_same_length,
    choice,
)
from metaverdict.effects.measures import pooled_sd_kernel
from metaverdict.errors import InputError, row_error

FloatArray = npt.NDArray[np.float64]
Number = float | FloatArray


def _inputs(**values: Any) -> tuple[dict[str, FloatArray], bool]:
    """1-d float arrays of a common length (length-1 inputs broadcast) and whether all were
    scalars."""
    scalar = all(np.ndim(v) == 0 for v in values.values())
    arrays = {k: as_float_array(v, k) for k, v in values.items()}
    k = max(len(a) for a in arrays.values())
    arrays = {name: (np.repeat(a, k) if len(a) == 1 else a) for name, a in arrays.items()}
    check_same_length(arrays)
    for name, a in arrays.items():
        check_finite(a, name)
    return arrays, scalar


def _out(value: FloatArray, scalar: bool) -> Number:
    return float(value[0]) if scalar else value


def _check_less(low: FloatArray, high: FloatArray, low_name: str, high_name: str,
                strict: bool = True) -> None:
    bad = np.flatnonzero(low >= high if strict else low > high)
    if bad.size:
        i = int(bad[0])
        raise row_error(None, i, high_name, f"must be {'>' if strict else '>='} {low_name} "
                        f"({low[i]:g}), got {high[i]:g}")


def _z(level: float) -> float:
    if not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise InputError(f"field 'level': the confidence level must lie in (0, 1), e.g. 0.95; "
                         f"got {level!r}")
    return float(norm.ppf(0.5 + level / 2))


#: The two-sided 95% normal quantile, 1.959964...
Z_975 = float(norm.ppf(0.975))


def smd_bound_from_p(p: float, n1: int, n2: int) -> float:
    """The |SMD| at which a two-sided z-test with ``var(d) ~ 1/n1 + 1/n2`` gives exactly P:

    .. math:: B = z_{1 - p/2} \\sqrt{1/n_1 + 1/n_2}

    A reported ``P <= p`` then implies ``|d| >= B`` and ``P > p`` implies ``|d| < B`` (the
    large-sample variance of d without its ``d^2 / (2 (n1 + n2))`` term, so for a t-test the
    true bound is slightly larger). It is a bound on the estimate, never an estimate.

    Raises
    ------
    InputError
        For ``p`` outside (0, 1) or arm sizes below 1.
    """
    if not 0 < p < 1:
        raise InputError(f"field 'p': must lie in (0, 1), got {p!r}")
    if n1 < 1 or n2 < 1:
        raise InputError(f"fields 'n1', 'n2': arm sizes must be at least 1, got {n1!r}, {n2!r}")
    return float(norm.ppf(1 - p / 2)) * float(np.sqrt(1 / n1 + 1 / n2))


def se_from_ci(lower: Any, upper: Any, level: float = 0.95, log_scale: bool = False) -> Number:
    """Standard error from a symmetric Wald confidence interval.

    .. math:: SE = \\frac{U - L}{2 z_{1-\\alpha/2}}, \\qquad z_{0.975} = 1.959964...

    For ratio measures (odds, risk, hazard ratios) reported on the natural scale, set
    ``log_scale=True``: the bounds are log-transformed first, giving the SE of the log ratio.

    Parameters
    ----------
    lower, upper : float or array-like
        Confidence limits (``upper > lower``; both ``> 0`` with ``log_scale``).
    level : float
        Confidence level of the interval, 0.95 for a 95% CI.
    log_scale : bool
        Take natural logs of the bounds first.

    References
    ----------
    Higgins, J. P. T., et al. (eds.) (2023). Cochrane Handbook for Systematic Reviews of
    Interventions, version 6.4, section 6.3.1.
    """
    z = _z(level)
    x, scalar = _inputs(lower=lower, upper=upper)
    lo, hi = x["lower"], x["upper"]
    _check_less(lo, hi, "lower", "upper")
    if log_scale:
        check_bounds(lo, "lower", lower=0, lower_strict=True)
        lo, hi = np.log(lo), np.log(hi)
    return _out((hi - lo) / (2 * z), scalar)


def variance_from_ci(lower: Any, upper: Any, level: float = 0.95,
                     log_scale: bool = False) -> Number:
    """Sampling variance ``SE^2`` from a confidence interval; see :func:`se_from_ci`.

    .. math:: v = \\left(\\frac{U - L}{2 z_{1-\\alpha/2}}\\right)^2
    """
    se = se_from_ci(lower, upper, level=level, log_scale=log_scale)
    return se**2


def se_from_pvalue(estimate: Any, p: Any, two_sided: bool = True) -> Number:
    """Standard error from an estimate and its z-test p-value.

    .. math:: SE = \\frac{|\\hat\\theta|}{z}, \\quad z = \\Phi^{-1}(1 - p/2)
              \\text{ (two-sided) or } \\Phi^{-1}(1 - p) \\text{ (one-sided)}.

    Valid for large-sample (Wald) tests; ratio estimates must be on the log scale.

    References
    ----------
    Altman, D. G., & Bland, J. M. (2011). How to obtain the confidence interval from a P value.
    BMJ, 343, d2090.
    """
    x, scalar = _inputs(estimate=estimate, p=p)
    upper = 1 if two_sided else 0.5
    check_bounds(x["p"], "p", lower=0, upper=upper, lower_strict=True, upper_strict=True)
    bad = np.flatnonzero(x["estimate"] == 0)
    if bad.size:
        raise row_error(None, int(bad[0]), "estimate", "must be non-zero (an estimate of 0 "
                        "carries no information about its standard error)")
    z = norm.isf(x["p"] / 2 if two_sided else x["p"])
    return _out(np.abs(x["estimate"]) / z, scalar)


def sd_from_se(se: Any, n: Any) -> Number:
    """Standard deviation of one group from the standard error of its mean: ``SD = SE * sqrt(n)``.

    References
    ----------
    Cochrane Handbook (2023), section 6.5.2.2.
    """
    x, scalar = _inputs(se=se, n=n)
    check_bounds(x["se"], "se", lower=0, lower_strict=True)
    check_bounds(x["n"], "n", lower=1)
    return _out(x["se"] * np.sqrt(x["n"]), scalar)


def pooled_sd(sd1: Any, n1: Any, sd2: Any, n2: Any) -> Number:
    """Pooled standard deviation of two groups (the denominator of Cohen's d and Hedges' g).

    .. math:: s_p = \\sqrt{\\frac{(n_1 - 1) s_1^2 + (n_2 - 1) s_2^2}{n_1 + n_2 - 2}}

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    """
    x, scalar = _inputs(sd1=sd1, n1=n1, sd2=sd2, n2=n2)
    for f in ("sd1", "sd2"):
        check_bounds(x[f], f, lower=0, lower_strict=True)
    for f in ("n1", "n2"):
        check_bounds(x[f], f, lower=1)
    _check_less(np.full_like(x["n1"], 2.0), x["n1"] + x["n2"], "2", "n1 + n2")
    return _out(pooled_sd_kernel(x["sd1"], x["n1"], x["sd2"], x["n2"]), scalar)


# --- mean and SD from the median ------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class MeanSD(ResultMixin):
    """Estimated sample mean and SD, with the scenario and the estimators used.

    ``scenario`` is ``"S1"`` (min, median, max), ``"S2"`` (q1, median, q3) or ``"S3"``
    (all five numbers); ``method`` names the mean and SD estimators with their papers.
    """

    mean: Number
    sd: Number
    method: str
    scenario: str

    _repr_fields = ("mean", "sd", "method", "scenario")


@cache
def _expected_range(n: int) -> float:
    """Expected range of ``n`` standard normal draws, ``int 1 - Phi^n - (1 - Phi)^n dx``
    (Wan et al. 2014, Table 1: e.g. 3.078 for n = 10)."""
    def f(x: float) -> float:
        tail: float = 1 - norm.cdf(x) ** n - norm.sf(x) ** n
        return tail
    integral: float = integrate.quad(f, 0, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return 2 * integral


@cache
def _expected_order_statistic(r: int, size: int) -> float:
    """Expected ``r``-th smallest of ``size`` standard normal draws."""
    log_coef = gammaln(size + 1) - gammaln(r) - gammaln(size - r + 1)

    def f(x: float) -> float:
        value: float = x * np.exp(log_coef + (r - 1) * norm.logcdf(x)
                                  + (size - r) * norm.logsf(x) + norm.logpdf(x))
        return value
    integral: float = integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return integral


def _xi(n: FloatArray) -> FloatArray:
    """Wan et al. (2014) xi(n): the exact expected range for n <= 50, else
    ``2 Phi^-1((n - 0.375)/(n + 0.25))``."""
    approx = 2 * norm.ppf((n - 0.375) / (n + 0.25))
    return np.array([_expected_range(int(m)) if m <= 50 else a for m, a in zip(n, approx)])


def _eta(n: FloatArray) -> FloatArray:
    """Wan et al. (2014) eta(n): for n <= 201 the exact expected IQR of a sample of size
    4Q + 1 with Q = ceil((n - 1)/4) (their Table 2), else
    ``2 Phi^-1((0.75 n - 0.125)/(n + 0.25))``."""
    approx = 2 * norm.ppf((0.75 * n - 0.125) / (n + 0.25))
    out = []
    for m, a in zip(n, approx):
        q = int(np.ceil((m - 1) / 4))
        out.append(2 * _expected_order_statistic(3 * q + 1, 4 * q + 1) if m <= 201 else a)
    return np.array(out)


_MEAN_REF = {"wan": "Wan et al. (2014)", "luo": "Luo et al. (2018)"}
_METHODS = {"luo": ("luo", "wan"), "wan": ("wan", "wan"), "shi": ("luo", "shi")}


def _mean(scenario: str, how: str, x: dict[str, FloatArray]) -> FloatArray:
    n, m = x["n"], x["median"]
    if scenario == "S1":
        a, b = x["minimum"], x["maximum"]
        if how == "wan":
            return (a + 2 * m + b) / 4
        w = 4 / (4 + n**0.75)
        return w * (a + b) / 2 + (1 - w) * m
    if scenario == "S2":
        q1, q3 = x["q1"], x["q3"]
        if how == "wan":
            return (q1 + m + q3) / 3
        return (0.7 + 0.39 / n) * (q1 + q3) / 2 + (0.3 - 0.39 / n) * m
    a, q1, q3, b = x["minimum"], x["q1"], x["q3"], x["maximum"]
    if how == "wan":
        return (a + 2 * q1 + 2 * m + 2 * q3 + b) / 8
    w1 = 2.2 / (2.2 + n**0.75)
    w2 = 0.7 - 0.72 / n**0.55
    return w1 * (a + b) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * m


def _sd(scenario: str, how: str, x: dict[str, FloatArray]) -> tuple[FloatArray, str]:
    n = x["n"]
    if scenario == "S1":
        return (x["maximum"] - x["minimum"]) / _xi(n), "Wan et al. (2014)"
    if scenario == "S2":
        return (x["q3"] - x["q1"]) / _eta(n), "Wan et al. (2014)"
    rng, iqr = x["maximum"] - x["minimum"], x["q3"] - x["q1"]
    if how == "wan":
        return 0.5 * (rng / _xi(n) + iqr / _eta(n)), "Wan et al. (2014)"
    theta1 = (2 + 0.14 * n**0.6) * norm.ppf((n - 0.375) / (n + 0.25))
    theta2 = (2 + 2 / (0.07 * n**0.6)) * norm.ppf((0.75 * n - 0.125) / (n + 0.25))
    return rng / theta1 + iqr / theta2, "Shi et al. (2020)"


def mean_sd_from_median(median: Any, q1: Any = None, q3: Any = None, minimum: Any = None,
                        maximum: Any = None, *, n: Any, method: str = "luo") -> MeanSD:
    """Estimate a sample's mean and SD from its median with the quartiles and/or the range.

    Scenarios (chosen from the arguments given): S1 ``minimum, median, maximum``;
    S2 ``q1, median, q3``; S3 all five. With ``a, b`` the minimum and maximum:

    Mean, Wan et al. (2014): S1 ``(a + 2m + b)/4``; S2 ``(q1 + m + q3)/3``;
    S3 ``(a + 2 q1 + 2m + 2 q3 + b)/8``.

    Mean, Luo et al. (2018): S1 ``w (a + b)/2 + (1 - w) m`` with ``w = 4/(4 + n^0.75)``;
    S2 ``(0.7 + 0.39/n)(q1 + q3)/2 + (0.3 - 0.39/n) m``;
    S3 ``w1 (a + b)/2 + w2 (q1 + q3)/2 + (1 - w1 - w2) m`` with ``w1 = 2.2/(2.2 + n^0.75)``,
    ``w2 = 0.7 - 0.72/n^0.55``.

    SD, Wan et al. (2014): S1 ``(b - a)/xi(n)``; S2 ``(q3 - q1)/eta(n)``; S3 the average of
    both, where ``xi(n)`` and ``eta(n)`` are the expected range and interquartile range of a
    standard normal sample: exact for n <= 50 and n <= 201 (Wan's Tables 1 and 2, computed here
    by numerical integration), else ``xi(n) = 2 Phi^-1((n - 0.375)/(n + 0.25))``,
    ``eta(n) = 2 Phi^-1((0.75 n - 0.125)/(n + 0.25))``.

    SD, Shi et al. (2020), S3: ``(b - a)/theta1(n) + (q3 - q1)/theta2(n)`` with
    ``theta1 = (2 + 0.14 n^0.6) Phi^-1((n - 0.375)/(n + 0.25))`` and
    ``theta2 = (2 + 2/(0.07 n^0.6)) Phi^-1((0.75 n - 0.125)/(n + 0.25))``. For S1 and S2
    Shi et al. keep Wan's estimators.

    Parameters
    ----------
    median, q1, q3, minimum, maximum : float or array-like
        The reported summary (``minimum <= q1 <= median <= q3 <= maximum``).
    n : int or array-like
        Sample size (whole number >= 2).
    method : {"luo", "wan", "shi"}
        ``"luo"``: Luo mean, Wan SD; ``"wan"``: Wan mean and SD; ``"shi"``: Luo mean, Shi SD.

    Returns
    -------
    MeanSD
        ``mean``, ``sd``, ``method`` (the estimators used) and ``scenario``.

    References
    ----------
    Wan, X., Wang, W., Liu, J., & Tong, T. (2014). Estimating the sample mean and standard
    deviation from the sample size, median, range and/or interquartile range. BMC Medical
    Research Methodology, 14, 135.
    Luo, D., Wan, X., Liu, J., & Tong, T. (2018). Optimally estimating the sample mean from the
    sample size, median, mid-range, and/or mid-quartile range. Statistical Methods in Medical
    Research, 27(6), 1785-1805.
    Shi, J., Luo, D., Weng, H., et al. (2020). Optimally estimating the sample standard deviation
    from the five-number summary. Research Synthesis Methods, 11(5), 641-654.
    """
    how_mean, how_sd = _METHODS[choice(method, list(_METHODS), "method")]
    has_range, has_iqr = minimum is not None, q1 is not None
    for (low, lv), (high, hv) in ((("minimum", minimum), ("maximum", maximum)),
                                  (("q1", q1), ("q3", q3))):
        if (lv is None) != (hv is None):
            raise InputError(f"give both {low!r} and {high!r}, or neither")
    if not (has_range or has_iqr):
        raise InputError("give the quartiles (q1, q3), the range (minimum, maximum), or both")
    scenario = "S3" if has_range and has_iqr else ("S1" if has_range else "S2")
    given = {k: v for k, v in dict(median=median, q1=q1, q3=q3, minimum=minimum, maximum=maximum,
                                   n=n).items() if v is not None}
    x, scalar = _inputs(**given)
    check_bounds(x["n"], "n", lower=2, integer=True)
    order = [f for f in ("minimum", "q1", "median", "q3", "maximum") if f in x]
    for low, high in zip(order, order[1:]):
        _check_less(x[low], x[high], low, high, strict=False)
    _check_less(x[order[0]], x[order[-1]], order[0], order[-1])
    sd, sd_ref = _sd(scenario, how_sd, x)
    described = f"mean: {_MEAN_REF[how_mean]}; SD: {sd_ref}"
    return MeanSD(mean=_out(_mean(scenario, how_mean, x), scalar), sd=_out(sd, scalar),
                  method=described, scenario=scenario)
