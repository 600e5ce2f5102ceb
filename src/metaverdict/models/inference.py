"""From a tau² estimate to the pooled estimate, its test, intervals and heterogeneity statistics,
for a batch of analyses (leading axis). Shared by :func:`~metaverdict.models.meta_analysis` and
:mod:`metaverdict.batch`.

* weights :math:`w_i = 1/(v_i + \\hat\\tau^2)`; :math:`\\hat\\beta = (X'WX)^{-1}X'Wy`,
  :math:`\\operatorname{Var}\\hat\\beta = (X'WX)^{-1}` (user weights ``a``: the sandwich
  :math:`(X'AX)^{-1}X'A(V+\\tau^2 I)AX(X'AX)^{-1}`);
* ``test="knha"`` (Hartung-Knapp-Sidik-Jonkman): the variance is multiplied by
  :math:`s^2_w = y'P y/(k-p)` (not truncated at 1, as metafor 3.8) and t with k - p df is used;
  ``test="adhoc"``: the same with :math:`\\max(1, s^2_w)` (the ad hoc correction of Knapp &
  Hartung 2003 and Röver et al. 2015, metafor ``test="adhoc"``), so the interval is never
  narrower than the z interval's variance;
* Cochran's :math:`Q = \\sum (y_i-\\hat\\beta_{EE})^2/v_i` on k - p df;
  :math:`I^2 = 100\\,\\tau^2/(\\tau^2 + \\tilde v)`, :math:`H^2 = 1 + \\tau^2/\\tilde v` with the
  typical within-study variance :math:`\\tilde v = (k-p)/\\operatorname{tr}P_{EE}` (Higgins &
  Thompson 2002); for common-effect models :math:`I^2 = 100\\max(0, (Q-(k-p))/Q)`,
  :math:`H^2 = Q/(k-p)`;
* prediction interval :math:`\\hat\\mu \\pm c\\sqrt{SE^2 + \\hat\\tau^2}` with c the normal
  quantile, or the t quantile on k - p df for Hartung-Knapp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from array_api_compat import device, to_device
from scipy import special

from metaverdict.models import formulas
from metaverdict.models.backend import namespace
from metaverdict.models.projection import Design, reference_point
from metaverdict.models.random_effects import COMMON_EFFECT, Tau2Fit, log_likelihood

Array = Any


class InferenceTest(StrEnum):
    """The test of the coefficients: Wald ``z``, Hartung-Knapp ``knha`` (t on k - p df), or
    Hartung-Knapp with the variance factor truncated at 1 (``adhoc``)."""

    Z = "z"
    KNHA = "knha"
    ADHOC = "adhoc"


#: The tests with a Hartung-Knapp variance factor and t (or F) distributions on k - p df.
T_TESTS = (InferenceTest.KNHA, InferenceTest.ADHOC)


#: Accepted spellings of the tests (any case) and their canonical values.
TESTS: dict[str, InferenceTest] = {"z": InferenceTest.Z, "knha": InferenceTest.KNHA,
                                   "hksj": InferenceTest.KNHA,
                                   "hartung-knapp": InferenceTest.KNHA}
#: The tests of single fits (:func:`~metaverdict.models.meta_analysis`): also ``"adhoc"``
#: (which the batch engine does not offer).
UNIVARIATE_TESTS: dict[str, InferenceTest] = {**TESTS, "adhoc": InferenceTest.ADHOC}


@dataclass(frozen=True)
class Pooled:
    """Pooled fit for a batch; ``beta``/``se`` have shape (batch, p), the rest (batch,)."""

    beta: Array
    vb: Array
    se: Array
    statistic: Array
    pvalue: Array
    ci_lower: Array
    ci_upper: Array
    df: float               # t degrees of freedom (nan for z tests)
    s2w: Array
    q: Array
    q_pvalue: Array
    i2: Array
    h2: Array
    vt: Array               # typical within-study variance
    weights: Array          # (batch, k) percent
    pi_lower: Array
    pi_upper: Array
    crit: float
    projection: Any = None  # the projection with weights 1/(v + tau2) behind beta and s2w


def pool(method: str, test: str, level: float, y: Array, v: Array, fit: Tau2Fit,
         design: Design | None = None, weights: Array | None = None,
         study_weights: bool = True) -> Pooled:
    """Everything that follows from tau² (see module docstring). ``y``, ``v``: (batch, k).

    ``study_weights=False`` leaves ``weights`` (the (batch, k) percentages) as ``None``, which
    the batch engine does not report. p-values and quantiles are computed by SciPy on the host:
    arrays of other libraries (CuPy, PyTorch on a GPU) are copied to NumPy for them
    (``np.asarray`` after ``array_api_compat.to_device(x, "cpu")``) and the results moved back.
    """
    xp = namespace(y, v)
    design = design or Design()
    k, p = y.shape[-1], design.p
    tau2 = fit.tau2
    w = 1 / (v + tau2[..., None])
    # residuals about the study with the largest weight: the same for weights 1/v below
    ref = reference_point(w, y, xp) if design.X is None else None
    pr = design.project(w, y, xp, ref)
    if weights is None:
        beta, vb, wshow = pr.beta, pr.vb(), w
    else:
        beta, vb = _user_weighted(y, v, tau2, design, weights)
        wshow = weights
    df = float(k - p) if test in T_TESTS else float("nan")
    s2w = xp.ones_like(tau2)
    if test in T_TESTS:
        s2w = formulas.knha_s2w(pr.rss, k - p) if k > p else xp.full_like(tau2, float("nan"))
        s2w = xp.where(pr.rss <= _EPS, 0.0, s2w)
        if test == InferenceTest.ADHOC:
            s2w = xp.maximum(s2w, 1.0)
        vb = vb * s2w[..., None, None]
    se = xp.sqrt(vb[..., 0, 0:1] if p == 1 else xp.stack([vb[..., j, j] for j in range(p)],
                                                          axis=-1))
    # se = 0 only with test="knha" and a zero residual Q (all estimates on the fitted line):
    # metafor then reports an infinite statistic and p = 0; we do the same (and 0, p = 1,
    # where the coefficient is itself 0) without dividing by zero
    pos = se > 0
    if bool(xp.all(pos)):
        stat = beta / se
    else:
        inf = xp.full_like(beta, float("inf"))
        stat = xp.where(pos, beta / xp.where(pos, se, 1.0),
                        xp.where(beta > 0, inf, xp.where(beta < 0, -inf, xp.zeros_like(beta))))
    pval, crit = two_sided(stat, df, level)
    fe = (fit.fe_projection if fit.fe_projection is not None
          else design.project(1 / v, y, xp, ref))
    if k > p:
        q = xp.maximum(fe.rss, 0.0)
        q_p = from_host(xp, special.chdtrc(k - p, to_host(q)), q)
        vt = formulas.typical_variance(k - p, fe.tr_p)
        if method in COMMON_EFFECT:
            i2, h2 = formulas.common_effect_i2_h2(xp.where(q > 0, q, 1.0), k - p)
            i2 = xp.where(q > 0, xp.maximum(i2, 0.0), 0.0)
            h2 = q / (k - p)
        else:
            i2, h2 = formulas.i2_h2(tau2, vt)
    else:
        q, q_p, vt = xp.zeros_like(tau2), xp.ones_like(tau2), xp.zeros_like(tau2)
        i2, h2 = xp.zeros_like(tau2), xp.ones_like(tau2)
    ci_lower, ci_upper = formulas.confidence_bounds(beta, se, crit)
    pi_lower, pi_upper = formulas.prediction_bounds(beta[..., 0], se[..., 0], tau2, crit)
    pct = (100 * wshow / xp.sum(wshow, axis=-1, keepdims=True)) if study_weights else None
    return Pooled(beta, vb, se, stat, pval, ci_lower, ci_upper, df, s2w, q, q_p, i2, h2, vt, pct,
                  pi_lower, pi_upper, crit, pr)


_EPS = float(np.finfo(float).eps)


def to_host(x: Array) -> np.ndarray:
    """A NumPy copy of ``x`` for SciPy (a no-op for NumPy arrays; GPU arrays are copied)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(to_device(x, "cpu"))
    except Exception:     # libraries whose host device is not called "cpu" (CuPy)
        return np.asarray(x.get() if hasattr(x, "get") else x)


