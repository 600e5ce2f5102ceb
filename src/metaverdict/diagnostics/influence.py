"""Outlier and influence diagnostics of a fitted model (metafor ``influence``, ``rstudent``,
``rstandard``, ``hatvalues``, ``dfbetas``, ``cooks.distance``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from metaverdict.diagnostics._refit import (
    design_of,
    leave_one_out_fits,
    require_result,
    study_index,
)
from metaverdict.diagnostics.tables import tables_rstandard
from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.results import MetaAnalysisResult

_EPS = np.finfo(float).eps


def influence(res: MetaAnalysisResult) -> pd.DataFrame:
    """Case-deletion diagnostics for every study (Viechtbauer & Cheung 2010).

    With :math:`\\hat\\beta_{(-i)}`, :math:`\\hat\\tau^2_{(-i)}`, :math:`s^2_{w(-i)}` from the model
    fitted without study *i* (:math:`s^2_w = 1` for z tests), :math:`x_i` the study's row of the
    design and :math:`h_i` its hat value in the full model:

    * ``rstudent``: :math:`(y_i - x_i\\hat\\beta_{(-i)}) /
      \\sqrt{s^2_{w(-i)}(v_i + \\hat\\tau^2_{(-i)})
      + x_i \\operatorname{Var}(\\hat\\beta_{(-i)}) x_i'}` (externally standardised residual);
    * ``dffits``: :math:`x_i(\\hat\\beta - \\hat\\beta_{(-i)}) /
      \\sqrt{s^2_{w(-i)} h_i (v_i + \\hat\\tau^2_{(-i)})}`;
    * ``cooks_distance``: :math:`(\\hat\\beta - \\hat\\beta_{(-i)})'
      \\operatorname{Var}(\\hat\\beta)^{-1} (\\hat\\beta - \\hat\\beta_{(-i)})`;
    * ``cov_ratio``: :math:`\\det \\operatorname{Var}(\\hat\\beta_{(-i)}) /
      \\det \\operatorname{Var}(\\hat\\beta)`;
    * ``tau2_deleted``, ``q_deleted``: tau² and Cochran's Q without study *i*;
    * ``hat``: diagonal of :math:`X(X'WX)^{-1}X'W`,
      :math:`W = \\operatorname{diag}(1/(v_i+\\hat\\tau^2))`;
    * ``weight``: the study's weight in percent;
    * ``dfbs_<coefficient>``: DFBETAS, :math:`(\\hat\\beta_j - \\hat\\beta_{j(-i)}) /
      \\sqrt{s^2_{w(-i)} [(X'W_{(-i)}X)^{-1}]_{jj}}` with :math:`W_{(-i)}` built from
      :math:`\\hat\\tau^2_{(-i)}` over all k studies;
    * ``is_influential``: metafor's rule, true if :math:`|\\text{DFFITS}| > 3\\sqrt{p/(k-p)}`, or
      the :math:`\\chi^2_p` cdf of Cook's distance exceeds 0.5, or :math:`h_i > 3p/k`, or any
      :math:`|\\text{DFBETAS}| > 1`.

    With user weights ``a`` the hat matrix is :math:`X(X'AX)^{-1}X'A` and variances are the
    corresponding sandwich forms, as in metafor.

    Parameters
    ----------
    res : MetaAnalysisResult
        Any univariate model (moderators allowed) with at least two studies.

    Returns
    -------
    DataFrame
        One row per study (indexed by label). A deletion that leaves the design rank-deficient
        gives NaN in that row, as metafor gives NA.

    References
    ----------
    Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for meta-analysis.
    *Research Synthesis Methods* 1:112-125.
    """
    require_result(res, "influence")
    if res.k < 2:
        raise InputError(f"influence diagnostics need at least 2 studies, got k = {res.k}")
    X, y, v = design_of(res), res.yi, res.vi
    k, p = X.shape
    beta = res.beta
    fits = leave_one_out_fits(res)
    t_del, s2w = fits.tau2, fits.s2w
    delpred = np.einsum("ij,ij->i", X, fits.beta)
    vdelpred = np.einsum("ij,ijl,il->i", X, fits.vb, X)
    H, a = _hat_matrix(res)
    hat = _clip_hat(np.diag(H))
    if a is None:
        spread = hat * (t_del + v)
        vb_del = _inv(np.einsum("ji,kj,jl->kil", X, 1 / (v[None, :] + t_del[:, None]), X))
    else:
        spread = (H * H) @ v + (H * H).sum(axis=1) * t_del      # diag(H (V + tau2_(-i) I) H')
        bread = _inv((X.T * a) @ X)
        xa = bread @ (X.T * a)                                    # (p, k)
        vb_del = np.einsum("ij,kj,lj->kil", xa, v[None, :] + t_del[:, None], xa)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dffits = _ratio(X @ beta - delpred, np.sqrt(s2w * spread))
        dfb = beta[None, :] - fits.beta
        dfbs = _ratio(dfb, np.sqrt(s2w[:, None] * np.diagonal(vb_del, axis1=1, axis2=2)))
        cook = _cooks_distance(dfb, res.vcov)
        cov_r = _ratio(np.linalg.det(fits.vb), np.full(k, np.linalg.det(res.vcov)), zero=1.0)
        resid = y - delpred
        resid[np.abs(resid) < 100 * _EPS] = 0
        rstud = _ratio(resid, np.sqrt(v * s2w + vdelpred + t_del * s2w))
    table = pd.DataFrame({"rstudent": rstud, "dffits": dffits, "cooks_distance": cook,
                          "cov_ratio": cov_r, "tau2_deleted": t_del, "q_deleted": fits.q,
                          "hat": hat, "weight": res.weights}, index=study_index(res))
    for j, name in enumerate(res.terms):
        table[f"dfbs_{name}"] = dfbs[:, j]
    with np.errstate(invalid="ignore"):
        table["is_influential"] = ((np.abs(dffits) > 3 * np.sqrt(p / (k - p)) if k > p else False)
                                   | (special.chdtr(p, cook) > 0.5) | (hat > 3 * p / k)
                                   | np.any(np.abs(dfbs) > 1, axis=1))
    return table


def rstandard(res: MetaAnalysisResult | PooledTablesResult) -> pd.DataFrame:
    """Internally standardised (marginal) residuals (metafor ``rstandard``).

    ``resid`` :math:`e = y - X\\hat\\beta`, ``se`` the square roots of the diagonal of
    :math:`(I - H) M (I - H)'` with :math:`M = \\operatorname{diag}(v_i + \\hat\\tau^2)` and ``H``
    the hat matrix (see :func:`influence`), and ``z = resid / se``. For a Mantel-Haenszel or
    Peto pooling (metafor ``rstandard.rma.mh`` / ``.rma.peto``): ``resid`` the study's outcome
    ``yi`` minus the pooled estimate, ``se`` :math:`\\sqrt{v_i}`
    (:func:`~metaverdict.diagnostics.tables.tables_rstandard`; NaN for studies without an
    outcome).

    Returns
    -------
    DataFrame
        Columns resid, se, z; one row per study.
    """
    require_result(res, "rstandard", MetaAnalysisResult, PooledTablesResult)
    if isinstance(res, PooledTablesResult):
        return tables_rstandard(res)
    X = design_of(res)
    e = res.yi - X @ res.beta
    e[np.abs(e) < 100 * _EPS] = 0
    H, _ = _hat_matrix(res)
    ImH = np.eye(res.k) - H
    se = np.sqrt(np.maximum(np.einsum("ij,j,ij->i", ImH, res.vi + res.tau2, ImH), 0.0))
    z = _ratio(e, se)
    return pd.DataFrame({"resid": e, "se": se, "z": z}, index=study_index(res))


def hat_values(res: MetaAnalysisResult) -> np.ndarray:
    """Diagonal of the hat matrix (metafor ``hatvalues``); values within 10 eps of 1 are 1."""
    require_result(res, "hat_values")
    return _clip_hat(np.diag(_hat_matrix(res)[0]))


def hat_matrix(res: MetaAnalysisResult) -> np.ndarray:
    """The hat matrix :math:`H = X(X'WX)^{-1}X'W` (k x k; W = 1/(v + tau²), or the user
    weights) that maps the effects to the fitted values (metafor
    ``hatvalues(type="matrix")``)."""
    require_result(res, "hat_matrix")
    return _hat_matrix(res)[0]


def _hat_matrix(res: MetaAnalysisResult) -> tuple[np.ndarray, np.ndarray | None]:
    """``X (X'WX)^{-1} X'W`` with W = 1/(v + tau2), or the user weights; and those weights.

    Formed from the QR decomposition of :math:`W^{1/2}X` (:math:`H = W^{-1/2} Q Q' W^{1/2}`),
    which never inverts the possibly ill-conditioned :math:`X'WX`."""
    X = design_of(res)
    a = res.user_weights
    if a is None and res.method in ("GENQ", "GENQM"):
        a = 1 / res.vi
    w = 1 / (res.vi + res.tau2) if a is None else np.asarray(a, dtype=float)
    sw = np.sqrt(w)
    q = np.linalg.qr(sw[:, None] * X)[0]
    return (q @ q.T) * (sw[None, :] / sw[:, None]), a


def _inv(m: np.ndarray) -> np.ndarray:
    """Inverse of (a stack of) symmetric matrices; the pseudo-inverse where one is singular
    (never raises ``LinAlgError``)."""
    try:
        out: np.ndarray = np.linalg.inv(m)
        if np.all(np.isfinite(out)):
            return out
    except np.linalg.LinAlgError:
        pass
    try:
        out = np.linalg.pinv(m)
    except np.linalg.LinAlgError:        # SVD did not converge (non-finite entries)
        out = np.full_like(m, np.nan)
    return out


def _ratio(num: np.ndarray, den: np.ndarray, zero: float = 0.0) -> np.ndarray:
    """``num / den`` where ``den > 0``; where ``den == 0`` (Hartung-Knapp with a zero residual
    Q, so a variance is exactly 0): ``zero`` for ``0/0`` and a signed infinity otherwise, as
    metafor's infinite test statistics. NaN stays NaN (metafor's NA)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    pos = den > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.where(pos, num / np.where(pos, den, 1.0),
                       np.where(num == 0, zero, np.sign(num) * np.inf))
    return np.where(np.isnan(den) | np.isnan(num), np.nan, out)


