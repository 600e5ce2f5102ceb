r"""Selection models for publication bias (metafor's ``selmodel``): the random/mixed-effects
model with a weight function of the studies' one-sided p-values, fitted by maximum likelihood.

Each study's likelihood is its normal density times the weight of its p-value, divided by the
normalising integral over its sampling distribution (Hedges 1992; Vevea & Hedges 1995):

.. math::

    L_i = \frac{w(p_i; \delta)\,\phi(y_i; x_i'\beta, v_i + \tau^2)}
               {A_i},\qquad
    A_i = \int w(p(y); \delta)\,\phi(y; x_i'\beta, v_i + \tau^2)\,dy,

where :math:`p(y)` is the p-value of the study's own test of :math:`\theta_i = 0`:
:math:`1 - \Phi(y/\sqrt{v_i})` for ``alternative="greater"`` (default), :math:`\Phi(y/\sqrt{v_i})`
for ``"less"``, :math:`2[1 - \Phi(|y|/\sqrt{v_i})]` for ``"two.sided"``. Weight functions
(``s`` = ``steps[0]``, 0 unless given; the weight is 1 for :math:`p \le s`):

============  ==========================================================  ==============
type          :math:`w(p)` for :math:`p > s`                              no selection
============  ==========================================================  ==============
beta          :math:`p^{\delta_1-1}(1-p)^{\delta_2-1}` (Citkowicz & Vevea)  δ = (1, 1)
halfnorm      :math:`\exp(-\delta(p^2 - s^2))`                            δ = 0
negexp        :math:`\exp(-\delta(p - s))`                                δ = 0
logistic      :math:`\frac{2e^{-\delta p}/(1+e^{-\delta p})}
              {2e^{-\delta s}/(1+e^{-\delta s})}`                         δ = 0
power         :math:`((1-p)/(1-s))^{\delta}`                              δ = 0
negexppow     :math:`\exp(-\delta_1(p^{1/\delta_2} - s^{1/\delta_2}))`    δ = (0, 0)
stepfun       :math:`\delta_j` for :math:`s_{j-1} < p \le s_j`, δ₁ = 1     δ = 1
              (Vevea & Hedges 1995)
halfnorm2,    :math:`(\delta_1 + w_{\delta_2}(p)) / (1 + \delta_1)`, with       δ = (0, 0)
negexp2, ...  w of the type without the 2 (metafor's undocumented variants)
trunc         on the effect size, not its p-value: 1 for :math:`y > y_c`,  δ = 1
              δ for :math:`y \le y_c` (``"less"``: 1 for :math:`y < y_c`);
              :math:`y_c` = ``steps`` (default 0); metafor 5's truncated
              distribution model (Rust et al. 1990; Formann 2008)
============  ==========================================================  ==============

For ``trunc`` the integral is :math:`A_i = 1 - (1 - \delta)\Phi(z_i)` with
:math:`z_i = (y_c - x_i'\beta)/\sqrt{v_i + \tau^2}` (``"greater"``; mirrored for ``"less"``).
With ``decreasing=True`` a step function's δ must fall with the p-value,
:math:`1 = \delta_1 \ge \delta_2 \ge \dots`, estimated as running products of factors in
(0, 1) (metafor 5's ``decreasing``, experimental there).

With ``prec=`` (metafor's measure of precision) the δ of halfnorm, negexp, logistic and power
(δ₂ of their ``2`` variants, δ₁ of negexppow) is multiplied by the study's precision measure
:math:`\pi_i / \max_j \pi_j` (``sei``, ``vi``, ``ninv`` = 1/n or ``sqrtninv`` = 1/sqrt(n)),
in the weight of the observed p-value and in the normalising integral; the reported weight
function is the one at :math:`\pi = 1`, as metafor plots it.

For ``stepfun`` the integral is the sum of normal interval probabilities; for the other types
it is computed by Gauss-Legendre quadrature on the standardised scale
:math:`u = (y - x_i'\beta)/\sqrt{v_i + \tau^2}` over :math:`|u| \le 12`, in panels whose ends
include the points where the weight function has kinks. As metafor does, p-values are clamped
to :math:`[10^{-5}, 1 - 10^{-5}]` for the beta and power types; δ is estimated on a logistic
scale between ``delta_min`` and ``delta_max`` (metafor's defaults: beta [1e-5, 100], the others
[0, 100]), tau² on the log scale, and moderators are standardised during the optimisation
(BFGS, SciPy). Standard errors come from the numerical Hessian of the log-likelihood at the
estimates on the natural scale (β, τ², δ), as metafor's (numDeriv, Richardson extrapolation);
Wald CIs of τ² and δ are truncated at their lower bound 0. The likelihood-ratio test of
selection compares with the ML model without selection (df = number of free δ).

References
----------
Vevea, J. L., & Hedges, L. V. (1995). A general linear model for estimating effect size in the
presence of publication bias. *Psychometrika*, 60(3), 419-435.
Citkowicz, M., & Vevea, J. L. (2017). A parsimonious weight function for modeling publication
bias. *Psychological Methods*, 22(1), 28-41.
Preston, C., Ashby, D., & Smyth, R. (2004). Adjusting for publication bias: Modelling the
selection process. *Journal of Evaluation in Clinical Practice*, 10(2), 313-322.
"""
from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from metaverdict._results import ResultMixin, fmt, fmt_p, read_only
from metaverdict._validation import check_level, choice
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models._numderiv import hessian, inverse_pd
from metaverdict.models._standardise import standardised
from metaverdict.models.confint import tau2_is_fixed
from metaverdict.models.inference import FitStatistics, critical_value, information_criteria
from metaverdict.models.intervals import (
    EstimateCI,
    ProfileCI,
    coefficient_frame,
    coefficient_table,
    coefficient_values,
    profile_bound,
    profile_frame,
    profiled_parameter,
)
from metaverdict.models.random_effects import COMMON_EFFECT, chi2_quantile
from metaverdict.models.results import MetaAnalysisResult

TYPES = ("beta", "halfnorm", "negexp", "logistic", "power", "negexppow", "halfnorm2",
         "negexp2", "logistic2", "power2", "stepfun", "trunc")
PRECISIONS = ("sei", "vi", "ninv", "sqrtninv")
_PREC_TYPES = tuple(t for t in TYPES if t not in ("beta", "stepfun", "trunc"))
ALTERNATIVES = ("greater", "less", "two.sided")
_PVAL_MIN = {"beta": 1e-5, "power": 1e-5}
_TINY_TAU2 = 10 * np.finfo(float).eps
_SQRT_EPS = float(np.finfo(float).eps ** 0.5)
_HALF_WIDTH = 12.0          # quadrature over |u| <= 12 (normal tail mass 3.6e-33)
_PANELS = 48
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


