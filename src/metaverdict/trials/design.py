"""Sample size and power for a two-arm parallel randomized trial on a continuous outcome.

The test is the two-sided two-sample t test of the difference in means ``delta`` (arm 2 minus
arm 1, in the outcome's units, e.g. points on a 0-10 pain scale) with common standard deviation
``sd`` (same units), ``n1`` analysed participants in arm 1 and ``n2 = ratio * n1`` in arm 2.

Exact power (noncentral t, as R ``pwr.t.test`` / ``power.t.test(strict=TRUE)`` and statsmodels
``TTestIndPower``)::

    lambda = |delta| / (sd_eff * sqrt(1/n1 + 1/n2))           noncentrality
    nu     = n1 + n2 - 2 - c                                   df (c = 1 for ANCOVA, else 0)
    t*     = t_{1 - alpha/2, nu}
    power  = P(T'_{nu, lambda} > t*) + P(T'_{nu, lambda} < -t*)  T' ~ noncentral t

Normal approximation (the textbook closed form; the opposite tail is neglected)::

    n1 = (1 + 1/k) (z_{1-alpha/2} + z_{1-beta})^2 sd_eff^2 / delta^2,    k = n2 / n1
    power = Phi(lambda - z_{1-alpha/2})

Repeated measures. The effect is the treatment difference in the participant's mean over
``visits = m`` post-baseline visits whose correlation is compound symmetric (``rho`` between
any two post-baseline visits, ``baseline_correlation = r`` between baseline and each of them).
The analysis then behaves as a single measurement with ``sd_eff^2 = sd^2 * f`` (Frison &
Pocock 1992, eqs. for one baseline; Diggle et al. 2002, sec. 2.4, for the mean of m visits)::

    analysis="post"    f = (1 + (m - 1) rho) / m                   mean of the m visits
    analysis="change"  f = (1 + (m - 1) rho) / m + 1 - 2 r         mean change from baseline
    analysis="ancova"  f = (1 + (m - 1) rho) / m - r^2             mean adjusted for baseline

(ANCOVA: the variance of the post-visit mean given baseline, conditional-normal algebra; the
one degree of freedom spent on the baseline slope is removed from ``nu``, the small
``1 + 1/(n - 3)``-order inflation of its variance is not modelled.) With ``m = 1`` and
``analysis="post"`` the design is the plain two-sample t test.

Dropout. A sample size is the number to analyse; the number to enrol is
``ceil(n / (1 - dropout))`` per arm. Power for given enrolled numbers uses the expected
analysed numbers ``n (1 - dropout)``.

References
----------
Chow SC, Shao J, Wang H, Lokhnygina Y (2017). Sample Size Calculations in Clinical Research,
3rd ed., sec. 3.2 (two-sample parallel design).
Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed., table 2.4.1
(d = 0.5, alpha = 0.05 two-sided, power 0.80: n = 64 per group).
Diggle PJ, Heagerty P, Liang KY, Zeger SL (2002). Analysis of Longitudinal Data, 2nd ed.,
sec. 2.4 (sample size with m repeated measurements, exchangeable correlation).
Frison L, Pocock SJ (1992). Repeated measures in clinical trials: analysis using mean summary
statistics and its implications for design. Stat Med 11:1685-1704.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from metaverdict._results import ResultMixin, fmt, format_table
from metaverdict.errors import InputError

__all__ = ["Analysis", "PowerAnalysis", "power", "sample_size", "variance_factor"]

#: The largest analysed arm-1 size searched before declaring the effect too small.
MAX_N = 10**9


class Analysis(StrEnum):
    """How repeated post-baseline visits (and a baseline) enter the test."""

    POST = "post"
    CHANGE = "change"
    ANCOVA = "ancova"


class Method(StrEnum):
    """Power computation."""

    T = "t"
    NORMAL = "normal"


def _is_real(value: Any) -> bool:
    """A finite real number (Python or NumPy), not a bool."""
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value)) and not isinstance(value, (str, bytes, complex))
    except (TypeError, ValueError):
        return False


def _number(value: Any, field: str) -> float:
    if not _is_real(value):
        raise InputError(f"{field}: expected a finite number, got {value!r}")
    return float(value)


def _whole(value: Any) -> bool:
    return _is_real(value) and float(value).is_integer()


def _check_open(value: float, field: str, low: float = 0.0, high: float = 1.0) -> float:
    if not low < value < high:
        raise InputError(f"{field}: must lie strictly between {low:g} and {high:g}, "
                         f"got {value:g}")
    return value


def _enum(kind: type[StrEnum], value: Any, field: str) -> Any:
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        raise InputError(f"{field}: unknown value {value!r}; choose one of "
                         f"{', '.join(k.value for k in kind)}") from None


def variance_factor(visits: int = 1, rho: float = 0.0, baseline_correlation: float | None = None,
                    analysis: str = "post") -> float:
    """The factor ``f`` by which a repeated-measures analysis scales the outcome's variance.

    Compound symmetry (Frison & Pocock 1992; Diggle et al. 2002, sec. 2.4): ``m`` post-baseline
    visits correlated ``rho`` pairwise and ``r`` with the baseline.

    * ``"post"``: mean of the m visits, ``f = (1 + (m - 1) rho) / m``;
    * ``"change"``: mean change from baseline, ``f = (1 + (m - 1) rho) / m + 1 - 2 r``;
    * ``"ancova"``: mean adjusted for baseline, ``f = (1 + (m - 1) rho) / m - r^2``.

    Parameters
    ----------
    visits : int
        Number ``m`` of post-baseline visits averaged (>= 1).
    rho : float
        Correlation between any two post-baseline visits, ``-1/(m - 1) < rho <= 1`` (unused
        when ``m = 1``).
    baseline_correlation : float, optional
        Correlation ``r`` between the baseline and each post-baseline visit; required for
        ``"change"`` and ``"ancova"``.
    analysis : {"post", "change", "ancova"}

    Returns
    -------
    float
        ``f > 0``; the effective SD is ``sd * sqrt(f)``.

    Raises
    ------
    InputError
        A field out of range, or correlations that make the covariance matrix not positive
        definite (``r^2 >= (1 + (m - 1) rho) / m``).

    Examples
    --------
    >>> from metaverdict.trials.design import variance_factor
    >>> variance_factor(visits=4, rho=0.5)                 # (1 + 3 * 0.5) / 4
    0.625
    >>> round(variance_factor(visits=4, rho=0.5, baseline_correlation=0.5,
    ...                       analysis="ancova"), 4)        # 0.625 - 0.25
    0.375
    """
    how = _enum(Analysis, analysis, "analysis")
    if not _whole(visits):
        raise InputError(f"visits: expected a whole number >= 1, got {visits!r}")
    m = int(visits)
    if m < 1:
        raise InputError(f"visits: expected a whole number >= 1, got {visits!r}")
    rho = _number(rho, "rho")
    if m > 1 and not (-1.0 / (m - 1) < rho <= 1.0):
        raise InputError(f"rho: with {m} visits must satisfy -1/{m - 1} < rho <= 1, "
                         f"got {rho:g}")
    post = (1.0 + (m - 1) * rho) / m if m > 1 else 1.0
    if how is Analysis.POST:
        if baseline_correlation is not None:
            raise InputError("baseline_correlation: only used with analysis 'change' or "
                             "'ancova', got analysis 'post'")
        return post
    if baseline_correlation is None:
        raise InputError(f"baseline_correlation: required for analysis {how.value!r} "
                         "(correlation between baseline and each post-baseline visit)")
    r = _number(baseline_correlation, "baseline_correlation")
    if not -1.0 <= r <= 1.0:
        raise InputError(f"baseline_correlation: must lie in [-1, 1], got {r:g}")
    if r * r >= post:
        raise InputError(f"baseline_correlation: r^2 = {r * r:g} must be below "
                         f"(1 + (m - 1) rho) / m = {post:g} (else the correlations are "
                         "impossible together)")
    return post + 1.0 - 2.0 * r if how is Analysis.CHANGE else post - r * r


@dataclass(frozen=True, eq=False, repr=False)
class PowerAnalysis(ResultMixin):
    """Sample size or power of a two-arm parallel trial (see :func:`sample_size`, :func:`power`).

    Attributes
    ----------
    solved_for : {"n", "power"}
    method : {"t", "normal"}
        Noncentral t (exact t test) or the normal approximation.
    delta, sd : float
        Difference in means to detect and the outcome's SD (outcome units).
    alpha : float
        Two-sided significance level.
    target_power : float or None
        The power asked for (``solved_for == "n"``).
    power : float
        Power achieved by the analysed numbers ``n1``, ``n2``.
    ratio : float
        Allocation ratio ``n2 / n1``.
    dropout : float
        Expected proportion lost to follow-up, in [0, 1).
    n1, n2 : float
        Analysed per arm: whole numbers when solved for n; expected ``n_enrolled (1 - dropout)``
        when solved for power.
    n1_enrolled, n2_enrolled : int
        Enrolled per arm (``ceil(n / (1 - dropout))`` when solved for n; as given otherwise).
    n1_exact : float or None
        The unrounded arm-1 size solving power = target (with ``n2 = ratio * n1``); 2 when
        even that design exceeds the target.
    visits, rho, baseline_correlation, analysis, variance_factor
        The repeated-measures set-up and its factor ``f`` (see :func:`variance_factor`).
    effective_sd : float
        ``sd * sqrt(variance_factor)``.
    df : float or None
        t-test degrees of freedom (None for the normal method).
    noncentrality : float
        ``|delta| / (effective_sd sqrt(1/n1 + 1/n2))``.
    critical_value : float
        ``t_{1-alpha/2, df}`` or ``z_{1-alpha/2}``.
    """

    solved_for: str
    method: str
    delta: float
    sd: float
    alpha: float
    target_power: float | None
    power: float
    ratio: float
    dropout: float
    n1: float
    n2: float
    n1_enrolled: int
    n2_enrolled: int
    n1_exact: float | None
    visits: int
    rho: float
    baseline_correlation: float | None
    analysis: str
    variance_factor: float
    effective_sd: float
    df: float | None
    noncentrality: float
    critical_value: float

    _repr_fields = ("solved_for", "n1", "n2", "n1_enrolled", "n2_enrolled", "power")

    @property
    def total(self) -> float:
        """Analysed in both arms."""
        return self.n1 + self.n2

    @property
    def total_enrolled(self) -> int:
        """Enrolled in both arms."""
        return self.n1_enrolled + self.n2_enrolled

    def to_dict(self) -> dict[str, Any]:
        """All fields plus ``total`` and ``total_enrolled``, JSON-ready."""
        out = super().to_dict()
        out["total"] = self.total
        out["total_enrolled"] = self.total_enrolled
        return out

    def summary(self) -> str:
        """A short table: the set-up, the numbers per arm and the power."""
        what = "sample size" if self.solved_for == "n" else "power"
        how = ("t test, noncentral t" if self.method == "t"
               else "normal approximation")
        lines = [f"Two-arm parallel trial, continuous outcome: {what} ({how})",
                 f"difference {self.delta:g}, SD {self.sd:g}, alpha {self.alpha:g} "
                 f"(two-sided), allocation n2/n1 {self.ratio:g}, dropout {self.dropout:g}"]
        if self.visits > 1 or self.analysis != "post":
            extra = (f", baseline correlation {self.baseline_correlation:g}"
                     if self.baseline_correlation is not None else "")
            lines.append(f"{self.visits} post-baseline visit(s), correlation {self.rho:g}"
                         f"{extra}, analysis {self.analysis}: variance factor "
                         f"{self.variance_factor:.4f}, effective SD {self.effective_sd:.4f}")
        lines.append("")

        def n(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else f"{x:.1f}"

        rows = [["arm 1", n(self.n1), str(self.n1_enrolled)],
                ["arm 2", n(self.n2), str(self.n2_enrolled)],
                ["total", n(self.total), str(self.total_enrolled)]]
        lines.append(format_table(["", "analysed", "enrolled"], rows))
        lines.append("")
        target = (f" (target {self.target_power:g}"
                  + (f"; unrounded n1 {self.n1_exact:.2f})" if self.n1_exact is not None
                     else ")")) if self.target_power is not None else ""
        df = f", df {fmt(self.df, 1)}" if self.df is not None else ""
        lines.append(f"power {self.power:.4f}{target}; noncentrality "
                     f"{self.noncentrality:.4f}{df}")
        return "\n".join(lines)


# -- kernels ----------------------------------------------------------------------------------

def _power_kernel(n1: float, n2: float, delta_over_sd: float, alpha: float, method: Method,
                  covariates: int) -> tuple[float, float, float | None, float]:
    """(power, noncentrality, df, critical value) for analysed sizes n1, n2 (reals allowed)."""
    from scipy import stats
    lam = delta_over_sd / math.sqrt(1.0 / n1 + 1.0 / n2)
    if method is Method.NORMAL:
        z = float(stats.norm.ppf(1.0 - alpha / 2.0))
        return float(stats.norm.cdf(lam - z)), lam, None, z
    df = n1 + n2 - 2.0 - covariates
    t = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    # lower tail P(T' < -t*) as P(T'_{-lambda} > t*): SciPy's cdf can be NaN at tiny df
    p = float(stats.nct.sf(t, df, lam) + stats.nct.sf(t, df, -lam))
    return p, lam, df, t


def _n2_of(n1: int, ratio: float) -> int:
    """Arm-2 size for a whole arm-1 size: ceil(ratio n1), at least 2."""
    return max(2, math.ceil(ratio * n1 - 1e-9))


@dataclass(frozen=True)
class _Setup:
    delta: float
    sd: float
    alpha: float
    ratio: float
    dropout: float
    method: Method
    visits: int
    rho: float
    baseline_correlation: float | None
    analysis: Analysis
    factor: float

    @property
    def effective_sd(self) -> float:
        return self.sd * math.sqrt(self.factor)

    @property
    def standardized(self) -> float:
        return abs(self.delta) / self.effective_sd

    @property
    def covariates(self) -> int:
        return 1 if self.analysis is Analysis.ANCOVA else 0


def _setup(delta: Any, sd: Any, alpha: Any, ratio: Any, dropout: Any, method: Any,
           visits: Any, rho: Any, baseline_correlation: Any, analysis: Any) -> _Setup:
    d = _number(delta, "delta")
    s = _number(sd, "sd")
    if s <= 0:
        raise InputError(f"sd: must be > 0, got {s:g}")
    a = _check_open(_number(alpha, "alpha"), "alpha")
    k = _number(ratio, "ratio")
    if k <= 0:
        raise InputError(f"ratio: allocation ratio n2/n1 must be > 0, got {k:g}")
    dr = _number(dropout, "dropout")
    if not 0.0 <= dr < 1.0:
        raise InputError(f"dropout: proportion lost must lie in [0, 1), got {dr:g}")
    how = _enum(Method, method, "method")
    f = variance_factor(visits, rho, baseline_correlation, analysis)
    return _Setup(d, s, a, k, dr, how, int(visits), float(rho),
                  None if baseline_correlation is None else float(baseline_correlation),
                  _enum(Analysis, analysis, "analysis"), f)


def _result(st: _Setup, solved_for: str, n1: float, n2: float, n1_enrolled: int,
            n2_enrolled: int, target: float | None, n1_exact: float | None) -> PowerAnalysis:
    p, lam, df, crit = _power_kernel(n1, n2, st.standardized, st.alpha, st.method,
                                     st.covariates)
    return PowerAnalysis(solved_for=solved_for, method=st.method.value, delta=st.delta,
                         sd=st.sd, alpha=st.alpha, target_power=target, power=p,
                         ratio=st.ratio, dropout=st.dropout, n1=n1, n2=n2,
                         n1_enrolled=n1_enrolled, n2_enrolled=n2_enrolled, n1_exact=n1_exact,
                         visits=st.visits, rho=st.rho,
                         baseline_correlation=st.baseline_correlation,
                         analysis=st.analysis.value, variance_factor=st.factor,
                         effective_sd=st.effective_sd, df=df, noncentrality=lam,
                         critical_value=crit)


# -- public -----------------------------------------------------------------------------------

def sample_size(delta: float, sd: float, *, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0, dropout: float = 0.0, method: str = "t", visits: int = 1,
                rho: float = 0.0, baseline_correlation: float | None = None,
                analysis: str = "post") -> PowerAnalysis:
    """Participants per arm needed to detect a difference ``delta`` with the given power.

    The unrounded solution ``n1_exact`` solves ``power(n1, ratio * n1) = target`` over real n1
    (noncentral t: :func:`scipy.optimize.brentq`; normal: the closed form
    ``n1 = (1 + 1/k)(z_{1-alpha/2} + z_{1-beta})^2 sd_eff^2 / delta^2``). The analysed sizes
    are the smallest whole ``n1`` with ``n2 = ceil(ratio * n1)`` reaching the target; each is
    then inflated for dropout to ``ceil(n / (1 - dropout))``. Formulas and references: module
    docstring.

    Parameters
    ----------
    delta : float
        Difference in means to detect (outcome units; the sign is irrelevant), not 0.
    sd : float
        Common SD of the outcome (outcome units), > 0.
    alpha : float
        Two-sided significance level.
    power : float
        Target power, ``0 < power < 1``.
    ratio : float
        Allocation ratio ``n2 / n1`` (2: twice as many in arm 2).
    dropout : float
        Expected proportion not analysed, in [0, 1).
    method : {"t", "normal"}
        Exact t test (noncentral t) or the normal approximation.
    visits, rho, baseline_correlation, analysis
        Repeated measures: see :func:`variance_factor` (default: one visit, plain t test).

    Returns
    -------
    PowerAnalysis
        ``n1``, ``n2`` analysed, ``n1_enrolled``, ``n2_enrolled``, achieved ``power``.

    Raises
    ------
    InputError
        A field out of range (the message names it), or ``delta = 0``.

    Examples
    --------
    Cohen's classic case, d = 0.5 (a 1-point difference, SD 2), alpha 0.05, power 0.8:

    >>> from metaverdict.trials.design import sample_size
    >>> res = sample_size(delta=1.0, sd=2.0, power=0.8)
    >>> res.n1, res.n2, round(res.n1_exact, 3), round(res.power, 4)
    (64, 64, 63.766, 0.8015)
    >>> sample_size(delta=1.0, sd=2.0, method="normal").n1
    63
    >>> sample_size(delta=1.0, sd=2.0, dropout=0.2).n1_enrolled    # ceil(64 / 0.8)
    80

    Four post-baseline visits correlated 0.5, analysed by ANCOVA on a baseline correlated 0.5:

    >>> sample_size(delta=1.0, sd=2.0, visits=4, rho=0.5, baseline_correlation=0.5,
    ...             analysis="ancova").n1
    25
    """
    from scipy import optimize, stats
    st = _setup(delta, sd, alpha, ratio, dropout, method, visits, rho, baseline_correlation,
                analysis)
    target = _check_open(_number(power, "power"), "power")
    if st.delta == 0:
        raise InputError("delta: a difference of 0 cannot be detected with any sample size")
    k, es, cov = st.ratio, st.standardized, st.covariates

    def achieved(n1: float, n2: float) -> float:
        return _power_kernel(n1, n2, es, st.alpha, st.method, cov)[0]

    n_lo = 2                                         # n1, n2 >= 2: df >= 1 always
    if st.method is Method.NORMAL:
        z = float(stats.norm.ppf(1 - st.alpha / 2) + stats.norm.ppf(target))
        n1_exact = (1 + 1 / k) * z * z / (es * es) if z > 0 else 0.0
    else:
        lo = max(2.0, (3.0 + cov) / (1.0 + k))      # real n1 >= 2 with df >= 1

        def gap(n1: float) -> float:
            return achieved(n1, k * n1) - target
        if gap(lo) >= 0:
            n1_exact = lo
        else:
            hi = max(4.0, 2.0 * lo)
            while gap(hi) < 0:                       # bracket for brentq (doubling)
                if hi > MAX_N:
                    raise InputError(f"delta: {st.delta:g} is too small relative to the SD "
                                     f"to reach power {target:g} with under {MAX_N} per arm")
                hi *= 2.0
            n1_exact = float(optimize.brentq(gap, lo, hi, xtol=1e-10, rtol=1e-14))
    if n1_exact > MAX_N:
        raise InputError(f"delta: {st.delta:g} is too small relative to the SD to reach "
                         f"power {target:g} with under {MAX_N} per arm")
    # integer-aware: smallest whole n1 (n2 = ceil(k n1)) reaching the target; the predicate is
    # monotone in n1, and the continuous root lies within a step or two of the answer
    n1 = max(n_lo, math.ceil(n1_exact - 1e-9))
    while n1 > n_lo and achieved(n1 - 1, _n2_of(n1 - 1, k)) >= target:
        n1 -= 1
    while achieved(n1, _n2_of(n1, k)) < target:
        n1 += 1
    n2 = _n2_of(n1, k)
    keep = 1.0 - st.dropout
    e1, e2 = (math.ceil(n / keep - 1e-9) for n in (n1, n2))
    return _result(st, "n", n1, n2, e1, e2, target, n1_exact)


def power(delta: float, sd: float, n1: int, n2: int | None = None, *, alpha: float = 0.05,
          ratio: float = 1.0, dropout: float = 0.0, method: str = "t", visits: int = 1,
          rho: float = 0.0, baseline_correlation: float | None = None,
          analysis: str = "post") -> PowerAnalysis:
    """Power of a two-arm trial enrolling ``n1`` and ``n2`` participants.

    The analysed numbers are the expected ``n (1 - dropout)`` (real numbers: the noncentral t
    takes real degrees of freedom). Formulas and references: module docstring.

    Parameters
    ----------
    delta : float
        Difference in means (outcome units).
    sd : float
        Common SD of the outcome (outcome units), > 0.
    n1 : int
        Enrolled in arm 1.
    n2 : int, optional
        Enrolled in arm 2; default ``ceil(ratio * n1)``.
    alpha, ratio, dropout, method, visits, rho, baseline_correlation, analysis
        As in :func:`sample_size` (``ratio`` is used only when ``n2`` is not given).

    Returns
    -------
    PowerAnalysis
        ``power``, with ``n1``, ``n2`` the expected analysed numbers.

    Raises
    ------
    InputError
        A field out of range (the message names it), or too few participants for a t test.

    Examples
    --------
    >>> from metaverdict.trials.design import power
    >>> round(power(delta=1.0, sd=2.0, n1=64).power, 4)
    0.8015
    >>> round(power(delta=1.0, sd=2.0, n1=64, method="normal").power, 4)
    0.8074
    >>> res = power(delta=1.0, sd=2.0, n1=80, dropout=0.2)          # 64 analysed per arm
    >>> res.n1, round(res.power, 4)
    (64.0, 0.8015)
    """
    st = _setup(delta, sd, alpha, ratio, dropout, method, visits, rho, baseline_correlation,
                analysis)
    for name, value in (("n1", n1), ("n2", n2)):
        if value is None:
            continue
        if not _whole(value):
            raise InputError(f"{name}: expected a whole number of participants, got {value!r}")
        if int(value) < 1:
            raise InputError(f"{name}: must be >= 1 participant, got {value!r}")
    e1 = int(n1)
    if n2 is None:
        e2 = max(1, math.ceil(st.ratio * e1 - 1e-9))
    else:
        e2 = int(n2)
        st = replace(st, ratio=e2 / e1)
    keep = 1.0 - st.dropout
    a1, a2 = e1 * keep, e2 * keep
    if st.method is Method.T and a1 + a2 - 2 - st.covariates <= 0:
        raise InputError(f"n1: {e1} + {e2} participants leave no degrees of freedom for the "
                         "t test (need n1 + n2 analysed > 2"
                         + (" + 1 for the baseline covariate)" if st.covariates else ")"))
    return _result(st, "power", a1, a2, e1, e2, None, None)
