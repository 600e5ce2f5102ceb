"""From a tau² estimate to the pooled estimate, its test, intervals and heterogeneity statistics,
for a batch of analyses (leading axis). Shared by :func:`~metaverdict.models.meta_analysis` and
:mod:`metaverdict.batch`.

* weights :math:`w_i = 1/(v_i + \\hat\\tau^2)`; :math:`\\hat\\beta = (X'WX)^{-1}X'Wy`,
  :math:`\\operatorname{Var}\\hat\\beta = (X'WX)^{-1}` (user weights ``a``: the sandwich
  :math:`(X'AX)^{-1}X'A(V+\\tau^2 I)AX(X'AX)^{-1}`);
* ``test="knha"`` (Hartung-Knapp-Sidik-Jonkman): the variance is multiplied by
  :math:`s^2_w = y'P y/(k-p)` (not truncated at 1, as metafor 3.8) and t with k - p df is used;
* Cochran's :math:`Q = \\sum (y_i-\\hat\\beta_{EE})^2/v_i` on k - p df;
  :math:`I^2 = 100\\,\\tau^2/(\\tau^2 + \\tilde v)`, :math:`H^2 = 1 + \\tau^2/\\tilde v` with the
  typical within-study variance :math:`\\tilde v = (k-p)/\\operatorname{tr}P_{EE}` (Higgins &
  Thompson 2002); for common-effect models :math:`I^2 = 100\\max(0, (Q-(k-p))/Q)`,
  :math:`H^2 = Q/(k-p)`;
* prediction interval :math:`\\hat\\mu \\pm c\\sqrt{SE^2 + \\hat\\tau^2}` with c the normal
  quantile, or the t quantile on k - p df for Hartung-Knapp.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, to_device
from scipy import special, stats

from metaverdict.models._special import chi2_sf
from metaverdict.models.projection import Design
from metaverdict.models.random_effects import COMMON_EFFECT, Tau2Fit, log_likelihood

Array = Any


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


def pool(method: str, test: str, level: float, y: Array, v: Array, fit: Tau2Fit,
         design: Design | None = None, weights: Array | None = None,
         study_weights: bool = True) -> Pooled:
    """Everything that follows from tau² (see module docstring). ``y``, ``v``: (batch, k).

    ``study_weights=False`` leaves ``weights`` (the (batch, k) percentages) as ``None``, which
    the batch engine does not report. p-values and quantiles are computed by SciPy on the host:
    arrays of other libraries (CuPy, PyTorch on a GPU) are copied to NumPy for them
    (``np.asarray`` after ``array_api_compat.to_device(x, "cpu")``) and the results moved back.
    """
    xp = array_namespace(y, v)
    design = design or Design()
    k, p = y.shape[-1], design.p
    tau2 = fit.tau2
    w = 1 / (v + tau2[..., None])
    pr = design.project(w, y)
    if weights is None:
        beta, vb, wshow = pr.beta, pr.vb(), w
    else:
        beta, vb = _user_weighted(y, v, tau2, design, weights)
        wshow = weights
    df = float(k - p) if test == "knha" else float("nan")
    s2w = xp.ones_like(tau2)
    if test == "knha":
        s2w = pr.rss / (k - p) if k > p else xp.full_like(tau2, float("nan"))
        s2w = xp.where(pr.rss <= 2.220446049250313e-16, 0.0, s2w)
        vb = vb * s2w[..., None, None]
    se = xp.sqrt(xp.stack([vb[..., j, j] for j in range(p)], axis=-1))
    # se = 0 only with test="knha" and a zero residual Q (all estimates on the fitted line):
    # metafor then reports an infinite statistic and p = 0; we do the same (and 0, p = 1,
    # where the coefficient is itself 0) without dividing by zero
    pos = se > 0
    inf = xp.full_like(beta, float("inf"))
    stat = xp.where(pos, beta / xp.where(pos, se, 1.0),
                    xp.where(beta > 0, inf, xp.where(beta < 0, -inf, xp.zeros_like(beta))))
    pval, crit = _two_sided(stat, df, level)
    fe = fit.fe_projection if fit.fe_projection is not None else design.project(1 / v, y)
    if k > p:
        q = xp.maximum(fe.rss, 0.0)
        q_p = _from_host(xp, chi2_sf(_to_host(q), k - p), q)
        vt = (k - p) / fe.tr_p
        if method in COMMON_EFFECT:
            i2 = xp.where(q > 0, xp.maximum(100 * (q - (k - p)) / xp.where(q > 0, q, 1.0), 0.0),
                          0.0)
            h2 = q / (k - p)
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    else:
        q, q_p, vt = xp.zeros_like(tau2), xp.ones_like(tau2), xp.zeros_like(tau2)
        i2, h2 = xp.zeros_like(tau2), xp.ones_like(tau2)
    pi_half = crit * xp.sqrt(se[..., 0] ** 2 + tau2)
    pct = (100 * wshow / xp.sum(wshow, axis=-1, keepdims=True)) if study_weights else None
    return Pooled(beta, vb, se, stat, pval, beta - crit * se, beta + crit * se, df, s2w, q, q_p,
                  i2, h2, vt, pct, beta[..., 0] - pi_half, beta[..., 0] + pi_half, crit)


def _to_host(x: Array) -> np.ndarray:
    """A NumPy copy of ``x`` for SciPy (a no-op for NumPy arrays; GPU arrays are copied)."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(to_device(x, "cpu"))
    except Exception:     # libraries whose host device is not called "cpu" (CuPy)
        return np.asarray(x.get() if hasattr(x, "get") else x)