@dataclass(frozen=True)
class _Spec:
    """A weight function and its parameter bounds (metafor's defaults)."""

    n: int
    lower: tuple[float, ...]          # delta.min (optimisation bounds)
    upper: tuple[float, ...]          # delta.max
    init: tuple[float, ...]
    null: tuple[float, ...]           # H0: no selection


def _spec(type_: str, n_steps: int) -> _Spec:
    if type_ == "beta":
        return _Spec(2, (1e-5, 1e-5), (100.0, 100.0), (1.0, 1.0), (1.0, 1.0))
    if type_ == "negexppow":
        return _Spec(2, (0.0, 0.0), (100.0, 100.0), (1.0, 1.0), (0.0, 0.0))
    if type_.endswith("2"):
        return _Spec(2, (0.0, 0.0), (100.0, 100.0), (1.0, 0.25), (0.0, 0.0))
    if type_ == "stepfun":
        n = n_steps
        return _Spec(n, (0.0,) * n, (100.0,) * n, (1.0,) * n, (1.0,) * n)
    if type_ == "trunc":
        return _Spec(1, (0.0,), (100.0,), (1.0,), (1.0,))
    return _Spec(1, (0.0,), (100.0,), (1.0,), (0.0,))


def _weights(type_: str, p: np.ndarray, delta: np.ndarray, steps: np.ndarray,
             prec: np.ndarray | float = 1.0) -> np.ndarray:
    """The weight function w(p; delta) (metafor's ``wi.fun``); ``prec`` is each study's
    precision multiplier of delta (``prec=``; 1 without)."""
    s = float(steps[0])
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if type_ == "stepfun":
            return np.asarray(delta[np.searchsorted(steps, p, side="left")], dtype=float)
        if type_ == "beta":
            return np.asarray(p ** (delta[0] - 1) * (1 - p) ** (delta[1] - 1))
        base = type_.removesuffix("2")
        mixed = base != type_          # w = (delta_1 + w_base(delta_2)) / (1 + delta_1)
        d = (delta[1] if mixed else delta[0]) * prec
        if base == "halfnorm":
            w = np.exp(-d * (p ** 2 - s ** 2))
        elif base == "negexp":
            w = np.exp(-d * (p - s))
        elif base == "logistic":
            w = (np.exp(-d * p) / (1 + np.exp(-d * p))) / (np.exp(-d * s) / (1 + np.exp(-d * s)))
        elif base == "power":
            w = ((1 - p) / (1 - s)) ** d
        else:                               # negexppow
            e = 1 / delta[1]
            w = np.exp(-d * (p ** e - s ** e))
        if mixed:
            w = (delta[0] + w) / (1 + delta[0])
    return np.where(p <= s, 1.0, w)


def p_values(y: np.ndarray, v: np.ndarray, alternative: str) -> np.ndarray:
    """The studies' p-values of their own z test of ``theta_i = 0`` (metafor's
    ``.selmodel.pval``): upper tail for ``"greater"``, lower tail for ``"less"``, two-sided."""
    z = y / np.sqrt(v)
    if alternative == "two.sided":
        return np.asarray(2 * special.ndtr(-np.abs(z)))
    return np.asarray(special.ndtr(-z) if alternative == "greater" else special.ndtr(z))


def _y_at_p(t: np.ndarray, sd: np.ndarray, alternative: str) -> list[np.ndarray]:
    """Effect sizes whose p-value equals ``t`` (each row of ``sd``: the study's sqrt(v))."""
    if alternative == "greater":
        return [-sd * special.ndtri(t)]
    if alternative == "less":
        return [sd * special.ndtri(t)]
    c = -sd * special.ndtri(t / 2)
    return [c, -c]


class _Likelihood:
    """The log-likelihood of a selection model for fixed data, as a function of
    (beta, tau2, delta); the quadrature nodes depend on the data only through fixed kinks."""

    def __init__(self, type_: str, y: np.ndarray, v: np.ndarray, X: np.ndarray,
                 alternative: str, steps: np.ndarray, pval_min: float,
                 prec: np.ndarray) -> None:
        self.type, self.y, self.v, self.X, self.prec = type_, y, v, X, prec
        self.subset: np.ndarray | None = None       # studies the selection applies to
        self.alternative, self.steps, self.pval_min = alternative, steps, pval_min
        p = p_values(y, v, alternative)
        self.p = np.clip(p, pval_min, 1 - pval_min)
        sd = np.sqrt(v)[:, None]
        if type_ == "trunc":        # the side of the cut-point each estimate lies on
            c = float(steps[0])
            self.beyond = y > c if alternative == "greater" else y < c
        elif type_ == "stepfun":
            # cumulative probabilities need the y-thresholds of every step (k, n_steps)
            self.cuts = [np.broadcast_to(c, (len(y), len(steps)))
                         for c in _y_at_p(steps[None, :], sd, alternative)]
        else:
            kinks = [pval_min, 1 - pval_min, float(steps[0])]
            ts = np.array(sorted({t for t in kinks if 0 < t < 1}))
            self.kinks = (np.hstack(_y_at_p(ts[None, :], sd, alternative))
                          if ts.size else np.empty((len(y), 0)))
            if alternative == "two.sided":
                self.kinks = np.hstack([self.kinks, np.zeros((len(y), 1))])

    def with_design(self, X: np.ndarray) -> _Likelihood:
        """The same likelihood with another (e.g. standardised) design matrix."""
        out = copy.copy(self)
        out.X = X
        return out

    def __call__(self, beta: np.ndarray, tau2: float, delta: np.ndarray) -> float:
        tau2 = 0.0 if tau2 < _TINY_TAU2 else tau2
        mu = self.X @ beta
        s2 = self.v + tau2
        if np.any(s2 <= 0):
            return -math.inf
        sd = np.sqrt(s2)
        log_dens = -0.5 * (np.log(2 * np.pi * s2) + (self.y - mu) ** 2 / s2)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.type == "trunc":
                log_w = np.where(self.beyond, 0.0, np.log(delta[0]))
            else:
                log_w = np.log(_weights(self.type, self.p, delta, self.steps, self.prec))
            area = self._area(mu, sd, delta)
            if self.subset is not None:         # the others are not selected: w = A = 1
                log_w = np.where(self.subset, log_w, 0.0)
                area = np.where(self.subset, area, 1.0)
            ll = float(np.sum(log_w + log_dens - np.log(area)))
        return ll if math.isfinite(ll) else -math.inf

    def _area(self, mu: np.ndarray, sd: np.ndarray, delta: np.ndarray) -> np.ndarray:
        if self.type == "trunc":
            below = special.ndtr((float(self.steps[0]) - mu) / sd)    # P(y <= y_c)
            unselected = below if self.alternative == "greater" else 1 - below
            area: np.ndarray = 1 - (1 - delta[0]) * unselected
            return area
        if self.type == "stepfun":
            # P(p <= s_j) for each step; A = sum_j delta_j [P(p <= s_j) - P(p <= s_{j-1})]
            m, sd2 = mu[:, None], sd[:, None]
            if self.alternative == "less":
                cum = special.ndtr((self.cuts[0] - m) / sd2)
            else:       # upper tail beyond c_j (and, two-sided, lower tail below -c_j)
                cum = special.ndtr((m - self.cuts[0]) / sd2)
                if self.alternative == "two.sided":
                    cum = cum + special.ndtr((self.cuts[1] - m) / sd2)
            cum = np.asarray(cum)
            cum[:, -1] = 1.0
            probs = np.diff(np.hstack([np.zeros((len(mu), 1)), cum]), axis=1)
            out: np.ndarray = probs @ delta
            return out
        return self._quadrature(mu, sd, delta)

    def _quadrature(self, mu: np.ndarray, sd: np.ndarray, delta: np.ndarray) -> np.ndarray:
        k = len(mu)
        grid = np.linspace(-_HALF_WIDTH, _HALF_WIDTH, _PANELS + 1)
        kinks = np.clip((self.kinks - mu[:, None]) / sd[:, None], -_HALF_WIDTH, _HALF_WIDTH)
        ends = np.sort(np.hstack([np.broadcast_to(grid, (k, grid.size)), kinks]), axis=1)
        lo, hi = ends[:, :-1, None], ends[:, 1:, None]
        half = (hi - lo) / 2
        u = lo + half * (_GL_NODES + 1)                         # (k, panels, nodes)
        y = mu[:, None, None] + sd[:, None, None] * u
        p = p_values(y, self.v[:, None, None], self.alternative)
        p = np.clip(p, self.pval_min, 1 - self.pval_min)
        w = _weights(self.type, p, delta, self.steps, self.prec[:, None, None])
        f = w * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi)
        out: np.ndarray = np.sum(f * half * _GL_WEIGHTS, axis=(1, 2))
        return out


