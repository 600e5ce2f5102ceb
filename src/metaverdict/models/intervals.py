"""Interval results shared by the models: an estimate with its CI (:class:`Interval`), the
Q-profile intervals of the heterogeneity statistics (:class:`HeterogeneityCI`), the table of
coefficients, and :class:`EstimateCI`, which gives a result with a pooled ``estimate`` and
``se`` a ``confidence_interval(level)`` at any level.

>>> Interval(0.5, 0.3, 0.7)
Interval(estimate=0.5000, ci_lower=0.3000, ci_upper=0.7000)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, TableResult, fmt, fmt_p, format_table, read_only
from metaverdict._validation import check_level
from metaverdict.errors import InputError
from metaverdict.models.inference import critical_value

#: Columns of a coefficient table (``coefficients`` of the fitted models).
COEFFICIENT_COLUMNS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper")


@dataclass(frozen=True, repr=False)
class Interval(ResultMixin):
    """An estimate with its confidence interval."""

    estimate: float
    ci_lower: float
    ci_upper: float
    _repr_fields = ("estimate", "ci_lower", "ci_upper")


@dataclass(frozen=True, repr=False)
class HeterogeneityCI(ResultMixin):
    """Q-profile confidence intervals for tau², tau, I² (percent) and H² (metafor ``confint``)."""

    level: float
    tau2: Interval
    tau: Interval
    i2: Interval
    h2: Interval
    _repr_fields = ("level", "tau2", "i2")

    def summary(self) -> str:
        rows = [[name, fmt(iv.estimate), fmt(iv.ci_lower), fmt(iv.ci_upper)]
                for name, iv in (("tau^2", self.tau2), ("tau", self.tau), ("I^2 (%)", self.i2),
                                 ("H^2", self.h2))]
        return format_table(["", "estimate", "ci.lb", "ci.ub"], rows)


class _Estimated(Protocol):
    @property
    def estimate(self) -> float: ...
    @property
    def se(self) -> float: ...
    @property
    def df(self) -> float: ...


class EstimateCI:
    """``confidence_interval(level)`` for results with a pooled ``estimate``, its ``se`` and
    the t degrees of freedom ``df`` of its test (NaN: a z test)."""

    def confidence_interval(self: _Estimated, level: float = 0.95) -> Interval:
        """The CI of the pooled estimate at another confidence ``level``, with the fit's own
        distribution: ``estimate ± c se`` with c the normal quantile, or the t quantile on
        ``df`` degrees of freedom for t tests (Hartung-Knapp, ``test="t"``, robust).

        Raises
        ------
        InputError
            ``level`` not a number in (0, 1).
        """
        crit = critical_value(check_level(level), self.df)
        return Interval(self.estimate, self.estimate - crit * self.se,
                        self.estimate + crit * self.se)


@dataclass(frozen=True, eq=False, repr=False)
class PooledFit(EstimateCI):
    """The fields every fitted model's result starts with: the estimator (``method``), the
    test (``"z"``, ``"knha"``, ``"t"`` ...), the confidence ``level``, the number of studies
    ``k`` and the pooled ``estimate`` (the intercept of a meta-regression) with its ``se``,
    test ``statistic``, ``pvalue`` and CI."""

    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_lower: float
    ci_upper: float


class CoefficientTable:
    """The coefficient table of a fitted model with moderators: ``_coefficients`` (p, 6),
    columns :data:`COEFFICIENT_COLUMNS`, one row per name in ``terms``."""

    _coefficients: np.ndarray
    terms: tuple[str, ...]

    @property
    def coefficients(self) -> pd.DataFrame:
        """Every coefficient: estimate, se, statistic, pvalue, ci_lower, ci_upper (rows named
        by ``terms``), as a new DataFrame on each access."""
        return coefficient_frame(self._coefficients, self.terms)

    def coefficient(self, column: str) -> np.ndarray:
        """One column of :attr:`coefficients` (``"estimate"``, ``"se"``, ``"statistic"``,
        ``"pvalue"``, ``"ci_lower"``, ``"ci_upper"``) as a read-only array, without building
        the DataFrame."""
        out: np.ndarray = self._coefficients[:, COEFFICIENT_COLUMNS.index(column)]
        return out

    @property
    def beta(self) -> np.ndarray:
        """The coefficients (read-only), in the order of ``terms``."""
        return self.coefficient("estimate")

    @property
    def p(self) -> int:
        """Number of coefficients (1 for intercept-only models)."""
        return len(self.terms)


def coefficient_values(*columns: Any) -> np.ndarray:
    """The (p, 6) read-only array of a coefficient table from its columns, in the order of
    :data:`COEFFICIENT_COLUMNS`."""
    out = np.empty((len(columns[0]), len(columns)))
    for j, c in enumerate(columns):
        out[:, j] = c
    values: np.ndarray = read_only(out)
    return values


def coefficient_frame(values: np.ndarray, terms: Sequence[str]) -> pd.DataFrame:
    """A new DataFrame of the coefficient table ``values`` (p, 6), rows named by ``terms``."""
    return pd.DataFrame(np.array(values), index=pd.Index(list(terms), name="term"),
                        columns=list(COEFFICIENT_COLUMNS))


def coefficient_table(values: np.ndarray, terms: Sequence[str], stat: str, pct: int) -> str:
    """The coefficient table of a ``summary()``: a header (``stat`` names the test statistic,
    ``pct`` the confidence level in percent) and :func:`coefficient_rows`."""
    return format_table(["", "estimate", "se", stat, "p", f"{pct}% ci.lb", "ci.ub"],
                        coefficient_rows(values, terms))


def coefficient_rows(values: np.ndarray, terms: Sequence[str]) -> list[list[str]]:
    """The rows of a coefficient table as text (for ``summary()``): term, estimate, se,
    statistic, p-value, ci_lower, ci_upper."""
    return [[str(name), fmt(float(b)), fmt(float(s)), fmt(float(z)), fmt_p(float(pv)),
             fmt(float(lo)), fmt(float(hi))]
            for name, (b, s, z, pv, lo, hi) in zip(terms, values)]


def prediction_frame(X: np.ndarray, beta: np.ndarray, vcov: np.ndarray, crit: float,
                     pi_variance: Any = None) -> pd.DataFrame:
    r"""Predictions :math:`\hat\mu = x'\hat\beta` for the rows ``x`` of ``X``, with
    :math:`SE = \sqrt{x'V_\beta x}` (negative rounding clipped at 0), the CI
    :math:`\hat\mu \pm c\,SE` and, where ``pi_variance`` (a number or one per row: the
    heterogeneity variance at each row) is given, the prediction interval
    :math:`\hat\mu \pm c\sqrt{SE^2 + \tau^2}` (NaN where it is None or NaN).

    Columns ``pred``, ``se``, ``ci_lower``, ``ci_upper``, ``pi_lower``, ``pi_upper``."""
    pred = X @ beta
    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, vcov, X), 0.0))
    half = crit * np.sqrt(se ** 2 + (np.nan if pi_variance is None else pi_variance))
    return pd.DataFrame({"pred": pred, "se": se, "ci_lower": pred - crit * se,
                         "ci_upper": pred + crit * se, "pi_lower": pred - half,
                         "pi_upper": pred + half})


@dataclass(frozen=True, eq=False, repr=False)
class ProfileCI(TableResult):
    """Profile-likelihood confidence intervals of the variance components: ``table`` has one
    row per component (its value, here ``sigma2``, then ``ci_lower``, ``ci_upper``), a new
    DataFrame on each access."""

    level: float
    _table: pd.DataFrame
    _repr_fields = ("level",)

    def summary(self) -> str:
        value = str(self._table.columns[0])
        rows = [[str(n), fmt(r[value]), fmt(r.ci_lower), fmt(r.ci_upper)]
                for n, r in self._table.iterrows()]
        pct = int(round(self.level * 100))
        return format_table(["", {"sigma2": "sigma^2"}.get(value, value), f"{pct}% ci.lb",
                             "ci.ub"], rows)


def profile_bound(excess: Callable[[float], float], est: float, end: float,
                  reset: Callable[[], None] | None = None, tries: int = 10) -> float:
    """One bound of a profile-likelihood CI: the root of ``excess`` (the drop of the profile
    below its maximum minus the chi-square cut-off, negative inside the interval) between the
    estimate ``est`` and the end of the parameter's range ``end``; ``end`` itself when the
    profile stays within the cut-off there. Where the refit at ``end`` fails (a non-finite
    ``excess``), the end moves toward ``est`` in ``tries`` equal steps (metafor's
    ``eptries``); NaN if none works. ``reset`` is called before each search (warm starts)."""
    if not np.isfinite(end):
        return float("nan")
    for i in range(tries):
        edge = end + (est - end) * i / tries
        if reset is not None:
            reset()
        at_edge = excess(edge)
        if not np.isfinite(at_edge):
            continue
        if at_edge <= 0:
            return float(edge)
        if reset is not None:
            reset()
        from scipy import optimize

        a, b = sorted((est, edge))
        return float(optimize.brentq(excess, a, b, xtol=1e-10, rtol=1e-9, maxiter=200))
    return float("nan")


def profile_frame(parameter: str, terms: Sequence[str],
                  points: Sequence[tuple[float, float, pd.DataFrame | None]]) -> pd.DataFrame:
    """The table of a likelihood profile: per point ``(value, ll, coefficients)`` (the
    refit's coefficient table, None where the refit failed: NaN) the ``parameter`` value,
    ``ll`` and each coefficient's estimate and CI (columns ``estimate``, ``ci_lower``,
    ``ci_upper`` for a single coefficient; else ``<term>``, ``<term>_ci_lower``,
    ``<term>_ci_upper``)."""
    single = len(terms) == 1
    columns = [parameter, "ll"]
    for name in terms:
        columns += (["estimate", "ci_lower", "ci_upper"] if single
                    else [name, f"{name}_ci_lower", f"{name}_ci_upper"])
    rows = []
    for value, ll, co in points:
        row = [value, ll if co is not None else np.nan]
        for t in range(len(terms)):
            row += ([np.nan] * 3 if co is None else
                    [float(co[c].iloc[t]) for c in ("estimate", "ci_lower", "ci_upper")])
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def profiled_parameter(component: str | None, estimated: Sequence[str], nothing: str) -> str:
    """The parameter a profile refers to: ``component``, which must be one of the
    ``estimated`` names, or the only one of them when it is None; ``nothing`` describes what
    the model lacks when none is estimated."""
    free = list(estimated)
    if not free:
        raise InputError(f"likelihood_profile(): the model has no estimated {nothing} to "
                         "profile")
    if component is None:
        if len(free) > 1:
            raise InputError(f"field 'component': name one of {free}")
        return free[0]
    if component not in free:
        raise InputError(f"field 'component': {component!r} is not an estimated parameter "
                         f"(estimated: {free})")
    return component

