"""Tests for funnel-plot asymmetry (small-study effects) and the PET-PEESE estimator:
Egger's regression test (metafor ``regtest``), Begg and Mazumdar's rank correlation test
(metafor ``ranktest``) and PET-PEESE (Stanley & Doucouliagos 2014)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import special

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table
from metaverdict._validation import as_float_array, check_bounds, choice
from metaverdict.diagnostics._refit import (
    design_of,
    pool_batch,
    require_intercept_only,
    require_result,
    require_studies,
)
from metaverdict.errors import InputError
from metaverdict.models.inference import Pooled, critical_value
from metaverdict.models.random_effects import SolverControl
from metaverdict.models.results import MetaAnalysisResult

PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
_LIMIT_PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")   # predictor -> 0 as precision -> infinity


class RegressionModel(StrEnum):
    """The model of Egger's test: a meta-regression with the fit's estimator (``"rma"``,
    metafor's default) or weighted least squares with multiplicative dispersion (``"lm"``)."""

    RMA = "rma"
    LM = "lm"


_MODELS = {m.value: m for m in RegressionModel}


@dataclass(frozen=True, repr=False)
class EggerTest(ResultMixin):
    """Regression test for funnel-plot asymmetry.

    ``statistic`` is the z (or t) statistic of the predictor's coefficient, ``pvalue`` its
    two-sided p-value, ``df`` the t degrees of freedom (NaN for z tests); ``slope`` the
    coefficient itself. ``limit_estimate`` and its interval are the intercept, i.e. the
    predicted effect of an infinitely precise study (only for predictors that vanish then:
    sei, vi, ninv, sqrtninv, and models without other moderators; NaN otherwise).
    """

    model: str
    predictor: str
    statistic: float
    pvalue: float
    df: float
    slope: float
    limit_estimate: float
    limit_ci_lower: float
    limit_ci_upper: float
    level: float
    _repr_fields = ("model", "predictor", "statistic", "pvalue", "limit_estimate")

    def summary(self) -> str:
        stat = "z" if np.isnan(self.df) else f"t({fmt(self.df)})"
        pct = int(round(self.level * 100))
        kind = ("weighted regression with multiplicative dispersion" if self.model == "lm"
                else "meta-regression")
        lines = [f"Regression test for funnel plot asymmetry (model: {kind}; "
                 f"predictor: {self.predictor})",
                 f"test for asymmetry: {stat} = {fmt(self.statistic)}, p = {fmt_p(self.pvalue)}"]
        if not np.isnan(self.limit_estimate):
            lines.append(f"limit estimate (as the predictor -> 0): {fmt(self.limit_estimate)} "
                         f"({pct}% CI {fmt(self.limit_ci_lower)} to {fmt(self.limit_ci_upper)})")
        return "\n".join(lines)


def egger_test(res: MetaAnalysisResult, predictor: str = "sei", model: str = "rma",
               ni: Any = None) -> EggerTest:
    """Egger's regression test for funnel-plot asymmetry and its variants (metafor ``regtest``).

    The model of ``res`` is extended by a measure of precision as an extra moderator and the
    test is that its coefficient is zero:

    * ``model="rma"`` (metafor's default): a meta-regression with the same tau² estimator,
      test (z or Hartung-Knapp) and weights as ``res``;
    * ``model="lm"``: the classical Egger test, weighted least squares with weights
      :math:`1/v_i` and a multiplicative dispersion parameter, t test on k - p - 1 df.

    Predictors: ``"sei"`` (standard error, Egger et al. 1997), ``"vi"`` (variance, the PEESE
    form), ``"ni"``, ``"ninv"`` (1/n), ``"sqrtni"``, ``"sqrtninv"`` (:math:`1/\\sqrt n`) with
    sample sizes ``ni``.

    Parameters
    ----------
    res : MetaAnalysisResult
        A fitted model (moderators allowed; the limit estimate needs an intercept-only model).
    predictor : str
        One of the predictors above.
    model : {"rma", "lm"}
    ni : array-like, optional
        Total sample size per study, needed by the sample-size predictors.

    Raises
    ------
    InputError
        Unknown predictor or model, missing ``ni``, too few studies (a random-effects model
        needs k > p + 1), or a design that loses full rank.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> test = mv.egger_test(res)
    >>> round(test.statistic, 4), round(test.pvalue, 4)
    (2.3355, 0.0195)

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a
    simple, graphical test. *BMJ* 315:629-634. Sterne JAC, Egger M (2005). Regression methods
    to detect publication and other bias in meta-analysis. In *Publication Bias in
    Meta-Analysis*, Wiley, 99-110.
    """
    require_result(res, "egger_test")
    predictor = choice(predictor, PREDICTORS, "predictor")
    model = choice(model, _MODELS, "model")
    X0 = design_of(res)
    col = _predictor_column(res, predictor, ni)
    X = np.column_stack([X0, col])
    k, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise InputError(f"predictor {predictor!r} is collinear with the model's design "
                         "(e.g. all studies have the same precision); cannot test for asymmetry")
    has_limit = predictor in _LIMIT_PREDICTORS and X0.shape[1] == 1
    if model == RegressionModel.RMA:
        require_studies(k, p, res.method, "Egger's regression test")
        po = (sei_regression(res, res.test, SolverControl())
              if predictor == "sei" and X0.shape[1] == 1
              else _regression(res, X, res.test, SolverControl()))
        lim = (po.beta[0, 0], po.ci_lower[0, 0], po.ci_upper[0, 0]) if has_limit else _nan3()
        return EggerTest(model, predictor, float(po.statistic[0, -1]), float(po.pvalue[0, -1]),
                         float(po.df), float(po.beta[0, -1]), *map(float, lim), res.level)
    if k < p:
        raise InputError(f"Egger's regression test needs at least {p} studies, got k = {k}")
    beta, se, df = _weighted_lm(res.yi, 1 / res.vi, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
        pval = 2 * special.stdtr(df, -np.abs(t)) if df > 0 else np.full_like(t, np.nan)
    crit = critical_value(res.level, df)
    lim = (beta[0], beta[0] - crit * se[0], beta[0] + crit * se[0]) if has_limit else _nan3()
    return EggerTest(model, predictor, float(t[-1]), float(pval[-1]), float(df), float(beta[-1]),
                     *map(float, lim), res.level)


def _regression(res: MetaAnalysisResult, X: np.ndarray, test: str,
                control: SolverControl) -> Pooled:
    """The model of ``res`` refitted with the design ``X`` (same estimator, level and user
    weights; ``test`` z or knha)."""
    a = None if res.user_weights is None else np.asarray(res.user_weights)[None]
    _, po = pool_batch(res.method, test, res.level, res.yi[None], res.vi[None], X[None], a,
                       control)
    return po


def sei_regression(res: MetaAnalysisResult, test: str, control: SolverControl) -> Pooled:
    """The meta-regression of ``res`` (intercept-only) on the standard errors ``sqrt(vi)``:
    Egger's test, PET and trim-and-fill's choice of side; made once per fit, test and control
    and shared."""
    X = np.column_stack([np.ones(res.k), np.sqrt(res.vi)])
    return res.derived(("sei_regression", test, control),
                       lambda: _regression(res, X, test, control))


def _predictor_column(res: MetaAnalysisResult, predictor: str, ni: Any) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(res.vi)
    if predictor == "vi":
        return res.vi
    if ni is None:
        raise InputError(f"predictor {predictor!r} needs the sample sizes: pass ni=")
    n = as_float_array(ni, "ni", res.labels)
    if len(n) != res.k:
        raise InputError(f"field 'ni': expected one sample size per study ({res.k}), got {len(n)}")
    check_bounds(n, "ni", res.labels, lower=0, lower_strict=True)
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


def _weighted_lm(y: np.ndarray, w: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with a multiplicative dispersion parameter (R ``lm(weights=)``):
    coefficients, standard errors and residual df."""
    k, p = X.shape
    xw = X.T * w
    cov = np.linalg.inv(xw @ X)
    beta = cov @ (xw @ y)
    df = k - p
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = float(np.sum(w * (y - X @ beta) ** 2) / df) if df > 0 else np.nan
    return beta, np.sqrt(np.diag(cov) * sigma2), df


def _nan3() -> tuple[float, float, float]:
    return (np.nan, np.nan, np.nan)


@dataclass(frozen=True, repr=False)
class RankTest(ResultMixin):
    """Begg and Mazumdar's rank correlation test: Kendall's tau between standardised effects
    and sampling variances (``statistic``) and its two-sided ``pvalue``; ``exact`` tells
    whether the p-value is exact or from the normal approximation."""

    statistic: float
    pvalue: float
    exact: bool
    _repr_fields = ("statistic", "pvalue")

    def summary(self) -> str:
        return (f"Rank correlation test for funnel plot asymmetry: Kendall's tau = "
                f"{fmt(self.statistic)}, p = {fmt_p(self.pvalue)} "
                f"({'exact' if self.exact else 'normal approximation'})")


def rank_test(res: MetaAnalysisResult) -> RankTest:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (metafor ``ranktest``).

    The effects are standardised against the common-effect estimate
    :math:`\\hat\\theta = \\sum w_i y_i / \\sum w_i` (:math:`w_i = 1/v_i`),

    .. math::  y_i^* = (y_i - \\hat\\theta) / \\sqrt{v_i - 1/\\textstyle\\sum w_j},

    and Kendall's tau (tau-b) between :math:`y_i^*` and :math:`v_i` is tested. As R's
    ``cor.test(exact=TRUE)``: without ties (and k <= 170) the p-value is exact (the null
    distribution of the number of concordant pairs); with ties it uses the normal
    approximation with the tie-corrected variance, without continuity correction.

    Raises
    ------
    InputError
        For models with moderators, or fewer than 2 studies.

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. *Biometrics* 50:1088-1101.
    """
    require_result(res, "rank_test")
    require_intercept_only(res, "the rank correlation test")
    if res.k < 2:
        raise InputError(f"the rank correlation test needs at least 2 studies, got k = {res.k}")
    y, v = res.yi, res.vi
    w = 1 / v
    theta = np.sum(w * y) / np.sum(w)
    ystar = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    return _kendall_test(ystar, v)


def _kendall_test(x: np.ndarray, y: np.ndarray) -> RankTest:
    n = len(x)
    iu = np.triu_indices(n, 1)
    sx = np.sign(x[:, None] - x[None, :])[iu]
    sy = np.sign(y[:, None] - y[None, :])[iu]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = float(np.sum(sx * sy) / np.sqrt(np.sum(sx * sx) * np.sum(sy * sy)))
    if np.isnan(tau):                       # a constant variable: R's cor.test gives NA
        return RankTest(float("nan"), float("nan"), False)
    ties = min(len(np.unique(x)), len(np.unique(y))) < n
    if not ties and n <= 170:               # R: n! overflows beyond 170 and cor.test falls back
        pairs = n * (n - 1) // 2
        q = int(np.round((tau + 1) * pairs / 2))
        tail = _mahonian_cdf(q, n) if q <= pairs / 2 else _mahonian_cdf(pairs - q, n)
        return RankTest(tau, min(1.0, 2 * tail), True)
    s = tau * np.sqrt(_untied_pairs(x) * _untied_pairs(y))
    var_s = _tied_variance(x, y, n)
    z = s / np.sqrt(var_s)
    return RankTest(tau, float(2 * special.ndtr(-abs(z))), False)


def _mahonian_cdf(q: int, n: int) -> float:
    """P(T <= q) for the number T of inversions of a random permutation of n items
    (the null distribution of Kendall's statistic), by convolution, truncated at q."""
    dist = np.ones(1)
    for m in range(2, n + 1):
        dist = np.convolve(dist, np.full(m, 1.0 / m))[: q + 1]
    return float(np.sum(dist[: q + 1]))


def _tie_counts(x: np.ndarray) -> np.ndarray:
    _, counts = np.unique(x, return_counts=True)
    return counts[counts > 1].astype(float)


def _untied_pairs(x: np.ndarray) -> float:
    n, t = len(x), _tie_counts(x)
    return n * (n - 1) / 2 - np.sum(t * (t - 1)) / 2


def _tied_variance(x: np.ndarray, y: np.ndarray, n: int) -> float:
    """Variance of Kendall's S under independence with ties (Kendall 1970, as R's cor.test)."""
    tx, ty = _tie_counts(x), _tie_counts(y)
    v0 = n * (n - 1) * (2 * n + 5)
    vt = np.sum(tx * (tx - 1) * (2 * tx + 5))
    vu = np.sum(ty * (ty - 1) * (2 * ty + 5))
    v1 = np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1))
    v2 = np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2))
    return float((v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2)))