def _from_host(xp: Any, values: np.ndarray, like: Array) -> Array:
    """``values`` as an array of ``xp`` on the device of ``like``."""
    if isinstance(like, np.ndarray):
        return values
    return xp.asarray(values, dtype=like.dtype, device=device(like))


def _two_sided(stat: Array, df: float, level: float) -> tuple[Array, float]:
    """Two-sided p-values (normal for ``df`` NaN, else t on ``df``) and the critical value."""
    xp = array_namespace(stat)
    a = np.abs(_to_host(stat))
    if np.isnan(df):
        return _from_host(xp, 2 * special.ndtr(-a), stat), float(stats.norm.isf((1 - level) / 2))
    if df <= 0:
        return _from_host(xp, np.full_like(a, np.nan), stat), float("nan")
    return _from_host(xp, 2 * special.stdtr(df, -a), stat), float(stats.t.isf((1 - level) / 2, df))


def _user_weighted(y: Array, v: Array, tau2: Array, design: Design,
                   a: Array) -> tuple[Array, Array]:
    """Coefficients with user weights ``a`` and their sandwich covariance (metafor ``weights=``)."""
    pa = design.project(a, y)
    if design.X is None:      # intercept only: Var = sum a_i^2 (v_i + tau2) / (sum a_i)^2
        xp = array_namespace(y, a)
        var = xp.vecdot(a * a, v + tau2[..., None]) / pa.sum_w ** 2
        return pa.beta, var[..., None, None]
    X = np.ones(y.shape + (1,)) if design.X is None else design.X
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
                   design: Design) -> FitStatistics:
    """metafor's ``fit.stats`` for one fit (``y``, ``v`` of shape (1, k)); the residual sum of
    squares uses the final coefficients ``beta`` (which differ from the WLS ones with user
    weights)."""
    k, p = y.shape[-1], design.p
    X = np.ones((k, 1)) if design.X is None else design.X[0]
    t = np.asarray([tau2])
    rss = float(np.sum((y[0] - X @ beta) ** 2 / (v[0] + tau2)))
    rss_opt = float(design.project(1 / (v + tau2), y).rss[0])
    ll_ml = float(log_likelihood("ML", t, y, v, design)[0]) - 0.5 * (rss - rss_opt)
    ll_reml = float(log_likelihood("REML", t, y, v, design)[0]) - 0.5 * (rss - rss_opt)
    sat = float(np.sum(-0.5 * np.log(2 * np.pi * v[0])))
    dev_ml = -2 * (ll_ml - sat) if k > p else 0.0
    parms = p + (0 if method in COMMON_EFFECT else 1)

    def crit(ll: float, n: int) -> tuple[float, float, float]:
        m = max(n, parms + 2)
        log_n = np.log(n) if n > 0 else -np.inf
        return (-2 * ll + 2 * parms, -2 * ll + parms * log_n,
                -2 * ll + 2 * parms * m / (m - parms - 1))

    return FitStatistics(ll_ml, dev_ml, *crit(ll_ml, k), ll_reml, -2 * ll_reml,
                         *crit(ll_reml, k - p))
