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

References: Hedges, Tipton & Johnson (2010), *Res Synth Methods* 1:39-65; Viechtbauer,
metafor ``robust()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict.errors import InputError
from metaverdict.models.inference import critical_value
from metaverdict.models.intervals import (
    EstimateCI,
    coefficient_frame,
    coefficient_rows,
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
    _repr_fields = ("method", "k", "n_clusters", "estimate", "se", "pvalue")
    _dict_properties = ("coefficients",)

    @property
    def coefficients(self) -> pd.DataFrame:
        """estimate, se, statistic, pvalue, ci_lower, ci_upper per coefficient (a new
        DataFrame on each access)."""
        return coefficient_frame(self._coefficients, self.terms)

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"Cluster-robust inference (k = {self.k}; {self.n_clusters} clusters; "
                 f"t on {fmt(self.df, 0)} df; small-sample adjustment "
                 f"{'n/(n-p)' if self.adjust else 'none'})", "",
                 f"Test of coefficients: F({self.qm_df[0]}, {fmt(self.qm_df[1], 0)}) = "
                 f"{fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}", ""]
        lines.append(format_table(["", "estimate", "se", "t", "p", f"{pct}% ci.lb", "ci.ub"],
                                  coefficient_rows(self._coefficients, self.terms)))
        return "\n".join(lines)


def robust(res: Any, cluster: Any, adjust: bool = True) -> RobustResult:
    """Cluster-robust standard errors, t tests and CIs for a fitted model (see module docstring).

    Parameters
    ----------
    res : MetaAnalysisResult or MultilevelResult
        A fitted model (with its data, as returned by :func:`~metaverdict.meta_analysis` or
        :func:`~metaverdict.models.multilevel.multilevel`).
    cluster : array-like
        Cluster identifier of each study, in the order of the fit's studies (length k).
    adjust : bool
        Apply the small-sample factor n/(n - p) (metafor's default).

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
    if hasattr(res, "marginal_covariance"):                  # multilevel fit: W = M^-1
        return np.linalg.inv(res.marginal_covariance())
    if getattr(res, "user_weights", None) is not None:
        return np.diag(np.asarray(res.user_weights, dtype=float))
    return np.diag(1 / (np.asarray(res.vi, dtype=float) + res.tau2))