@dataclass(frozen=True, eq=False, repr=False)
class SelectionModelResult(EstimateCI, ResultMixin):
    """A selection model fitted by maximum likelihood (metafor ``selmodel``).

    ``estimate`` ... ``ci_upper`` describe the (first) coefficient, the selection-adjusted
    pooled effect of an intercept-only model (z test; ``df`` is NaN); ``coefficients`` holds
    every coefficient of a meta-regression. ``delta`` are the selection parameters
    (``selection_parameters`` adds their SE, z test against no selection, and CI);
    ``lrt``/``lrt_df``/``lrt_pvalue`` test selection against the ML model without it
    (``loglik_unadjusted``); ``lrt_tau2`` tests tau² = 0 within the selection model.
    ``p_table`` counts the observed p-values per interval of ``steps`` (step functions, or a
    continuous type with a cut-off). ``fit_statistics`` has the ML columns (REML ones NaN).
    """

    type: str
    alternative: str
    steps: tuple[float, ...]
    k: int
    level: float
    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_lower: float
    ci_upper: float
    tau2: float
    tau2_se: float
    tau2_ci_lower: float
    tau2_ci_upper: float
    delta: np.ndarray
    delta_fixed: np.ndarray
    lrt: float
    lrt_df: int
    lrt_pvalue: float
    lrt_tau2: float
    lrt_tau2_pvalue: float
    loglik: float
    loglik_unadjusted: float
    fit_statistics: FitStatistics
    qm: float | None
    qm_df: int | None
    qm_pvalue: float | None
    terms: tuple[str, ...]
    vcov: np.ndarray
    p_values: np.ndarray
    p_table: tuple[int, ...] | None
    converged: bool
    _coefficients: np.ndarray = field(repr=False)
    _delta_table: np.ndarray = field(repr=False)
    df: float = float("nan")
    prec: str | None = None
    _problem: _Problem | None = field(default=None, repr=False, kw_only=True)
    _repr_fields = ("type", "k", "estimate", "ci_lower", "ci_upper", "tau2", "lrt_pvalue")
    _dict_properties = ("coefficients", "selection_parameters")

    @property
    def coefficients(self) -> pd.DataFrame:
        """estimate, se, statistic (z), pvalue, ci_lower, ci_upper per coefficient."""
        return coefficient_frame(self._coefficients, self.terms)

    @property
    def delta_names(self) -> tuple[str, ...]:
        return ("delta",) if len(self.delta) == 1 else tuple(
            f"delta.{j + 1}" for j in range(len(self.delta)))

    @property
    def selection_parameters(self) -> pd.DataFrame:
        """The selection parameters: estimate, se, statistic (z against no selection),
        pvalue, ci_lower, ci_upper (NaN se for fixed ones; ``fixed`` marks them)."""
        out = coefficient_frame(self._delta_table, self.delta_names)
        out["fixed"] = np.array(self.delta_fixed)
        return out

    def weight_function(self, p: Any = None) -> pd.DataFrame:
        """The estimated weight function w(p) (relative likelihood of selection, as metafor's
        ``plot``) on p-values ``p`` (default: 201 points in [0, 1]) -> DataFrame p, weight.
        p-values are clamped as in the fit (to [1e-5, 1 - 1e-5] for beta and power)."""
        if self.type == "trunc":
            raise InputError("weight_function(): a 'trunc' model weighs the effect sizes, not "
                             "their p-values (1 beyond the cut-point, delta on the other side)")
        grid = np.linspace(0, 1, 201) if p is None else np.asarray(p, dtype=float)
        pm = _PVAL_MIN.get(self.type, 0.0)
        w = _weights(self.type, np.clip(grid, pm, 1 - pm), np.asarray(self.delta),
                     np.asarray(self.steps))
        return pd.DataFrame({"p": grid, "weight": w})

    @property
    def estimated_parameters(self) -> tuple[str, ...]:
        """Names of the estimated heterogeneity and selection parameters (``"tau2"`` unless
        tau² is held, as in a common-effect or fixed-tau² fit; then the free δ): what
        :meth:`profile_ci` and :func:`metaverdict.likelihood_profile` can profile."""
        tau = ("tau2",) if self._held().tau2_value is None else ()
        return tau + tuple(n for n, f in zip(self.delta_names, self.delta_fixed) if not f)

    def profile_ci(self, level: float | None = None) -> ProfileCI:
        r"""Profile-likelihood CIs of tau² and the free δ (metafor ``confint`` of a selection
        model): the values where the log-likelihood, maximised over the other parameters,
        drops :math:`\chi^2_{1,level}/2` below its maximum, searched over tau² in
        [0, max(10, 100 tau²)] and δ in [max(0, δ_min), min(max(10, 10 δ), δ_max)] (metafor's
        ranges); a bound at the end of the range means that the profile does not drop that
        far within it. ``table``: ``estimate``, ``ci_lower``, ``ci_upper`` per parameter
        (tau² only for a decreasing step function, whose δ bound each other)."""
        level = self.level if level is None else check_level(level)
        pr = self._held()
        drop = chi2_quantile(level, 1) / 2
        rows = []
        names = [n for n in self.estimated_parameters if n == "tau2" or not pr.decreasing]
        if not names:
            raise InputError("profile_ci(): a decreasing step function's δ cannot be "
                             "profiled (each δ bounds the next), and tau² is not estimated")
        for name in names:
            j = None if name == "tau2" else self.delta_names.index(name)
            value = self.tau2 if j is None else float(self.delta[j])

            def excess(x: float, j: int | None = j) -> float:
                ll = _held_loglik(pr, j, x)
                return self.loglik - ll - drop

            if j is None:
                lo_end, hi_end = 0.0, 10.0 if value <= _SQRT_EPS else max(10.0, 100 * value)
            else:
                lo_end = max(0.0, float(pr.lower[j]))
                hi_end = min(10.0 if value <= _SQRT_EPS else max(10.0, 10 * value),
                             float(pr.upper[j]))
            rows.append((value, profile_bound(excess, value, lo_end),
                         profile_bound(excess, value, hi_end)))
        table = pd.DataFrame(rows, columns=["estimate", "ci_lower", "ci_upper"],
                             index=pd.Index(names, name="parameter"))
        return ProfileCI(level=level, _table=table)

    def _held(self) -> _Problem:
        if self._problem is None:
            raise InputError("this selection model result carries no fitting problem (it was "
                             "not made by selection_model); refit it to profile it")
        return self._problem

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"Selection model (k = {self.k}; type = {self.type}; "
                 f"alternative = {self.alternative}; ML)", ""]
        if self.type == "trunc":
            lines.append(f"cut-point on the effect-size scale: {fmt(self.steps[0])}")
        held = self._problem.lik.subset if self._problem is not None else None
        if held is not None:
            lines.append(f"selection applies to {int(held.sum())} of the {self.k} studies")
        lines.append(f"tau^2 = {fmt(self.tau2)} (SE = {fmt(self.tau2_se)})")
        lines.append(f"LRT for selection: X^2({self.lrt_df}) = {fmt(self.lrt)}, "
                     f"p = {fmt_p(self.lrt_pvalue)}")
        if self.qm is not None:
            lines.append(f"Test of moderators: QM({self.qm_df}) = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_pvalue)}")
        lines += ["", coefficient_table(self._coefficients, self.terms, "z", pct), "",
                  coefficient_table(self._delta_table, self.delta_names, "z", pct)]
        if self.p_table is not None:
            left = (0.0,) + self.steps[:-1]
            lines += [""] + [f"{lo:g} < p <= {hi:g}: k = {n}"
                             for lo, hi, n in zip(left, self.steps, self.p_table)]
        if not self.converged:
            lines.append("WARNING: the optimiser did not converge")
        return "\n".join(lines)