@dataclass(frozen=True, repr=False)
class PetPeese(ResultMixin):
    """PET and PEESE limit estimates and the conditional choice between them.

    ``pet`` is Egger's test with the standard error as predictor, ``peese`` the same with the
    variance; ``estimate``/``ci_lower``/``ci_upper`` are PEESE's limit estimate when PET's
    intercept differs from zero (two-sided p < ``alpha``), PET's otherwise (``method`` says
    which).
    """

    pet: EggerTest
    peese: EggerTest
    pet_intercept_pvalue: float
    alpha: float
    method: str
    estimate: float
    ci_lower: float
    ci_upper: float
    _repr_fields = ("method", "estimate", "ci_lower", "ci_upper")

    def summary(self) -> str:
        rows = [[name, fmt(t.limit_estimate), fmt(t.limit_ci_lower), fmt(t.limit_ci_upper),
                 fmt(t.statistic), fmt_p(t.pvalue)]
                for name, t in (("PET (se)", self.pet), ("PEESE (variance)", self.peese))]
        head = ["", "limit est.", "ci.lb", "ci.ub", "slope stat", "p"]
        return "\n".join([format_table(head, rows),
                          f"PET intercept p = {fmt_p(self.pet_intercept_pvalue)} -> {self.method} "
                          f"(conditional estimate {fmt(self.estimate)})"])


