r"""Case (or cluster) deletion diagnostics of multivariate models (metafor
``cooks.distance.rma.mv``, ``dfbetas.rma.mv``, ``hatvalues.rma.mv``).

For each study i (or each cluster, with ``cluster=``) the model is refitted without it, the
variance components re-estimated from the full fit's values, giving :math:`\hat\beta_{(-i)}`:

* Cook's distance :math:`D_i = (\hat\beta - \hat\beta_{(-i)})'\,
  \widehat{\operatorname{Var}}(\hat\beta)^{-1}(\hat\beta - \hat\beta_{(-i)})`, with the full
  fit's covariance;
* DFBETAS :math:`(\hat\beta_j - \hat\beta_{(-i)j}) / \sqrt{v^*_{jj}}`, where :math:`v^*` is
  the covariance of :math:`\hat\beta` from all studies at the variance components of the
  deletion fit;
* externally studentized residuals (per study) :math:`(y_i - x_i'\hat\beta_{(-i)}) /
  \sqrt{M^{(-i)}_{ii} + x_i'\widehat{\operatorname{Var}}(\hat\beta_{(-i)})x_i}`, with
  :math:`M^{(-i)}` the marginal covariance at the deletion fit's components (metafor
  ``rstudent.rma.mv``);
* hat values: the diagonal of :math:`H = X(X'WX)^{-1}X'W` (W the fit's weight matrix; per
  study only).

Reference: Viechtbauer & Cheung (2010), *Res Synth Methods* 1:112-125.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError
from metaverdict.models.multivariate import MultivariateResult, coefficients, fit_components


def hat_values(res: MultivariateResult) -> np.ndarray:
    """Diagonal of the hat matrix :math:`X(X'WX)^{-1}X'W`."""
    X = res.design
    W = res.weight_matrix()
    H = X @ np.linalg.solve(X.T @ W @ X, X.T @ W)
    out: np.ndarray = np.diag(H).copy()
    return out


def influence(res: MultivariateResult, cluster: Any = None) -> pd.DataFrame:
    """Cook's distances and DFBETAS per study (or per cluster of ``cluster``, one
    identifier per study; rows then in the clusters' order of appearance), with hat values
    per study; see the module docstring.

    Returns
    -------
    DataFrame
        ``cooks_distance``, ``dfbetas_<term>`` per coefficient, and, per study only,
        ``rstudent``, ``resid_deleted``, ``se_deleted`` and ``hat``.
    """
    model = res._model
    k = res.k
    if cluster is None:
        codes, names = np.arange(k), list(res.labels or range(1, k + 1))
    else:
        cl = pd.Series(np.asarray(cluster, dtype=object))
        if len(cl) != k or cl.isna().any():
            raise InputError(f"field 'cluster': need {k} identifiers without missing values")
        codes_arr, uniq = pd.factorize(cl)
        codes, names = np.asarray(codes_arr), list(uniq)
    svb = np.linalg.inv(res.vcov)
    beta = res.beta
    cooks = np.full(len(names), np.nan)
    dfbetas = np.full((len(names), res.p), np.nan)
    resid = np.full(len(names), np.nan)
    se_resid = np.full(len(names), np.nan)
    full_start = np.array(res._values)
    for c in range(len(names)):
        keep = codes != c
        sub = model.subset(keep)
        if np.linalg.matrix_rank(sub.X) < res.p or sub.X.shape[0] <= res.p:
            continue
        values, _, _ = fit_components(sub, full_start if len(full_start) else None)
        b_del, vb_del = coefficients(sub, values)
        d = beta - b_del
        cooks[c] = float(d @ svb @ d)
        _, vb_star = coefficients(model, values)
        dfbetas[c] = d / np.sqrt(np.diag(vb_star))
        if cluster is None:
            x = model.X[c]
            resid[c] = model.y[c] - x @ b_del
            se_resid[c] = np.sqrt(model.marginal(values)[c, c] + x @ vb_del @ x)
    out = pd.DataFrame({"cooks_distance": cooks}, index=pd.Index(names, name="deleted"))
    for j, term in enumerate(res.terms):
        out[f"dfbetas_{term}"] = dfbetas[:, j]
    if cluster is None:
        out["rstudent"] = resid / se_resid
        out["resid_deleted"] = resid
        out["se_deleted"] = se_resid
        out["hat"] = hat_values(res)
    return out
