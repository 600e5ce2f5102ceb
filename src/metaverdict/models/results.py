"""Result objects of the univariate models: frozen, named fields, ``summary()`` and
``to_dict()``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table
from metaverdict.models.inference import FitStatistics

METHOD_NAMES = {
    "EE": "common-effect (equal-effects) model", "FE": "fixed-effects model",
    "DL": "DerSimonian-Laird", "HE": "Hedges", "HS": "Hunter-Schmidt",
    "HSk": "Hunter-Schmidt (k-corrected)", "SJ": "Sidik-Jonkman", "ML": "maximum likelihood",
    "REML": "restricted maximum likelihood", "EB": "empirical Bayes", "PM": "Paule-Mandel",
    "PMM": "median-unbiased Paule-Mandel", "GENQ": "generalised Q",
}


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


@dataclass(frozen=True, repr=False)
class MetaAnalysisResult(ResultMixin):
    """A fitted common-effect, random-effects or mixed-effects (meta-regression) model.

    Scalar fields ``estimate`` ... ``ci_upper`` describe the pooled effect of an
    intercept-only model (for a meta-regression they describe the intercept; see
    ``coefficients`` for every coefficient). Effects are on the scale of ``yi`` (e.g. log odds
    ratios). ``i2`` and ``weights`` are percentages.
    """

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
    coefficients: pd.DataFrame
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
    yi: np.ndarray = field(kw_only=True, repr=False)
    vi: np.ndarray = field(kw_only=True, repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    design: np.ndarray | None = field(default=None, repr=False)
    user_weights: np.ndarray | None = field(default=None, repr=False)
    typical_vi: float = field(default=float("nan"), repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "pvalue", "tau2", "i2")

    @property
    def p(self) -> int:
        """Number of coefficients (1 for intercept-only models)."""
        return len(self.coefficients)

    @property
    def is_common_effect(self) -> bool:
        return self.method in ("EE", "FE")

    def tau2_ci(self, level: float | None = None) -> tuple[float, float]:
        """Q-profile confidence interval for tau² (Viechtbauer 2007) -> ``(lower, upper)``."""
        ci = self.heterogeneity_ci(level).tau2
        return ci.ci_lower, ci.ci_upper

    def heterogeneity_ci(self, level: float | None = None) -> HeterogeneityCI:
        """Q-profile confidence intervals for tau², tau, I² and H² (metafor ``confint()``)."""
        from metaverdict.models.confint import q_profile
        return q_profile(self, self.level if level is None else level)

    def summary(self) -> str:
        """Journal-style summary: model, heterogeneity, pooled estimate and prediction interval."""
        pct = int(round(self.level * 100))
        lines = [f"{'Random' if not self.is_common_effect else 'Common'}-effects meta-analysis "
                 f"(k = {self.k}; {METHOD_NAMES.get(self.method, self.method)}; "
                 f"{'Hartung-Knapp t' if self.test == 'knha' else 'z'} test)", ""]
        if not self.is_common_effect:
            lines.append(f"tau^2 = {fmt(self.tau2)} (SE = {fmt(self.tau2_se)}), "
                         f"tau = {fmt(float(np.sqrt(self.tau2)))}")
        lines.append(f"I^2 = {fmt(self.i2, 2)}%, H^2 = {fmt(self.h2)}")
        lines.append(f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_pvalue)}")
        if self.qm is not None:
            lines.append(f"Test of moderators: QM = {fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}"
                         + (f", R^2 = {fmt(self.r2, 2)}%" if self.r2 is not None else ""))
        lines.append("")
        stat = "t" if self.test == "knha" else "z"
        rows = [[str(name), fmt(r.estimate), fmt(r.se), fmt(r.statistic), fmt_p(r.pvalue),
                 fmt(r.ci_lower), fmt(r.ci_upper)] for name, r in self.coefficients.iterrows()]
        lines.append(format_table(["", "estimate", "se", stat, "p", f"{pct}% ci.lb", "ci.ub"],
                                  rows))
        if self.p == 1:
            lines += ["", f"{pct}% prediction interval: "
                          f"[{fmt(self.pi_lower)}, {fmt(self.pi_upper)}]"]
        if not self.converged:
            lines.append("WARNING: the tau^2 estimator did not converge")
        return "\n".join(lines)
