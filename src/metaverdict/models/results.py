"""The result of the univariate models: frozen, named fields, ``summary()`` and ``to_dict()``.

Arrays are read-only and :attr:`MetaAnalysisResult.coefficients` is a new DataFrame on every
access, so a fit cannot be changed once made; results compare by identity.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from metaverdict._results import ResultMixin, fmt, fmt_p
from metaverdict._validation import choice
from metaverdict.models.confint import profile_likelihood, q_profile
from metaverdict.models.inference import FitStatistics
from metaverdict.models.intervals import (
    CoefficientTable,
    HeterogeneityCI,
    PooledFit,
    coefficient_table,
)
from metaverdict.models.random_effects import COMMON_EFFECT

_T = TypeVar("_T")
_TEST_NAMES = {"knha": "Hartung-Knapp t", "adhoc": "Hartung-Knapp t (ad hoc, s2w >= 1)"}

METHOD_NAMES = {
    "EE": "common-effect (equal-effects) model", "FE": "fixed-effects model",
    "DL": "DerSimonian-Laird", "HE": "Hedges", "HS": "Hunter-Schmidt",
    "HSk": "Hunter-Schmidt (k-corrected)", "SJ": "Sidik-Jonkman", "ML": "maximum likelihood",
    "REML": "restricted maximum likelihood", "EB": "empirical Bayes", "PM": "Paule-Mandel",
    "PMM": "median-unbiased Paule-Mandel", "GENQ": "generalised Q",
    "GENQM": "median-unbiased generalised Q", "DLIT": "iterated DerSimonian-Laird",
    "SJIT": "iterated Sidik-Jonkman",
}


@dataclass(frozen=True, eq=False, repr=False)
class MetaAnalysisResult(PooledFit, CoefficientTable, ResultMixin):
    """A fitted common-effect, random-effects or mixed-effects (meta-regression) model.

    Scalar fields ``estimate`` ... ``ci_upper`` describe the pooled effect of an
    intercept-only model (for a meta-regression they describe the intercept; see
    ``coefficients`` for every coefficient). Effects are on the scale of ``yi`` (e.g. log odds
    ratios). ``i2`` and ``weights`` are percentages. ``terms`` names the coefficients
    (``"intrcpt"`` first); ``df`` is the t degrees of freedom of Hartung-Knapp tests (NaN for
    z tests).

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.015, 0.01], method="REML")
    >>> res.coefficients.round(4)
             estimate      se  statistic  pvalue  ci_lower  ci_upper
    term
    intrcpt    0.2632  0.0865     3.0422  0.0023    0.0936    0.4327
    >>> ci = res.confidence_interval(0.90)
    >>> round(ci.ci_lower, 4), round(ci.ci_upper, 4)
    (0.1209, 0.4054)
    """

    tau2: float
    tau2_se: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    pi_lower: float
    pi_upper: float
    df: float
    s2w: float
    terms: tuple[str, ...]
    vcov: np.ndarray
    weights: np.ndarray
    fit_statistics: FitStatistics
    converged: bool
    iterations: int
    qm: float | None = None
    qm_df: tuple[int, float] | None = None
    qm_pvalue: float | None = None
    r2: float | None = None
    # always given by meta_analysis (keyword-only, so they may follow the defaulted fields)
    _coefficients: np.ndarray = field(kw_only=True, repr=False)
    yi: np.ndarray = field(kw_only=True, repr=False)
    vi: np.ndarray = field(kw_only=True, repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    design: np.ndarray | None = field(default=None, repr=False)
    user_weights: np.ndarray | None = field(default=None, repr=False)
    typical_vi: float = field(default=float("nan"), repr=False)
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "pvalue", "tau2", "i2")
    _dict_properties = ("coefficients",)

    @property
    def is_common_effect(self) -> bool:
        return self.method in COMMON_EFFECT

    def derived(self, key: Any, compute: Callable[[], _T]) -> _T:
        """A value derived from this fit, computed by ``compute()`` on first request for
        ``key`` and then kept (the diagnostics share their refits this way: leave-one-out and
        influence refit the same subsets). The fit itself never changes."""
        if key not in self._memo:
            self._memo[key] = compute()
        out: _T = self._memo[key]
        return out

    def tau2_ci(self, level: float | None = None, method: str = "QP") -> tuple[float, float]:
        """Confidence interval for tau² -> ``(lower, upper)``: Q-profile (``"QP"``, default;
        Viechtbauer 2007; the generalised Q-profile for GENQ/GENQM fits) or profile likelihood
        (``"PL"``, ML/REML fits; metafor ``confint(type="PL")``)."""
        ci = self.heterogeneity_ci(level, method).tau2
        return ci.ci_lower, ci.ci_upper

    def heterogeneity_ci(self, level: float | None = None, method: str = "QP"
                         ) -> HeterogeneityCI:
        """Confidence intervals for tau², tau, I² and H² (metafor ``confint()``): Q-profile
        (``"QP"``) or profile likelihood (``"PL"``)."""
        level = self.level if level is None else level
        if choice(method, ("QP", "PL"), "method") == "PL":
            return profile_likelihood(self, level)
        return q_profile(self, level)

    def summary(self) -> str:
        """Journal-style summary: model, heterogeneity, pooled estimate and prediction interval."""
        pct = int(round(self.level * 100))
        lines = [f"{'Random' if not self.is_common_effect else 'Common'}-effects meta-analysis "
                 f"(k = {self.k}; {METHOD_NAMES.get(self.method, self.method)}; "
                 f"{_TEST_NAMES.get(self.test, 'z')} test)", ""]
        if not self.is_common_effect:
            lines.append(f"tau^2 = {fmt(self.tau2)} (SE = {fmt(self.tau2_se)}), "
                         f"tau = {fmt(float(np.sqrt(self.tau2)))}")
        lines.append(f"I^2 = {fmt(self.i2, 2)}%, H^2 = {fmt(self.h2)}")
        lines.append(f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_pvalue)}")
        if self.qm is not None:
            lines.append(f"Test of moderators: QM = {fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}"
                         + (f", R^2 = {fmt(self.r2, 2)}%" if self.r2 is not None else ""))
        lines.append("")
        stat = "t" if self.test in ("knha", "adhoc") else "z"
        lines.append(coefficient_table(self._coefficients, self.terms, stat, pct))
        if self.p == 1:
            lines += ["", f"{pct}% prediction interval: "
                          f"[{fmt(self.pi_lower)}, {fmt(self.pi_upper)}]"]
        if not self.converged:
            lines.append("WARNING: the tau^2 estimator did not converge")
        return "\n".join(lines)