def pet_peese(res: MetaAnalysisResult, model: str = "rma", alpha: float = 0.05) -> PetPeese:
    """PET-PEESE: precision-effect test and precision-effect estimate with standard error.

    PET regresses the effects on their standard errors, PEESE on their variances (both as
    :func:`egger_test`, by default as meta-regressions with the estimator of ``res``); the
    intercept is the effect expected in an infinitely precise study. The conditional
    estimator reports PEESE when PET's intercept is significantly different from zero at
    two-sided level ``alpha`` (the usual rule tests H0: effect = 0 with PET first, Stanley &
    Doucouliagos 2014), and PET otherwise.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only model.
    model : {"rma", "lm"}
        Meta-regression with the estimator of ``res`` (default), or weighted least squares with
        multiplicative dispersion (Stanley & Doucouliagos's original form).
    alpha : float
        Two-sided significance level of PET's intercept test.

    References
    ----------
    Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce publication
    selection bias. *Research Synthesis Methods* 5:60-78.
    """
    require_result(res, "pet_peese")
    require_intercept_only(res, "PET-PEESE")
    if not 0 < alpha < 1:
        raise InputError(f"field 'alpha': must be in (0, 1), got {alpha!r}")
    pet = egger_test(res, "sei", model)
    peese = egger_test(res, "vi", model)
    p_int = _pet_intercept_pvalue(res, model)
    chosen = peese if p_int < alpha else pet
    return PetPeese(pet, peese, p_int, alpha, "PEESE" if chosen is peese else "PET",
                    chosen.limit_estimate, chosen.limit_ci_lower, chosen.limit_ci_upper)


def _pet_intercept_pvalue(res: MetaAnalysisResult, model: str) -> float:
    if model == RegressionModel.RMA:
        return float(sei_regression(res, res.test, SolverControl()).pvalue[0, 0])
    X = np.column_stack([np.ones(res.k), np.sqrt(res.vi)])
    beta, se, df = _weighted_lm(res.yi, 1 / res.vi, X)
    return float(2 * special.stdtr(df, -abs(beta[0] / se[0]))) if df > 0 else float("nan")
