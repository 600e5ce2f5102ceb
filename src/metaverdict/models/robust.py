r"""Cluster-robust (sandwich) inference for fitted meta-analytic models (metafor ``robust.rma``).

For a model fitted with weight matrix W (:math:`W = \operatorname{diag}(1/(v_i+\hat\tau^2))`
for :func:`~metaverdict.meta_analysis`, the user's weights A if given, and
:math:`W = M^{-1}` for :func:`~metaverdict.models.multilevel.multilevel`), coefficients
:math:`\hat\beta` and residuals :math:`e = y - X\hat\beta`, with n clusters :math:`c`:

.. math::  \widehat{\operatorname{Var}}(\hat\beta) = a\;B\Big(\sum_{c} e_c e_c'\Big)B',\qquad
           B = (X'WX)^{-1}X'W,

where :math:`e_c` is the residual vector of cluster c (zero elsewhere) and the small-sample
factor is :math:`a = n/(n-p)` with ``adjust=True`` (Hedges, Tipton & Johnson 2010; analogous to
HC1/CR1, with the number of clusters n in place of k), else 1. Tests use t with n - p df; the
omnibus test of the coefficients after the intercept (of the intercept in an intercept-only
model) is :math:`F = \hat\beta_m'\widehat{\operatorname{Var}}(\hat\beta_m)^{-1}\hat\beta_m / m`
on (m, n - p) df. The Hartung-Knapp factor of a ``test="knha"`` fit is not used: the bread
is the unscaled :math:`(X'WX)^{-1}X'W`.

With ``correction="CR2"`` (the bias-reduced linearisation of Bell & McCaffrey 2002, as
clubSandwich's ``vcovCR(type = "CR2")``): working weights :math:`W_c` are the blocks of the
fit's weight matrix by cluster (:math:`W_c = M_{cc}^{-1}`, or the user's weights), the target
:math:`\Theta_c = M_{cc}` (:math:`v_i + \hat\tau^2` for univariate fits),
:math:`M_U = (\sum_c X_c'W_cX_c)^{-1}`, :math:`H = XM_UX'W`, and

.. math::  \widehat{\operatorname{Var}}(\hat\beta) = M_U\Big(\sum_c X_c'W_cA_ce_ce_c'A_cW_cX_c
           \Big)M_U,\qquad A_c = U_c'G_c^{-1/2}U_c,\qquad
           G_c = U_c[(I-H)\Theta(I-H)']_{cc}U_c',

with :math:`\Theta_c = U_c'U_c` (Cholesky). Each coefficient is t-tested on Satterthwaite df
:math:`\nu = (\sum_c q_c'\Theta q_c)^2/\sum_{c,d}(q_c'\Theta q_d)^2`, where
:math:`q_c = (I-H)_{c\cdot}'A_cW_cX_cM_U\,\ell` for the contrast :math:`\ell`; a joint test of
q contrasts :math:`C\beta = 0` is the HTZ test (Tipton & Pustejovsky 2015):
:math:`F = \frac{\eta - q + 1}{\eta q}\,\hat\beta'C'(C\hat V C')^{-1}C\hat\beta` on
(q, η - q + 1) df, η = q(q + 1) / (total variance of the standardised
:math:`\Omega^{-1/2}C\hat VC'\Omega^{-1/2}`), :math:`\Omega = E(C\hat VC')` under the
working model.

References: Hedges, Tipton & Johnson (2010), *Res Synth Methods* 1:39-65; Viechtbauer,
metafor ``robust()``; Bell & McCaffrey (2002), *Survey Methodology* 28:169-181; Tipton (2015),
*Psychol Methods* 20:375-393; Tipton & Pustejovsky (2015), *J Educ Behav Stat* 40:604-634;
Pustejovsky & Tipton (2018), *J Bus Econ Stat* 36:672-683 (clubSandwich).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, special

from metaverdict._results import ResultMixin, fmt, fmt_p, read_only
from metaverdict.errors import InputError
from metaverdict.models.inference import critical_value
from metaverdict.models.intervals import (
    EstimateCI,
    coefficient_frame,
    coefficient_table,
    coefficient_values,
)


@dataclass(frozen=True, eq=False, repr=False)
class RobustResult(EstimateCI, ResultMixin):
    """Cluster-robust coefficients table (``coefficients``, rows named by ``terms``, a new
    DataFrame on each access); ``estimate`` ... ``ci_upper`` describe the intercept, with t
    tests on ``df`` degrees of freedom."""

    method: str
    level: float
    k: int
    n_clusters: int
    adjust: bool
    estimate: float
    se: float
    statistic: float
    pvalue: float
    ci_lower: float
    ci_upper: float
    df: float
    terms: tuple[str, ...]
    vcov: np.ndarray
    qm: float
    qm_df: tuple[int, float]
    qm_pvalue: float
    _coefficients: np.ndarray
    correction: str = "CR1"
    coefficient_df: np.ndarray | None = None
    _qs: np.ndarray | None = field(default=None, repr=False)
    _theta: np.ndarray | None = field(default=None, repr=False)
    _repr_fields = ("method", "k", "n_clusters", "estimate", "se", "pvalue")
    _dict_properties = ("coefficients",)

    @property
    def coefficients(self) -> pd.DataFrame:
        """estimate, se, statistic, pvalue, ci_lower, ci_upper per coefficient (a new
        DataFrame on each access)."""
        return coefficient_frame(self._coefficients, self.terms)

    @property
    def beta(self) -> np.ndarray:
        out: np.ndarray = self._coefficients[:, 0]
        return out

    def wald_test(self, constraints: Any) -> Any:
        """Robust test of :math:`C\\beta = 0` for the rows of ``constraints`` (q x p): F on
        (q, n - p) df (CR1), or the HTZ test (CR2; clubSandwich ``Wald_test``). Returns a
        :class:`~metaverdict.models.multivariate.WaldTest` (``test="t"``)."""
        from metaverdict.models.multivariate import WaldTest
        C = np.atleast_2d(np.asarray(constraints, dtype=float))
        if C.shape[1] != len(self.terms):
            raise InputError(f"field 'constraints': need {len(self.terms)} columns, got "
                             f"{C.shape[1]}")
        est = C @ self.beta
        cov = C @ self.vcov @ C.T
        q = C.shape[0]
        stat = float(est @ np.linalg.solve(cov, est))
        se = np.sqrt(np.diag(cov))
        if self._qs is None or self._theta is None:
            f, df2 = stat / q, self.df
            dfs = np.full(q, self.df)
        else:
            eta = _htz_eta(self._qs, self._theta, C)
            f, df2 = (eta - q + 1) / (eta * q) * stat, eta - q + 1
            dfs = np.array([_satterthwaite(self._qs, self._theta, row) for row in C])
        t = est / se
        table = pd.DataFrame({"estimate": est, "se": se, "statistic": t,
                              "pvalue": 2 * special.stdtr(dfs, -np.abs(t))},
                             index=pd.Index([f"row {i + 1}" for i in range(q)],
                                            name="hypothesis"))
        return WaldTest(test="t", statistic=float(f), df_num=q, df_denom=float(df2),
                        pvalue=float(special.fdtrc(q, df2, f)), _hypotheses=table)

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        how = ("CR2, Satterthwaite df" if self.correction == "CR2" else
               f"small-sample adjustment {'n/(n-p)' if self.adjust else 'none'}")
        lines = [f"Cluster-robust inference (k = {self.k}; {self.n_clusters} clusters; "
                 f"t on {fmt(self.df, 0)} df; {how})", "",
                 f"Test of coefficients: F({self.qm_df[0]}, {fmt(self.qm_df[1], 0)}) = "
                 f"{fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}", ""]
        lines.append(coefficient_table(self._coefficients, self.terms, "t", pct))
        return "\n".join(lines)


def robust(res: Any, cluster: Any, adjust: bool = True,
           correction: Literal["CR1", "CR2"] = "CR1") -> RobustResult:
    """Cluster-robust standard errors, t tests and CIs for a fitted model (see module docstring).

    Parameters
    ----------
    res : MetaAnalysisResult, MultilevelResult or MultivariateResult
        A fitted model (with its data, as returned by :func:`~metaverdict.meta_analysis`,
        :func:`~metaverdict.models.multilevel.multilevel` or
        :func:`~metaverdict.models.multivariate.multivariate`).
    cluster : array-like
        Cluster identifier of each study, in the order of the fit's studies (length k).
    adjust : bool
        Apply the small-sample factor n/(n - p) (metafor's default; ``correction="CR1"``).
    correction : {"CR1", "CR2"}
        "CR1": metafor's ``robust()`` (the default); "CR2": bias-reduced linearisation with
        Satterthwaite df and the HTZ omnibus test (clubSandwich).

    Returns
    -------
    RobustResult

    Raises
    ------
    InputError
        ``cluster`` of the wrong length or with missing values, or no more clusters than
        coefficients.
    """
    y = np.asarray(res.yi, dtype=float)
    k = len(y)
    cl = pd.Series(np.asarray(cluster, dtype=object) if not isinstance(cluster, pd.Series)
                   else cluster.to_numpy(dtype=object))
    if len(cl) != k:
        raise InputError(f"field 'cluster': {len(cl)} cluster identifiers for {k} studies")
    if cl.isna().any():
        i = int(np.flatnonzero(cl.isna().to_numpy())[0])
        where = f"study {res.labels[i]!r}" if getattr(res, "labels", None) else f"row {i + 1}"
        raise InputError(f"{where}, field 'cluster': missing cluster identifier")
    codes = pd.factorize(cl)[0]
    n = int(codes.max()) + 1
    X = np.ones((k, 1)) if res.design is None else np.asarray(res.design, dtype=float)
    p = X.shape[1]
    if n - p <= 0:
        raise InputError(f"the number of clusters ({n}) must exceed the number of coefficients "
                         f"({p})")
    if correction not in ("CR1", "CR2"):
        raise InputError(f"field 'correction': expected 'CR1' or 'CR2', got {correction!r}")
    if correction == "CR2":
        return _robust_cr2(res, y, X, codes, n)
    W = _weight_matrix(res, k)
    beta = res.beta
    bread = np.linalg.solve(X.T @ W @ X, X.T @ W)
    e = y - X @ beta
    scores = np.zeros((n, k))
    scores[codes, np.arange(k)] = e                    # row c holds e_c
    u = scores @ bread.T                               # (n, p): B e_c for each cluster
    vb = u.T @ u
    if adjust:
        vb = vb * n / (n - p)
    df = float(n - p)
    se = np.sqrt(np.diag(vb))
    t = beta / se
    pval = 2 * special.stdtr(df, -np.abs(t))
    crit = critical_value(res.level, df)
    names = list(res.terms)
    idx = [j for j, nm in enumerate(names) if nm != "intrcpt"] or [0]
    b = beta[idx]
    m = len(idx)
    qm = float(b @ np.linalg.solve(vb[np.ix_(idx, idx)], b)) / m
    return RobustResult(
        method=res.method, level=res.level, k=k, n_clusters=n, adjust=bool(adjust),
        estimate=float(beta[0]), se=float(se[0]), statistic=float(t[0]), pvalue=float(pval[0]),
        ci_lower=float(beta[0] - crit * se[0]), ci_upper=float(beta[0] + crit * se[0]), df=df,
        terms=tuple(names), vcov=read_only(vb), qm=qm, qm_df=(m, df),
        qm_pvalue=float(special.fdtrc(m, df, qm)),
        _coefficients=coefficient_values(beta, se, t, pval, beta - crit * se, beta + crit * se))


def _weight_matrix(res: Any, k: int) -> np.ndarray:
    if getattr(res, "user_weight_matrix", None) is not None:  # multivariate fit with W=
        return np.asarray(res.user_weight_matrix, dtype=float)
    if hasattr(res, "marginal_covariance"):                  # multilevel fit: W = M^-1
        return np.linalg.inv(res.marginal_covariance())
    if getattr(res, "user_weights", None) is not None:
        return np.diag(np.asarray(res.user_weights, dtype=float))
    return np.diag(1 / (np.asarray(res.vi, dtype=float) + res.tau2))


def _target(res: Any, k: int) -> np.ndarray:
    """The working model's covariance: M (multilevel/multivariate) or diag(v + tau²)."""
    if hasattr(res, "marginal_covariance"):
        out: np.ndarray = np.asarray(res.marginal_covariance(), dtype=float)
        return out
    return np.diag(np.asarray(res.vi, dtype=float) + res.tau2)


def _user_weights(res: Any) -> np.ndarray | None:
    W = getattr(res, "user_weight_matrix", None)
    if W is not None:
        return np.asarray(W, dtype=float)
    if getattr(res, "user_weights", None) is not None:
        return np.diag(np.asarray(res.user_weights, dtype=float))
    return None


def _robust_cr2(res: Any, y: np.ndarray, X: np.ndarray, codes: np.ndarray,
                n: int) -> RobustResult:
    k, p = X.shape
    same = codes[:, None] == codes[None, :]
    theta = _target(res, k) * same
    Wu = _user_weights(res)
    W = np.zeros((k, k))
    blocks = [np.flatnonzero(codes == c) for c in range(n)]
    for rows in blocks:
        block = np.ix_(rows, rows)
        W[block] = np.linalg.inv(theta[block]) if Wu is None else Wu[block]
    MU = np.linalg.inv(X.T @ W @ X)
    IH = np.eye(k) - X @ MU @ X.T @ W
    beta = res.beta
    e = y - X @ beta
    qs = np.zeros((n, k, p))
    u = np.zeros((n, p))
    middle = IH @ theta @ IH.T
    for c, rows in enumerate(blocks):
        U = linalg.cholesky(theta[np.ix_(rows, rows)], lower=False)
        G = U @ middle[np.ix_(rows, rows)] @ U.T
        vals, vecs = np.linalg.eigh((G + G.T) / 2)
        inv_sqrt = np.where(vals > 1e-12 * vals.max(), 1 / np.sqrt(np.abs(vals)), 0.0)
        A = U.T @ (vecs * inv_sqrt) @ vecs.T @ U
        B = W[np.ix_(rows, rows)] @ X[rows] @ MU              # W_c X_c M_U  (k_c, p)
        u[c] = B.T @ A @ e[rows]
        qs[c] = IH[rows].T @ A @ B
    vb = u.T @ u
    se = np.sqrt(np.diag(vb))
    dfs = np.array([_satterthwaite(qs, theta, row) for row in np.eye(p)])
    t = beta / se
    pval = 2 * special.stdtr(dfs, -np.abs(t))
    crit = np.array([critical_value(res.level, d) for d in dfs])
    names = list(res.terms)
    idx = [j for j, nm in enumerate(names) if nm != "intrcpt"] or [0]
    C = np.eye(p)[idx]
    q = len(idx)
    b = C @ beta
    stat = float(b @ np.linalg.solve(C @ vb @ C.T, b))
    eta = _htz_eta(qs, theta, C)
    f = (eta - q + 1) / (eta * q) * stat
    return RobustResult(
        method=res.method, level=res.level, k=k, n_clusters=n, adjust=False,
        estimate=float(beta[0]), se=float(se[0]), statistic=float(t[0]), pvalue=float(pval[0]),
        ci_lower=float(beta[0] - crit[0] * se[0]), ci_upper=float(beta[0] + crit[0] * se[0]),
        df=float(dfs[0]), terms=tuple(names), vcov=read_only(vb), qm=float(f),
        qm_df=(q, float(eta - q + 1)), qm_pvalue=float(special.fdtrc(q, eta - q + 1, f)),
        _coefficients=coefficient_values(beta, se, t, pval, beta - crit * se, beta + crit * se),
        correction="CR2", coefficient_df=read_only(dfs), _qs=read_only(qs),
        _theta=read_only(theta))


def _satterthwaite(qs: np.ndarray, theta: np.ndarray, contrast: np.ndarray) -> float:
    """Satterthwaite df of the CR2 variance of ``contrast @ beta`` (module docstring)."""
    qc = qs @ contrast                                   # (n, k)
    S = qc @ theta @ qc.T
    return float(np.trace(S) ** 2 / np.sum(S * S))


def _htz_eta(qs: np.ndarray, theta: np.ndarray, C: np.ndarray) -> float:
    """η of the HTZ test of the rows of C (module docstring)."""
    q = C.shape[0]
    Z = qs @ C.T                                         # (n, k, q)
    omega = np.einsum("iks,ikt->st", Z, theta @ Z)
    vals, vecs = np.linalg.eigh(omega)
    Z = Z @ (vecs / np.sqrt(vals)) @ vecs.T
    P = np.einsum("iks,jkt->ijst", Z, theta @ Z, optimize=True)
    tr = np.einsum("ijss->ij", P)
    total = float(np.sum(tr ** 2) + np.einsum("ijst,ijts->", P, P))
    return float(q * (q + 1) / total)