def selection_model(res: MetaAnalysisResult, type: str, *, alternative: str = "greater",
                    steps: Any = None, delta: Any = None, level: float | None = None,
                    delta_min: Any = None, delta_max: Any = None, prec: str | None = None,
                    ni: Any = None, decreasing: bool = False, subset: Any = None
                    ) -> SelectionModelResult:
    r"""Fit a selection model to a fitted meta-analysis (metafor ``selmodel(res, type=...)``).

    Parameters
    ----------
    res : MetaAnalysisResult
        A fit of :func:`metaverdict.meta_analysis`, with or without moderators, without user
        weights. A random-effects fit is refitted by ML (as metafor does); a common-effect
        fit keeps tau² = 0.
    type : str
        ``"beta"``, ``"halfnorm"``, ``"negexp"``, ``"logistic"``, ``"power"``,
        ``"negexppow"``, ``"stepfun"``, ``"trunc"``, or ``"halfnorm2"``, ``"negexp2"``,
        ``"logistic2"``, ``"power2"`` (module docstring).
    alternative : {"greater", "less", "two.sided"}
        The direction of the studies' p-values: ``"greater"`` when significant positive
        effects are more likely published (metafor's default).
    steps : float or sequence, optional
        Cut-points on the p-value scale in (0, 1]: required for ``"stepfun"`` (1 is added;
        one δ per interval, the first fixed at 1); for the continuous types a single value
        below which the weight is 1; for ``"trunc"`` the cut-point on the effect-size scale
        (default 0).
    delta : sequence, optional
        Fixed values of the selection parameters (NaN entries are estimated), e.g. a priori
        step weights (Vevea & Woods 2005).
    level : float, optional
        Confidence level (default: the fit's).
    delta_min, delta_max : float or sequence, optional
        Bounds of δ in the optimisation (metafor ``control=list(delta.min, delta.max)``).
    prec : {"sei", "vi", "ninv", "sqrtninv"}, optional
        A measure of precision that scales the selection parameter per study (metafor
        ``prec=``): δ becomes δ·π_i, with π_i the study's standard
        error, sampling variance, 1/n or 1/sqrt(n), divided by its largest value, so that the
        most imprecise study has the full selection strength. Only for the halfnorm, negexp,
        logistic, power and negexppow types and their ``2`` variants (metafor ignores it for
        ``beta`` and calls it experimental for ``stepfun``; here both raise ``InputError``).
    ni : sequence, optional
        The studies' sample sizes, needed for ``prec="ninv"`` or ``"sqrtninv"``.
    decreasing : bool
        Step functions only: constrain δ to fall with the p-value,
        :math:`1 \ge \delta_2 \ge \delta_3 \ge \dots` (metafor 5's ``decreasing``,
        experimental there); not with fixed δ, and without profiles of δ.
    subset : sequence of bool or int, optional
        The studies the selection applies to (a mask, or 0-based positions; metafor 5's
        ``subset``): the others enter with their plain normal likelihood (weight and
        normalising integral 1), e.g. registered trials that were published whatever their
        result. ``p_table`` counts the subset only.

    Returns
    -------
    SelectionModelResult

    Raises
    ------
    InputError
        Unknown type or alternative, bad steps, delta, prec or ni, user weights, too few
        studies for the
        parameters, or a step interval without any observed p-value (its weight cannot be
        estimated; metafor stops as well).

    Examples
    --------
    >>> import metaverdict as mv
    >>> from metaverdict.models.selection import selection_model
    >>> yi = [0.41, 0.32, 0.18, 0.05, 0.62, 0.12, 0.29, 0.51, -0.05, 0.22]
    >>> vi = [0.04, 0.02, 0.01, 0.005, 0.09, 0.008, 0.03, 0.06, 0.004, 0.02]
    >>> sel = selection_model(mv.meta_analysis(yi, vi, method="ML"), "stepfun", steps=0.025)
    >>> sel.p_table
    (4, 6)
    """
    type_ = choice(type, TYPES, "type")
    alternative = choice(alternative, ALTERNATIVES, "alternative")
    if type_ == "trunc" and alternative == "two.sided":
        raise InputError("field 'alternative': a 'trunc' model is one-sided ('greater' or "
                         "'less')")
    level = res.level if level is None else check_level(level)
    if res.user_weights is not None:
        raise InputError("field 'weights': a selection model needs the inverse-variance "
                         "weighted fit (refit without weights=)")
    held_tau2 = res.method in COMMON_EFFECT or tau2_is_fixed(res)
    tau2_value = (0.0 if res.method in COMMON_EFFECT else float(res.tau2)) if held_tau2 \
        else None
    base = res if res.method in ("ML", *COMMON_EFFECT) or held_tau2 else _refit_ml(res)
    step_arr = _steps(type_, steps)
    spec = _spec(type_, len(step_arr))
    lower = _per_delta(delta_min, spec.lower, spec.n, "delta_min")
    upper = _per_delta(delta_max, spec.upper, spec.n, "delta_max")
    fixed = _fixed_delta(delta, spec.n, type_)
    y, v = np.asarray(res.yi, dtype=float), np.asarray(res.vi, dtype=float)
    X = np.ones((len(y), 1)) if res.design is None else np.asarray(res.design, dtype=float)
    k, p = X.shape
    free = np.isnan(fixed)
    n_par = p + (0 if held_tau2 else 1) + int(free.sum())
    if k < n_par:
        raise InputError(f"k = {k} studies are too few to fit the selection model "
                         f"({n_par} parameters)")
    pval_min = _PVAL_MIN.get(type_, 0.0)
    prec = None if prec is None else choice(prec, PRECISIONS, "prec")
    lik = _Likelihood(type_, y, v, X, alternative, step_arr, pval_min,
                      _precision(prec, ni, v, type_))
    lik.subset = _subset(subset, k)
    observed = lik.p if lik.subset is None else lik.p[lik.subset]
    p_table = _p_table(observed, step_arr) if steps is not None and type_ != "trunc" else None
    if p_table is not None:
        empty = [j for j, n in enumerate(p_table) if n == 0]
        if type_ == "stepfun":
            empty = [j for j in empty if free[j]]
        if empty:
            left = (0.0,) + tuple(step_arr[:-1])
            raise InputError("no observed p-value in the interval(s) "
                             + ", ".join(f"{left[j]:g} < p <= {step_arr[j]:g}" for j in empty)
                             + f" (alternative={alternative!r}); their selection weight cannot "
                             "be estimated: use fewer or other steps")
    lower = np.where(~free & (lower > np.nan_to_num(fixed, nan=np.inf)),
                     fixed - np.finfo(float).eps ** 0.2, lower)
    upper = np.where(~free & (upper < np.nan_to_num(fixed, nan=-np.inf)),
                     fixed + np.finfo(float).eps ** 0.2, upper)
    init = np.where(free, np.clip(spec.init, lower, upper), fixed)
    if not isinstance(decreasing, (bool, np.bool_)):
        raise InputError(f"field 'decreasing': True or False expected, got {decreasing!r}")
    if decreasing and (type_ != "stepfun" or not free[1:].all()):
        raise InputError("field 'decreasing': applies to step functions whose δ (after the "
                         "first) are all estimated")
    if decreasing and (delta_min is not None or delta_max is not None):
        raise InputError("field 'decreasing': its δ lie in [0, 1] by construction; leave out "
                         "delta_min and delta_max")
    return _fit(_Problem(type_, alternative, step_arr, level, res, base, lik, spec, fixed,
                         free, tau2_value, p_table, lower, upper, init, prec,
                         bool(decreasing)))