def _cooks_distance(dfb: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """``dfb_i' vcov^{-1} dfb_i`` for every row, solved on the correlation scale (so that
    coefficients in very different units do not make the system ill-conditioned); with a
    singular ``vcov`` (Hartung-Knapp with a zero residual Q) 0 for deletions that leave the
    coefficients where they are and inf for the others."""
    p = vcov.shape[0]
    d = np.sqrt(np.abs(np.diagonal(vcov)))
    if np.all(d > 0) and np.all(np.isfinite(vcov)):
        corr, z = vcov / np.outer(d, d), dfb / d
        try:
            sol = np.linalg.solve(corr, z.T)
            if np.all(np.isfinite(sol)) and np.linalg.cond(corr) < 1 / (p * _EPS):
                out: np.ndarray = np.einsum("ij,ji->i", z, sol)
                return out
        except np.linalg.LinAlgError:
            pass
    try:
        inv = np.linalg.pinv(vcov)
    except np.linalg.LinAlgError:        # SVD did not converge: no usable metric
        return np.full(dfb.shape[0], np.nan)
    cook = np.einsum("ij,jl,il->i", dfb, inv, dfb)
    # the part of dfb outside the range of vcov has infinite Mahalanobis length
    proj = dfb @ (vcov @ inv)
    off = np.any(np.abs(dfb - proj) > 1e3 * _EPS * (np.abs(dfb) + np.abs(proj)), axis=1)
    return np.where(off & np.any(dfb != 0, axis=1), np.inf, cook)


def _clip_hat(h: np.ndarray) -> np.ndarray:
    return np.where(h > 1 - 10 * _EPS, 1.0, h)