def from_host(xp: Any, values: np.ndarray, like: Array) -> Array:
    """``values`` as an array of ``xp`` on the device of ``like``."""
    if isinstance(like, np.ndarray):
        return values
    return xp.asarray(values, dtype=like.dtype, device=device(like))


def critical_value(level: float, df: float = float("nan")) -> float:
    """The two-sided critical value of a ``level`` interval: the normal quantile
    ``z_{1-(1-level)/2}`` for ``df`` NaN, else the t quantile on ``df`` degrees of freedom
    (NaN for ``df <= 0``), as ``scipy.stats.norm.isf`` / ``t.isf`` compute them."""
    alpha = (1 - level) / 2
    if math.isnan(df):
        return float(-special.ndtri(alpha))
    if df <= 0:
        return float("nan")
    return float(-special.stdtrit(df, alpha))


def two_sided(stat: Array, df: float, level: float) -> tuple[Array, float]:
    """Two-sided p-values (normal for ``df`` NaN, else t on ``df``) and the critical value."""
    xp = namespace(stat)
    a = np.abs(to_host(stat))
    if math.isnan(df):
        return from_host(xp, 2 * special.ndtr(-a), stat), critical_value(level)
    if df <= 0:
        return from_host(xp, np.full_like(a, np.nan), stat), float("nan")
    return from_host(xp, 2 * special.stdtr(df, -a), stat), critical_value(level, df)