@dataclass(frozen=True, eq=False)
class _Problem:
    """Everything a fit (and each refit of a profile) needs: ``fixed`` holds the δ values
    held fixed (NaN where ``free``); ``tau2_value`` the fixed tau² (None: estimated)."""

    type: str
    alternative: str
    steps: np.ndarray
    level: float
    res: MetaAnalysisResult
    base: MetaAnalysisResult
    lik: _Likelihood
    spec: _Spec
    fixed: np.ndarray
    free: np.ndarray
    tau2_value: float | None
    p_table: tuple[int, ...] | None
    lower: np.ndarray
    upper: np.ndarray
    init: np.ndarray
    prec: str | None
    decreasing: bool = False

    def holding(self, parameter: int | None, value: float) -> _Problem:
        """The problem with δ ``parameter`` (0-based; None: tau²) held at ``value``."""
        if parameter is None:
            return replace(self, tau2_value=float(value))
        assert not self.decreasing, "profiles of decreasing step functions are refused"
        fixed, free, init = self.fixed.copy(), self.free.copy(), self.init.copy()
        fixed[parameter] = init[parameter] = value
        free[parameter] = False
        return replace(self, fixed=fixed, free=free, init=init)


def _held_fit(pr: _Problem, parameter: int | None, value: float) -> SelectionModelResult | None:
    """The fit with δ ``parameter`` (None: tau²) held at ``value``; None when it fails
    (metafor's NA); warnings of the refit are silenced (metafor's ``suppressWarnings``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = _fit(pr.holding(parameter, value))
        except (InputError, ConvergenceError, np.linalg.LinAlgError, ValueError):
            return None
    return out if math.isfinite(out.loglik) else None


def _held_loglik(pr: _Problem, parameter: int | None, value: float) -> float:
    """The maximised log-likelihood with one parameter held (the curve of a profile); -inf
    where the refit fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            held = pr.holding(parameter, value)
            fit = _maximise(held.lik, held.base, np.asarray(held.lik.X), held.fixed,
                            held.free, held.lower, held.upper, held.init, held.tau2_value,
                            held.decreasing)
        except (InputError, ConvergenceError, np.linalg.LinAlgError, ValueError):
            return -math.inf
    return fit.ll if math.isfinite(fit.ll) else -math.inf


def profile_values(res: SelectionModelResult, component: str | None, steps: int,
                   xlim: tuple[float, float] | None
                   ) -> tuple[str, float, tuple[float, float], pd.DataFrame]:
    """The rows of the likelihood profile of one estimated parameter of a selection model
    (``"tau2"`` or a δ name, see :attr:`SelectionModelResult.estimated_parameters`; may be
    omitted when only one is estimated): refits with it held at ``steps`` values over
    ``xlim`` (default metafor's: the estimate ± 2.576 SE, else from a quarter to four times
    the estimate, at least up to 0.1 and within the parameter's bounds), the others
    estimated. Returns the name, the estimate, the range and the table (see
    :class:`metaverdict.diagnostics.profile.LikelihoodProfile`)."""
    pr = res._held()
    component = profiled_parameter(component, res.estimated_parameters,
                                   "tau² or selection parameter")
    j = None if component == "tau2" else res.delta_names.index(component)
    if j is not None and pr.decreasing:
        raise InputError("likelihood_profile(): a decreasing step function's δ cannot be "
                         "profiled (each δ bounds the next)")
    value = res.tau2 if j is None else float(res.delta[j])
    se = res.tau2_se if j is None else float(res.selection_parameters["se"].iloc[j])
    lo_b, hi_b = (0.0, math.inf) if j is None else (float(pr.lower[j]), float(pr.upper[j]))
    if xlim is None:
        z = float(special.ndtri(0.995))
        lo, hi = (value / 4, value * 4) if not math.isfinite(se) else (value - z * se,
                                                                       value + z * se)
        xlim = (max(0.0, lo, lo_b), min(max(0.1, hi), hi_b))
    elif not (lo_b <= xlim[0] and xlim[1] <= hi_b):
        raise InputError(f"field 'xlim': {component} ranges over [{lo_b:g}, {hi_b:g}]")
    points = []
    for x in np.linspace(xlim[0], xlim[1], steps):
        fit = _held_fit(pr, j, float(x))
        points.append((float(x), np.nan if fit is None else fit.loglik,
                       None if fit is None else fit.coefficients))
    return component, value, (float(xlim[0]), float(xlim[1])), profile_frame(
        component, res.terms, points)