def _user_weighted(y: Array, v: Array, tau2: Array, design: Design,
                   a: Array) -> tuple[Array, Array]:
    """Coefficients with user weights ``a`` and their sandwich covariance (metafor ``weights=``)."""
    pa = design.project(a, y)
    if design.X is None:      # intercept only: Var = sum a_i^2 (v_i + tau2) / (sum a_i)^2
        xp = namespace(y, a)
        var = xp.vecdot(a * a, v + tau2[..., None]) / pa.sum_w ** 2
        return pa.beta, var[..., None, None]
    X = design.X
    bread = pa.vb()                                           # (X'AX)^{-1}
    xa = np.swapaxes(X, -1, -2) * a[..., None, :]
    meat = (xa * (v + tau2[..., None])[..., None, :]) @ np.swapaxes(xa, -1, -2)
    return pa.beta, bread @ meat @ bread


@dataclass(frozen=True)
class FitStatistics:
    """Log-likelihood, deviance, AIC, BIC and AICc under ML and REML (metafor ``fit.stats``)."""

    ll_ml: float
    deviance_ml: float
    aic_ml: float
    bic_ml: float
    aicc_ml: float
    ll_reml: float
    deviance_reml: float
    aic_reml: float
    bic_reml: float
    aicc_reml: float


def fit_statistics(method: str, y: np.ndarray, v: np.ndarray, tau2: float, beta: np.ndarray,
                   design: Design, projection: Any = None,
                   tau2_fixed: bool = False) -> FitStatistics:
    """metafor's ``fit.stats`` for one fit (``y``, ``v`` of shape (1, k)); the residual sum of
    squares uses the final coefficients ``beta`` (which differ from the WLS ones with user
    weights). ``projection``: the projection with weights 1/(v + tau2) (:attr:`Pooled.projection`),
    when already made; ``tau2_fixed``: tau² was given, not estimated (no parameter then)."""
    k, p = y.shape[-1], design.p
    t = np.asarray([tau2])
    fitted = beta[0] if design.X is None else design.X[0] @ beta
    rss = float(np.add.reduce((y[0] - fitted) ** 2 / (v[0] + tau2)))
    pr = projection if projection is not None else design.project(1 / (v + t[:, None]), y)
    correction = 0.5 * (rss - float(pr.rss[0]))
    ll_ml = float(log_likelihood("ML", t, y, v, design, pr)[0]) - correction
    ll_reml = float(log_likelihood("REML", t, y, v, design, pr)[0]) - correction
    sat = -0.5 * float(np.add.reduce(np.log(2 * np.pi * v[0])))
    dev_ml = -2 * (ll_ml - sat) if k > p else 0.0
    parms = p + (0 if method in COMMON_EFFECT or tau2_fixed else 1)
    return FitStatistics(ll_ml, dev_ml, *information_criteria(ll_ml, k, parms), ll_reml,
                         -2 * ll_reml, *information_criteria(ll_reml, k - p, parms))


def information_criteria(ll: float, n: int, parms: int) -> tuple[float, float, float]:
    """AIC, BIC and AICc of a log-likelihood ``ll`` with ``parms`` parameters and ``n``
    observations (metafor's ``fit.stats``: AICc with ``max(n, parms + 2)`` observations; BIC
    -inf for ``n = 0``)."""
    m = max(n, parms + 2)
    log_n = math.log(n) if n > 0 else -math.inf
    return (-2 * ll + 2 * parms, -2 * ll + parms * log_n,
            -2 * ll + 2 * parms * m / (m - parms - 1))