def _fit(pr: _Problem) -> SelectionModelResult:
    fit = _maximise(pr.lik, pr.base, np.asarray(pr.lik.X), pr.fixed, pr.free, pr.lower,
                    pr.upper, pr.init, pr.tau2_value, pr.decreasing)
    return _result(pr, fit)


def _subset(subset: Any, k: int) -> np.ndarray | None:
    """``subset`` as a mask of the k studies (None: all)."""
    if subset is None:
        return None
    arr = np.asarray(subset)
    if arr.dtype == bool:
        if arr.shape != (k,):
            raise InputError(f"field 'subset': a mask of the {k} studies expected, got "
                             f"{arr.size} values")
        mask = arr.copy()
    else:
        try:
            pos = np.asarray(arr, dtype=float).ravel()
        except (TypeError, ValueError):
            raise InputError(f"field 'subset': a mask or study positions expected, got "
                             f"{subset!r}") from None
        if not np.all(np.isfinite(pos) & (pos == np.round(pos)) & (pos >= 0) & (pos < k)):
            raise InputError(f"field 'subset': positions must be integers in 0..{k - 1}")
        if k > 2 and len(pos) == k and np.isin(pos, (0, 1)).all():
            raise InputError("field 'subset': looks like a 0/1 indicator of the studies; give "
                             "it as booleans (a mask), or give positions")
        if len(np.unique(pos)) != len(pos):
            raise InputError("field 'subset': a position is given twice")
        mask = np.zeros(k, dtype=bool)
        mask[pos.astype(int)] = True
    if not mask.any():
        raise InputError("field 'subset': selects no study")
    return None if mask.all() else mask


def _precision(prec: str | None, ni: Any, v: np.ndarray, type_: str) -> np.ndarray:
    """Each study's precision multiplier of delta (metafor's ``preci``, scaled by its max)."""
    if prec is None:
        if ni is not None:
            raise InputError("field 'ni': sample sizes are used only with prec='ninv' or "
                             "prec='sqrtninv'")
        return np.ones_like(v)
    if type_ not in _PREC_TYPES:
        raise InputError(f"field 'prec': a precision measure applies to the types "
                         f"{', '.join(_PREC_TYPES)}, not {type_!r}")
    if prec in ("sei", "vi"):
        if ni is not None:
            raise InputError(f"field 'ni': sample sizes are not used with prec={prec!r}")
        out = np.sqrt(v) if prec == "sei" else v.copy()
    else:
        if ni is None:
            raise InputError(f"field 'ni': prec={prec!r} needs the studies' sample sizes")
        n = np.atleast_1d(np.asarray(ni, dtype=float))
        if n.shape != v.shape:
            raise InputError(f"field 'ni': {len(v)} sample sizes expected, got {n.size}")
        bad = np.flatnonzero(~np.isfinite(n) | (n <= 0))
        if bad.size:
            raise InputError(f"row {int(bad[0]) + 1}, field 'ni': a sample size must be a positive "
                             f"number, got {n[bad[0]]!r}")
        out = 1 / n if prec == "ninv" else 1 / np.sqrt(n)
    return np.asarray(out / out.max())


def _refit_ml(res: MetaAnalysisResult) -> MetaAnalysisResult:
    from metaverdict.models.univariate import fit
    return fit(np.asarray(res.yi), np.asarray(res.vi), method="ML", test="z", level=res.level,
               X=None if res.design is None else np.asarray(res.design),
               names=list(res.terms), skip_r2=True)


def _steps(type_: str, steps: Any) -> np.ndarray:
    if type_ == "trunc":            # a cut-point on the effect-size scale
        arr = _numbers(0.0 if steps is None else steps, "steps")
        if arr.shape != (1,) or not np.isfinite(arr[0]):
            raise InputError(f"field 'steps': a 'trunc' model takes one finite cut-point on "
                             f"the effect-size scale, got {steps!r}")
        return arr
    if steps is None:
        if type_ == "stepfun":
            raise InputError("field 'steps': a step-function model needs its p-value "
                             "cut-points, e.g. steps=0.025 or steps=[0.025, 0.1, 0.5]")
        return np.array([0.0])
    arr = _numbers(steps, "steps")
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        raise InputError(f"field 'steps': cut-points must be numbers in [0, 1], got {steps!r}")
    arr = np.unique(arr)
    if arr[-1] != 1:
        arr = np.append(arr, 1.0)
    if type_ != "stepfun" and len(arr) != 2:
        raise InputError(f"field 'steps': a {type_!r} model takes a single cut-point")
    return arr


def _numbers(value: Any, name: str) -> np.ndarray:
    """``value`` as a 1-d float array, or an InputError naming the field."""
    try:
        return np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"field {name!r}: numbers expected, got {value!r}") from None


def _per_delta(value: Any, default: tuple[float, ...], n: int, name: str) -> np.ndarray:
    if value is None:
        return np.asarray(default, dtype=float)
    arr = _numbers(value, name)
    arr = np.broadcast_to(arr, (n,)) if np.ndim(value) == 0 else arr
    if arr.shape != (n,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(f"field {name!r}: {n} finite values >= 0 expected, got {value!r}")
    return np.array(arr)


def _fixed_delta(delta: Any, n: int, type_: str) -> np.ndarray:
    out = np.full(n, np.nan)
    if delta is not None:
        arr = _numbers(delta, "delta")
        if arr.size == 1:
            arr = np.full(n, arr[0])
        if arr.shape != (n,):
            raise InputError(f"field 'delta': {n} values expected for type {type_!r}, "
                             f"got {arr.size}")
        if np.any(arr[~np.isnan(arr)] < 0) or (type_ == "beta" and np.any(arr <= 0)):
            raise InputError(f"field 'delta': values must be {'>' if type_ == 'beta' else '>='}"
                             f" 0, got {delta!r}")
        out = arr.copy()
    if type_ == "stepfun" and np.isnan(out[0]):
        out[0] = 1.0
    return out


def _p_table(p: np.ndarray, steps: np.ndarray) -> tuple[int, ...]:
    groups = np.searchsorted(steps, p, side="left")
    return tuple(int(n) for n in np.bincount(groups, minlength=len(steps))[:len(steps)])


@dataclass(frozen=True)
class _Fit:
    beta_scaled: np.ndarray
    tau2: float
    delta: np.ndarray
    ll: float
    converged: bool
    Xs: np.ndarray
    M: np.ndarray


def _map(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    out: np.ndarray = lo + (hi - lo) * special.expit(theta)
    return out


def _maximise(lik: _Likelihood, base: MetaAnalysisResult, X: np.ndarray, fixed: np.ndarray,
              free: np.ndarray, lower: np.ndarray, upper: np.ndarray, init: np.ndarray,
              tau2_value: float | None, decreasing: bool = False) -> _Fit:
    """Maximise over β, tau² (unless ``tau2_value`` holds it) and the free δ (with
    ``decreasing``, δ_j = δ_{j-1} expit(θ_j) after δ_1 = 1)."""
    Xs, M = standardised(X)
    p = X.shape[1]
    lik_s = lik.with_design(Xs)
    est_tau2 = tau2_value is None
    tau2_fixed = 0.0 if tau2_value is None else tau2_value

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        beta = theta[:p]
        tau2 = float(np.exp(theta[p])) if est_tau2 else tau2_fixed
        d = fixed.copy()
        if decreasing:
            d[1:] = np.cumprod(special.expit(theta[p + est_tau2:]))
        else:
            d[free] = _map(theta[p + est_tau2:], lower[free], upper[free])
        return beta, tau2, d

    def objective(theta: np.ndarray) -> float:
        val = -lik_s(*unpack(theta))
        return val if math.isfinite(val) else 1e100

    beta0 = np.linalg.solve(M, np.asarray(base.beta, dtype=float))
    d0 = (np.full(int(free.sum()), 0.9) if decreasing     # running factors below 1
          else (init[free] - lower[free]) / (upper[free] - lower[free]))
    d0 = np.where(d0 > 1 - 1e-6, 0.9, np.where(d0 < 1e-6, 0.1, d0))   # off a bound: the
    # logistic map is flat there (e.g. the default start 1 with delta_max = 1)
    theta0 = np.concatenate([beta0, [math.log(base.tau2 + 0.001)] if est_tau2 else [],
                             special.logit(np.clip(d0, 1e-12, 1 - 1e-12))])
    opt = optimize.minimize(objective, theta0, method="BFGS",
                            options={"gtol": 1e-8, "maxiter": 2000})
    beta, tau2, d = unpack(opt.x)
    tau2 = 0.0 if est_tau2 and tau2 < _TINY_TAU2 else tau2
    converged = bool(opt.success) or opt.status == 2      # 2: precision loss at the optimum
    return _Fit(beta, tau2, d, lik_s(beta, tau2, d), converged, Xs, M)


def _result(pr: _Problem, fit: _Fit) -> SelectionModelResult:
    lik, spec, free, lower, upper, level = pr.lik, pr.spec, pr.free, pr.lower, pr.upper, \
        pr.level
    p = len(fit.beta_scaled)
    est_tau2 = pr.tau2_value is None
    lik_s = lik.with_design(fit.Xs)
    n_d = len(fit.delta)

    def negll(x: np.ndarray) -> float:
        d = fit.delta.copy()
        d[free] = x[p + est_tau2:]
        return -lik_s(x[:p], float(x[p]) if est_tau2 else fit.tau2, d)

    x_hat = np.concatenate([fit.beta_scaled, [fit.tau2] if est_tau2 else [], fit.delta[free]])
    cov = _inverse_hessian(negll, x_hat)
    vb_s = cov[:p, :p]
    beta = fit.M @ fit.beta_scaled
    vb = fit.M @ vb_s @ fit.M.T
    se = np.sqrt(np.diagonal(vb))
    crit = critical_value(level)
    z = beta / se
    pv = 2 * special.ndtr(-np.abs(z))
    tau2_se = float(np.sqrt(cov[p, p])) if est_tau2 else float("nan")
    d_se = np.full(n_d, np.nan)
    d_se[free] = np.sqrt(np.diagonal(cov)[p + est_tau2:])
    d_z = (fit.delta - np.asarray(spec.null)) / d_se
    d_table = coefficient_values(fit.delta, d_se, d_z, 2 * special.ndtr(-np.abs(d_z)),
                                 np.maximum(fit.delta - crit * d_se, 0.0),
                                 fit.delta + crit * d_se)
    if np.any(fit.delta[free] <= lower[free] + np.finfo(float).eps ** 0.25) or np.any(
            fit.delta[free] >= upper[free] - 100 * np.finfo(float).eps ** 0.25):
        warnings.warn("one or more delta estimates are (almost) at their lower or upper bound "
                      "(delta_min/delta_max); treat the results with caution", UserWarning,
                      stacklevel=3)
    lrt_tau2 = lrt_tau2_p = float("nan")
    if est_tau2:
        null = _maximise(lik, pr.base, np.asarray(lik.X), pr.fixed, free, lower, upper,
                         pr.init, 0.0, pr.decreasing)
        lrt_tau2 = max(0.0, -2 * (null.ll - fit.ll))
        lrt_tau2_p = float(special.chdtrc(1, lrt_tau2))
    ll0 = pr.base.fit_statistics.ll_ml
    lrt = max(0.0, -2 * (ll0 - fit.ll))
    lrt_df = int(np.sum(free))
    lrt_p = float(special.chdtrc(lrt_df, lrt)) if lrt_df > 0 else float("nan")
    k = len(lik.y)
    parms = p + int(est_tau2) + lrt_df
    nan = float("nan")
    stats = FitStatistics(fit.ll, -2 * fit.ll, *information_criteria(fit.ll, k, parms),
                          nan, nan, nan, nan, nan)
    qm = qm_df = qm_p = None
    idx = [j for j, t in enumerate(pr.res.terms) if t != "intrcpt"]
    if idx and p > 1:
        b = beta[idx]
        try:
            qm = float(b @ np.linalg.solve(vb[np.ix_(idx, idx)], b))
        except np.linalg.LinAlgError:
            qm = nan
        qm_df = len(idx)
        qm_p = float(special.chdtrc(qm_df, qm))
    return SelectionModelResult(
        type=pr.type, alternative=pr.alternative, steps=tuple(float(s) for s in pr.steps), k=k,
        level=level, estimate=float(beta[0]), se=float(se[0]), statistic=float(z[0]),
        pvalue=float(pv[0]), ci_lower=float(beta[0] - crit * se[0]),
        ci_upper=float(beta[0] + crit * se[0]), tau2=fit.tau2, tau2_se=tau2_se,
        tau2_ci_lower=max(0.0, fit.tau2 - crit * tau2_se) if est_tau2 else nan,
        tau2_ci_upper=fit.tau2 + crit * tau2_se if est_tau2 else nan,
        delta=read_only(fit.delta), delta_fixed=read_only(~free), lrt=lrt, lrt_df=lrt_df,
        lrt_pvalue=lrt_p, lrt_tau2=lrt_tau2, lrt_tau2_pvalue=lrt_tau2_p, loglik=fit.ll,
        loglik_unadjusted=ll0, fit_statistics=stats, qm=qm, qm_df=qm_df, qm_pvalue=qm_p,
        terms=tuple(pr.res.terms), vcov=read_only(vb), p_values=read_only(lik.p),
        p_table=pr.p_table, converged=fit.converged,
        _coefficients=coefficient_values(beta, se, z, pv, beta - crit * se, beta + crit * se),
        _delta_table=d_table, prec=pr.prec, _problem=pr)


def _inverse_hessian(negll: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Inverse of the numerical Hessian of ``negll`` at ``x`` (NaN with a warning when it is
    not positive definite, as metafor's "Error when trying to invert Hessian")."""
    n = x.size
    if n == 0:
        return np.empty((0, 0))
    cov = inverse_pd(hessian(negll, x, r=6))
    if cov is not None:
        return cov
    warnings.warn("the Hessian of the log-likelihood is not positive definite: standard "
                  "errors are not available (NaN)", UserWarning, stacklevel=4)
    return np.full((n, n), np.nan)


@dataclass(frozen=True, repr=False)
class SelectionAdjustedResult(ResultMixin):
    """The pooled effect adjusted for publication bias by the three-parameter selection model
    (:func:`selection_adjusted`).

    ``estimable`` is False, with the ``reason`` in words, when the model cannot be fitted
    (too few studies on one side of the cut-point, too few studies for the parameters, or a
    failed fit); the adjusted numbers are then NaN and ``model`` is None. ``n_significant``
    and ``n_nonsignificant`` count the studies with one-sided p <= and > ``cutpoint``.
    """

    estimable: bool
    reason: str | None
    cutpoint: float
    alternative: str
    unadjusted_estimate: float
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pvalue: float
    tau2: float
    weight_nonsignificant: float
    lrt_pvalue: float
    n_significant: int
    n_nonsignificant: int
    model: SelectionModelResult | None = field(default=None, repr=False)
    _repr_fields = ("estimable", "estimate", "ci_lower", "ci_upper", "unadjusted_estimate")

    def summary(self) -> str:
        head = (f"Three-parameter selection model (one-sided p cut-point {self.cutpoint:g}, "
                f"alternative = {self.alternative}; {self.n_significant} studies with "
                f"p <= {self.cutpoint:g}, {self.n_nonsignificant} with p > {self.cutpoint:g})")
        if not self.estimable:
            return f"{head}\nNot estimable: {self.reason}"
        return (f"{head}\nadjusted estimate {fmt(self.estimate)} "
                f"[{fmt(self.ci_lower)}, {fmt(self.ci_upper)}], p = {fmt_p(self.pvalue)} "
                f"(unadjusted {fmt(self.unadjusted_estimate)}); weight of non-significant "
                f"studies {fmt(self.weight_nonsignificant)}, LRT p = {fmt_p(self.lrt_pvalue)}")


def selection_adjusted(res: MetaAnalysisResult, *, cutpoint: float = 0.025,
                       alternative: str | None = None,
                       min_per_side: int = 1) -> SelectionAdjustedResult:
    """The pooled effect adjusted for small-study/publication bias by the Vevea-Hedges
    three-parameter selection model (3PSM): a step function with one cut-point at one-sided
    ``p = cutpoint`` (0.025: two-sided significance at 0.05 in the expected direction).

    Parameters
    ----------
    res : MetaAnalysisResult
        The unadjusted fit (refitted by ML when it is a random-effects fit by another method).
    cutpoint : float
        The one-sided p-value cut-point, in (0, 1).
    alternative : {"greater", "less"}, optional
        The direction in which significant results are assumed favoured; default: the sign
        of the unadjusted estimate (``"less"`` for a negative pooled effect).
    min_per_side : int
        Fewest studies needed on each side of the cut-point (default 1, metafor's own
        requirement; the estimate is imprecise with few studies on either side).

    Returns
    -------
    SelectionAdjustedResult
        With ``estimable=False`` and a ``reason`` instead of an error when the model cannot
        be estimated from these studies.

    Examples
    --------
    >>> import metaverdict as mv
    >>> from metaverdict.models.selection import selection_adjusted
    >>> res = mv.meta_analysis([0.5, 0.6, 0.4, 0.7], [0.01, 0.02, 0.01, 0.03])
    >>> adj = selection_adjusted(res)
    >>> adj.estimable, adj.n_significant, adj.n_nonsignificant
    (False, 4, 0)
    >>> adj.reason
    'too few studies with one-sided p > 0.025 (0; at least 1 needed)'
    """
    if not 0 < cutpoint < 1:
        raise InputError(f"field 'cutpoint': a p-value in (0, 1) expected, got {cutpoint!r}")
    if alternative is None:
        alternative = "less" if res.estimate < 0 else "greater"
    alternative = choice(alternative, ("greater", "less"), "alternative")
    p = p_values(np.asarray(res.yi, dtype=float), np.asarray(res.vi, dtype=float), alternative)
    n_sig = int(np.sum(p <= cutpoint))
    n_non = len(p) - n_sig
    nan = float("nan")
    reason = None
    for n, side in ((n_sig, "<="), (n_non, ">")):
        if n < min_per_side:
            reason = (f"too few studies with one-sided p {side} {cutpoint:g} ({n}; at least "
                      f"{min_per_side} needed)")
            break
    model = None
    if reason is None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = selection_model(res, "stepfun", alternative=alternative,
                                        steps=cutpoint)
            if not model.converged:
                reason, model = "the likelihood maximisation did not converge", None
            elif not np.isfinite(model.se):
                reason, model = ("the standard errors are not available (the Hessian is not "
                                 "positive definite)"), None
            for w in caught:
                warnings.warn(w.message, w.category, stacklevel=2)
        except InputError as exc:
            reason = str(exc)
    if model is None:
        return SelectionAdjustedResult(False, reason, cutpoint, alternative, res.estimate, nan,
                                       nan, nan, nan, nan, nan, nan, nan, n_sig, n_non)
    return SelectionAdjustedResult(True, None, cutpoint, alternative, res.estimate,
                                   model.estimate, model.se, model.ci_lower, model.ci_upper,
                                   model.pvalue, model.tau2, float(model.delta[1]),
                                   model.lrt_pvalue, n_sig, n_non, model)
