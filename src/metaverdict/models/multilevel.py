r"""Multilevel meta-analysis: nested random intercepts with a known sampling covariance, the
counterpart of metafor's ``rma.mv(yi, V, random = ~ 1 | a/b, mods = ...)``.

Model, for k estimates ``y`` and L nested grouping levels (outer first):

.. math::  y = X\beta + \sum_{l=1}^{L} Z_l u_l + e,\qquad u_l \sim N(0, \sigma^2_l I),
           \qquad e \sim N(0, V),

where :math:`Z_l` indicates membership in the level-l cluster, i.e. in the combination of the
first l grouping columns (metafor's ``a``, ``a/b``, ...). The marginal covariance is
:math:`M = V + \sum_l \sigma^2_l Z_l Z_l'`; with ``vi`` (diagonal V) it is block-diagonal by the
outer cluster. For known :math:`\sigma^2`,
:math:`\hat\beta = (X'M^{-1}X)^{-1}X'M^{-1}y` with covariance :math:`(X'M^{-1}X)^{-1}`.

The variance components maximise the log-likelihood (``method="ML"``)

.. math:: \ell = -\tfrac12\,[k\log 2\pi + \log|M| + r'M^{-1}r],\qquad r = y - X\hat\beta,

or the restricted log-likelihood (``"REML"``)
:math:`\ell_R = -\tfrac12\,[(k-p)\log 2\pi + \log|M| + \log|X'M^{-1}X| + r'M^{-1}r]
+ \tfrac12\log|X'X|`
(metafor's full REML likelihood), over :math:`\sigma^2_l \ge 0`. With
:math:`G_l = Z_l Z_l'` and :math:`P = M^{-1} - M^{-1}X(X'M^{-1}X)^{-1}X'M^{-1}` the score is
:math:`\partial\ell/\partial\sigma^2_l = -\tfrac12\operatorname{tr}(QG_l)
+ \tfrac12 r'M^{-1}G_lM^{-1}r`
and the expected information :math:`\tfrac12\operatorname{tr}(QG_lQG_m)`, with :math:`Q = P`
(REML) or :math:`M^{-1}` (ML). The fit takes projected Fisher-scoring steps with step halving
(boundary solutions :math:`\sigma^2_l = 0` are exact), after a bounded quasi-Newton start
(``scipy.optimize.minimize``, L-BFGS-B) when scoring alone stalls, and stops when the
variance components change by less than 1e-12 relative; metafor's nlminb default stops
earlier (relative tolerance 1e-10 in the objective), so its components can differ in the 5th
digit while the likelihood agrees. The attainable precision also depends on the conditioning
of :math:`X'M^{-1}X`: centre moderators such as calendar years (``I(year - year.mean())``).

Residual heterogeneity :math:`Q_E = y'(V^{-1} - V^{-1}X(X'V^{-1}X)^{-1}X'V^{-1})y` on k - p df;
``test="t"`` uses t (and F for QM) on k - p df. Profile-likelihood CIs for each
:math:`\sigma^2_l` (metafor ``confint.rma.mv``): the values where
:math:`2[\ell(\hat\sigma^2) - \max_{\sigma^2_{-l}} \ell(\sigma^2_l, \sigma^2_{-l})]
= \chi^2_{1,\,level}`.

References: Konstantopoulos (2011), *Res Synth Methods* 2:61-76; Viechtbauer (2010), metafor;
Harville (1977), *JASA* 72:320-338.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special

from metaverdict._results import ResultMixin, fmt, fmt_p, format_table, read_only
from metaverdict._validation import as_float_array, check_bounds, check_level, choice
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.design import complete_moderators, design_matrix
from metaverdict.models.formulas import LOG_2PI as _LOG2PI
from metaverdict.models.inference import FitStatistics, critical_value, information_criteria
from metaverdict.models.intervals import (
    CoefficientTable,
    PooledFit,
    ProfileCI,
    coefficient_table,
    coefficient_values,
    prediction_frame,
    profile_frame,
    profiled_parameter,
)
from metaverdict.models.random_effects import chi2_quantile

# ----------------------------------------------------------------------------- likelihood

@dataclass(frozen=True)
class _Evaluation:
    ll: float
    score: np.ndarray
    information: np.ndarray
    beta: np.ndarray
    vb: np.ndarray


class _Likelihood:
    r"""(Restricted) log-likelihood of the nested model as a function of the variance components.

    ``codes`` (k, L) numbers the clusters of each level. When V is block-diagonal by the outer
    cluster (always so for ``vi``), so is M, and every quantity is accumulated over the blocks
    (small Cholesky factors instead of one k x k factorisation). With :math:`C_l = Z_l'M^{-1}X`:
    :math:`\operatorname{tr}(PG_l) = \operatorname{tr}(Z_l'M^{-1}Z_l)
    - \operatorname{tr}(C_l V_\beta C_l')`
    and :math:`Z_l'PZ_m = Z_l'M^{-1}Z_m - C_l V_\beta C_m'`.
    """

    def __init__(self, y: np.ndarray, V: np.ndarray, X: np.ndarray, codes: np.ndarray,
                 reml: bool) -> None:
        self.y, self.V, self.X, self.reml = y, V, X, reml
        self.k, self.p = X.shape
        self.L = codes.shape[1]
        self.n = [int(codes[:, lvl].max()) + 1 for lvl in range(self.L)]
        self.logdet_xx = np.linalg.slogdet(X.T @ X)[1]
        outer = codes[:, 0]
        # blocks by the first level's clusters: only when V and every other level respect
        # them (nested terms; crossed terms are fitted as one block)
        nested = all(pd.Series(outer).groupby(codes[:, lvl]).nunique().max() == 1
                     for lvl in range(1, self.L))
        separable = nested and not np.any(V[outer[:, None] != outer[None, :]])
        block_ids = outer if separable else np.zeros(self.k, dtype=int)
        self.blocks = []
        for b in np.unique(block_ids):
            rows = np.flatnonzero(block_ids == b)
            zs, ids = [], []
            for lvl in range(self.L):
                local, inverse = np.unique(codes[rows, lvl], return_inverse=True)
                zs.append((inverse[:, None] == np.arange(len(local))[None, :]).astype(float))
                ids.append(local)
            self.blocks.append((rows, V[np.ix_(rows, rows)], X[rows], y[rows], zs, ids))

    def __call__(self, s2: np.ndarray, derivatives: bool = True) -> _Evaluation:
        L, p = self.L, self.p
        logdet_m, xmx, xmy = 0.0, np.zeros((p, p)), np.zeros(p)
        parts = []
        for rows, Vb, Xb, yb, zs, ids in self.blocks:
            Mb = Vb + sum(s * (z @ z.T) for s, z in zip(s2, zs))
            try:
                chol = linalg.cho_factor(Mb, lower=True)
            except linalg.LinAlgError:
                nan = np.full(p, np.nan)
                return _Evaluation(-np.inf, np.zeros(L), np.eye(L), nan, np.full((p, p), np.nan))
            logdet_m += 2 * np.sum(np.log(np.diag(chol[0])))
            mi = linalg.cho_solve(chol, np.eye(len(rows)))
            mx = mi @ Xb
            xmx += Xb.T @ mx
            xmy += mx.T @ yb
            parts.append((mi, mx))
        vb = np.linalg.inv(xmx)
        beta = vb @ xmy
        rss, u = 0.0, [np.zeros(n) for n in self.n]
        trace_mg = np.zeros(L)
        C = [np.zeros((n, p)) for n in self.n]
        D = [[np.zeros((self.n[a], self.n[b])) for b in range(L)] for a in range(L)]
        for (rows, Vb, Xb, yb, zs, ids), (mi, mx) in zip(self.blocks, parts):
            rb = yb - Xb @ beta
            mr = mi @ rb
            rss += float(rb @ mr)
            if not derivatives:
                continue
            mz = [mi @ z for z in zs]
            for a in range(L):
                u[a][ids[a]] += zs[a].T @ mr
                C[a][ids[a]] += zs[a].T @ mx
                trace_mg[a] += float(np.sum(zs[a] * mz[a]))
                for b in range(L):
                    D[a][b][np.ix_(ids[a], ids[b])] += zs[a].T @ mz[b]
        if self.reml:
            ll = -0.5 * ((self.k - p) * _LOG2PI + logdet_m + np.linalg.slogdet(xmx)[1]
                         + rss) + 0.5 * self.logdet_xx
        else:
            ll = -0.5 * (self.k * _LOG2PI + logdet_m + rss)
        if not derivatives:
            return _Evaluation(float(ll), np.empty(0), np.empty((0, 0)), beta, vb)
        score, info = np.zeros(L), np.zeros((L, L))
        for a in range(L):
            tr = trace_mg[a] - (float(np.sum((C[a] @ vb) * C[a])) if self.reml else 0.0)
            score[a] = -0.5 * tr + 0.5 * float(u[a] @ u[a])
            for b in range(L):
                zqz = D[a][b] - (C[a] @ vb @ C[b].T if self.reml else 0.0)
                info[a, b] = 0.5 * float(np.sum(zqz * zqz))
        return _Evaluation(float(ll), score, info, beta, vb)


def _maximise(lik: _Likelihood, start: np.ndarray, fixed: np.ndarray | None = None,
              tol: float = 1e-12, max_iter: int = 1000
              ) -> tuple[np.ndarray, _Evaluation, bool, int]:
    """Projected Fisher scoring with step halving over sigma² >= 0 (``fixed`` entries held)."""
    fixed = np.zeros(len(start), dtype=bool) if fixed is None else fixed
    s = np.maximum(np.asarray(start, dtype=float), 0.0)
    ev = lik(s)
    if not np.isfinite(ev.ll):
        raise ConvergenceError("the marginal covariance is not positive definite at the start")
    for it in range(1, max_iter + 1):
        free = ~fixed & ~((s <= 0) & (ev.score <= 0))
        step = np.zeros_like(s)
        if free.any():
            info = ev.information[np.ix_(free, free)]
            try:
                step[free] = np.linalg.solve(info, ev.score[free])
            except np.linalg.LinAlgError:
                step[free] = ev.score[free] / np.maximum(np.diag(info), 1e-300)
        lam, new, ev_new = 1.0, s, ev
        for _ in range(60):
            new = np.maximum(s + lam * step, 0.0)
            ev_new = lik(new)
            if ev_new.ll >= ev.ll - 1e-13 * (1 + abs(ev.ll)):
                break
            lam /= 2
        change = np.max(np.abs(new - s) / (1 + np.abs(new))) if len(s) else 0.0
        s, ev = new, ev_new
        if change <= tol:
            return s, ev, True, it
    return s, ev, False, max_iter


def _fit_components(lik: _Likelihood, start: np.ndarray, fixed: np.ndarray | None = None
                    ) -> tuple[np.ndarray, _Evaluation, bool, int]:
    s, ev, ok, it = _maximise(lik, start, fixed, max_iter=300)
    if ok:
        return s, ev, ok, it
    fixed = np.zeros(len(start), dtype=bool) if fixed is None else fixed
    free = ~fixed
    scale = max(float(np.max(s)), 1e-8)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        full = s.copy()
        full[free] = z * scale
        e = lik(full)
        return -e.ll, -e.score[free] * scale

    opt = optimize.minimize(objective, s[free] / scale, jac=True, method="L-BFGS-B",
                            bounds=[(0, None)] * int(free.sum()),
                            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    s2 = s.copy()
    s2[free] = opt.x * scale
    s3, ev3, ok3, it3 = _maximise(lik, s2, fixed)
    return s3, ev3, ok3, it + opt.nit + it3


# ----------------------------------------------------------------------------- result

@dataclass(frozen=True, eq=False, repr=False)
class MultilevelResult(PooledFit, CoefficientTable, ResultMixin):
    """A fitted multilevel (nested random intercepts) meta-analytic model.

    ``estimate`` ... ``ci_upper`` describe the intercept (the pooled effect of an
    intercept-only model); ``coefficients`` holds every coefficient (rows named by ``terms``;
    a new DataFrame on each access). ``sigma2`` has one variance component per level, outer
    first, named by ``s_names`` (``"district"``, ``"district/school"``) with ``s_nlevels``
    clusters each. Arrays are read-only.
    """

    terms: tuple[str, ...]
    vcov: np.ndarray
    sigma2: np.ndarray
    s_names: list[str]
    s_nlevels: list[int]
    q: float
    q_df: int
    q_pvalue: float
    df: float
    pi_lower: float
    pi_upper: float
    fit_statistics: FitStatistics
    converged: bool
    iterations: int
    qm: float | None = None
    qm_df: tuple[int, float] | None = None
    qm_pvalue: float | None = None
    # always given by fit_multilevel (keyword-only, so they may follow the defaulted fields)
    _coefficients: np.ndarray = field(kw_only=True, repr=False)
    yi: np.ndarray = field(kw_only=True, repr=False)
    V: np.ndarray = field(kw_only=True, repr=False)
    design: np.ndarray = field(kw_only=True, repr=False)
    cluster_codes: np.ndarray = field(kw_only=True, repr=False)
    labels: list[Any] | None = field(default=None, repr=False)
    _repr_fields = ("method", "k", "estimate", "ci_lower", "ci_upper", "pvalue", "sigma2")
    _dict_properties = ("coefficients",)

    @property
    def is_common_effect(self) -> bool:
        return False

    def marginal_covariance(self) -> np.ndarray:
        """:math:`M = V + \\sum_l \\sigma^2_l Z_l Z_l'` at the estimates."""
        m: np.ndarray = self.V + sum(s * _gram(c)
                                     for s, c in zip(self.sigma2, self.cluster_codes.T))
        return m

    def predict(self, newmods: Any = None) -> pd.DataFrame:
        """Fitted values with CI and prediction interval
        :math:`\\hat\\mu \\pm c\\sqrt{SE^2 + \\sum_l\\sigma^2_l}` (metafor ``predict.rma``); the
        columns of ``newmods`` are the moderators after the intercept."""
        if newmods is None:
            X = self.design if self.p > 1 else np.ones((1, 1))
        else:
            new = np.atleast_2d(np.asarray(newmods, dtype=float))
            new = new.reshape(-1, self.p - 1)
            X = np.column_stack([np.ones(len(new)), new])
        return prediction_frame(X, self.beta, self.vcov, critical_value(self.level, self.df),
                                float(np.sum(self.sigma2)))

    def profile_ci(self, level: float | None = None) -> ProfileCI:
        """Profile-likelihood CI for each variance component (see module docstring)."""
        return _profile_ci(self, self.level if level is None else level)

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"Multilevel meta-analysis (k = {self.k}; {self.method}; "
                 f"{'t' if self.test == 't' else 'z'} test)", ""]
        rows = [[n, fmt(s), fmt(float(np.sqrt(s))), str(m)]
                for n, s, m in zip(self.s_names, self.sigma2, self.s_nlevels)]
        lines.append(format_table(["", "sigma^2", "sigma", "levels"], rows))
        lines += ["", f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_pvalue)}"]
        if self.qm is not None:
            lines.append(f"Test of moderators: QM = {fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}")
        lines.append("")
        stat = "t" if self.test == "t" else "z"
        lines.append(coefficient_table(self._coefficients, self.terms, stat, pct))
        if self.p == 1:
            lines += ["", f"{pct}% prediction interval: "
                          f"[{fmt(self.pi_lower)}, {fmt(self.pi_upper)}]"]
        if not self.converged:
            lines.append("WARNING: the variance components did not converge")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- fitting

def multilevel(yi: Any, vi: Any = None, *, groups: list[str] | str,
               data: pd.DataFrame | None = None,
               V: Any = None, method: Literal["REML", "ML"] = "REML",
               test: Literal["z", "t"] = "z", level: float = 0.95, mods: Any = None,
               labels: Any = None) -> MultilevelResult:
    """Fit a meta-analytic model with nested random intercepts (metafor ``rma.mv`` with
    ``random = ~ 1 | a/b/...``); see the module docstring for the model and estimator.

    Parameters
    ----------
    yi : array-like or str
        Effect sizes (or a column of ``data``).
    vi : array-like or str, optional
        Sampling variances (diagonal V); give either ``vi`` or ``V``.
    groups : list of str
        Grouping columns of ``data``, outer to inner (``["district", "school"]``); level l is
        the combination of the first l columns.
    data : DataFrame
        Holds the grouping columns (and ``yi``, ``vi``, moderators when named).
    V : array-like, shape (k, k), optional
        Known sampling covariance matrix (symmetric positive definite).
    method : {"REML", "ML"}
    test : {"z", "t"}
        Wald z tests, or t tests (F for the omnibus test) on k - p df, as metafor's
        ``test="t"``.
    level : float
        Confidence level.
    mods : str, DataFrame or array, optional
        Moderators, as in :func:`metaverdict.meta_analysis`.
    labels : sequence, optional
        Study labels for messages (default: ``data``'s index).

    Returns
    -------
    MultilevelResult

    Raises
    ------
    InputError
        Unknown or missing grouping columns, missing values, a V that is not k x k symmetric
        positive definite, a bad moderator design.
    """
    # choice() returns one of the options given, so the Literal types hold
    method = cast(Literal["REML", "ML"], choice(method, ("REML", "ML"), "method"))
    test = cast(Literal["z", "t"], choice(test, ("z", "t"), "test"))
    level = check_level(level)
    if data is None:
        raise InputError("field 'data': multilevel() needs data= holding the grouping columns")
    labels = list(data.index) if labels is None else list(labels)
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not groups:
        raise InputError("field 'groups': give at least one grouping column")
    for g in groups:
        if g not in data.columns:
            raise InputError(f"field 'groups': no column {g!r} in data "
                             f"(columns: {list(data.columns)})")
        bad = np.flatnonzero(data[g].isna().to_numpy())
        if bad.size:
            raise InputError(f"study {labels[bad[0]]!r}, field {g!r}: missing cluster identifier")
    y = as_float_array(data[yi].to_numpy() if isinstance(yi, str) else yi, "yi", labels)
    k = len(y)
    if len(data) != k:
        raise InputError(f"field 'data': {len(data)} rows for {k} effect sizes")
    check_bounds(y, "yi", labels)
    if (vi is None) == (V is None):
        raise InputError("give exactly one of vi= (sampling variances) or V= "
                         "(their covariance matrix)")
    if V is None:
        v = as_float_array(data[vi].to_numpy() if isinstance(vi, str) else vi, "vi", labels)
        if len(v) != k:
            raise InputError(f"field 'vi': {len(v)} variances for {k} effect sizes")
        check_bounds(v, "vi", labels, lower=0, lower_strict=True)
        Vm = np.diag(v)
    else:
        Vm = _check_v(V, k)
    if mods is None:
        X, names = np.ones((k, 1)), ["intrcpt"]
    else:
        if not complete_moderators(mods, data, k).all():
            design_matrix(mods, data, k, labels)         # raises naming the study
        X, names = design_matrix(mods, data, k, labels)
    codes = _cluster_codes(data, groups)
    return fit_multilevel(y, Vm, X, names, codes, groups, method=method, test=test, level=level,
                          labels=labels)


def _check_v(V: Any, k: int) -> np.ndarray:
    Vm = np.asarray(V, dtype=float)
    if Vm.shape != (k, k):
        raise InputError(f"field 'V': expected a {k} x {k} matrix, got shape {Vm.shape}")
    if not np.isfinite(Vm).all():
        raise InputError("field 'V': contains missing or infinite values")
    if not np.allclose(Vm, Vm.T, rtol=1e-10, atol=1e-14):
        raise InputError("field 'V': the sampling covariance matrix must be symmetric")
    if np.linalg.eigvalsh(Vm).min() <= 0:
        raise InputError("field 'V': the sampling covariance matrix must be positive definite")
    return Vm


def _cluster_codes(data: pd.DataFrame, groups: list[str]) -> np.ndarray:
    """(k, L) integer codes: column l numbers the clusters of the first l+1 grouping columns."""
    cols = []
    for lvl in range(1, len(groups) + 1):
        keys = pd.MultiIndex.from_frame(data[groups[:lvl]].astype(str).reset_index(drop=True))
        cols.append(pd.factorize(keys)[0])
    return np.column_stack(cols)


def _gram(codes: np.ndarray) -> np.ndarray:
    g: np.ndarray = (codes[:, None] == codes[None, :]).astype(float)
    return g


def _start(y: np.ndarray, V: np.ndarray, X: np.ndarray, L: int) -> np.ndarray:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    total = max(float(np.var(y - X @ beta)) - float(np.mean(np.diag(V))), 0.01 * float(np.var(y)))
    return np.full(L, max(total, 1e-8) / L)


def fit_multilevel(y: np.ndarray, V: np.ndarray, X: np.ndarray, names: list[str],
                   codes: np.ndarray, groups: list[str], *, method: str, test: str, level: float,
                   labels: list[Any] | None = None) -> MultilevelResult:
    """Fit validated arrays (the engine behind :func:`multilevel`)."""
    k, p = X.shape
    if p >= k:
        raise InputError(f"{p} coefficients need more than {k} studies")
    L = codes.shape[1]
    lik = _Likelihood(y, V, X, codes, reml=method == "REML")
    s2, ev, converged, iters = _fit_components(lik, _start(y, V, X, L))
    beta, vb = ev.beta, ev.vb
    df = float(k - p) if test == "t" else float("nan")
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pval = 2 * (special.ndtr(-np.abs(stat)) if np.isnan(df) else special.stdtr(df, -np.abs(stat)))
    crit = critical_value(level, df)
    q, q_p = _residual_q(y, V, X)
    qm = qm_df = qm_p = None
    if p > 1:
        idx = [j for j, n in enumerate(names) if n != "intrcpt"]
        b = beta[idx]
        qm = float(b @ np.linalg.solve(vb[np.ix_(idx, idx)], b))
        m = len(idx)
        if test == "t":
            qm /= m
            qm_df, qm_p = (m, df), float(special.fdtrc(m, df, qm))
        else:
            qm_df, qm_p = (m, float("nan")), float(special.chdtrc(m, qm))
    half = crit * np.sqrt(se[0] ** 2 + float(np.sum(s2)))
    return MultilevelResult(
        method=method, test=test, level=level, k=k, estimate=float(beta[0]), se=float(se[0]),
        statistic=float(stat[0]), pvalue=float(pval[0]), ci_lower=float(beta[0] - crit * se[0]),
        ci_upper=float(beta[0] + crit * se[0]), terms=tuple(names), vcov=read_only(vb),
        sigma2=read_only(s2),
        s_names=["/".join(groups[:i + 1]) for i in range(len(groups))],
        s_nlevels=[int(len(np.unique(c))) for c in codes.T], q=q, q_df=k - p, q_pvalue=q_p,
        df=df, pi_lower=float(beta[0] - half), pi_upper=float(beta[0] + half),
        fit_statistics=_fit_statistics(y, V, X, codes, s2), converged=converged,
        iterations=iters, qm=qm, qm_df=qm_df, qm_pvalue=qm_p,
        _coefficients=coefficient_values(beta, se, stat, pval, beta - crit * se,
                                         beta + crit * se),
        yi=read_only(y), V=read_only(V), design=read_only(X), cluster_codes=read_only(codes),
        labels=labels)


def _residual_q(y: np.ndarray, V: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    k, p = X.shape
    v_inv = np.linalg.inv(V)
    vx = v_inv @ X
    P = v_inv - vx @ np.linalg.solve(X.T @ vx, vx.T)
    q = max(float(y @ P @ y), 0.0)
    return q, float(special.chdtrc(k - p, q)) if k > p else float("nan")


def _fit_statistics(y: np.ndarray, V: np.ndarray, X: np.ndarray, codes: np.ndarray,
                    s2: np.ndarray) -> FitStatistics:
    """metafor's ``fit.stats`` for rma.mv: ML deviance against the saturated model
    :math:`-\\tfrac12[k\\log 2\\pi + \\log|V|]`; REML deviance :math:`-2\\ell_R`; parameters
    p + number of variance components; REML criteria use k - p observations."""
    k, p = X.shape
    ll_ml = _Likelihood(y, V, X, codes, reml=False)(s2, derivatives=False).ll
    ll_reml = _Likelihood(y, V, X, codes, reml=True)(s2, derivatives=False).ll
    sat = -0.5 * (k * _LOG2PI + np.linalg.slogdet(V)[1])
    parms = p + codes.shape[1]
    return FitStatistics(ll_ml, -2 * (ll_ml - sat), *information_criteria(ll_ml, k, parms),
                         ll_reml, -2 * ll_reml, *information_criteria(ll_reml, k - p, parms))


# ----------------------------------------------------------------------------- profile CI

def _profile_ci(res: MultilevelResult, level: float, held: np.ndarray | None = None
                ) -> ProfileCI:
    """Profile CIs of the components (those ``held`` at fixed values have none)."""
    level = check_level(level)
    L = res.cluster_codes.shape[1]
    lik = _Likelihood(res.yi, res.V, res.design, res.cluster_codes, reml=res.method == "REML")
    ll_max = lik(res.sigma2, derivatives=False).ll
    drop = chi2_quantile(level, 1) / 2
    held = np.zeros(L, dtype=bool) if held is None else held
    rows = []
    for comp in np.flatnonzero(~held):
        fixed = held.copy()
        fixed[comp] = True
        start = {"s": res.sigma2.copy()}

        def excess(x: float) -> float:
            s0 = start["s"].copy()
            s0[comp] = x
            s, ev, _, _ = _fit_components(lik, s0, fixed)
            start["s"] = s
            gap: float = ll_max - ev.ll - drop
            return gap

        est = float(res.sigma2[comp])
        lo = 0.0
        if est > 0 and excess(0.0) > 0:
            start["s"] = res.sigma2.copy()
            lo = optimize.brentq(excess, 0.0, est, xtol=1e-14, rtol=1e-13, maxiter=500)
        start["s"] = res.sigma2.copy()
        hi_b = max(est, 1e-4 * max(float(np.var(res.yi)), 1e-8))
        step = hi_b
        for _ in range(200):
            hi_b += step
            if excess(hi_b) > 0:
                break
            step *= 2
        start["s"] = res.sigma2.copy()
        hi = optimize.brentq(excess, est, hi_b, xtol=1e-14, rtol=1e-13, maxiter=500)
        rows.append((est, lo, hi))
    table = pd.DataFrame(rows, columns=["sigma2", "ci_lower", "ci_upper"],
                         index=pd.Index([n for n, h in zip(res.s_names, held) if not h],
                                        name="component"))
    return ProfileCI(level=level, _table=table)


def profile_values(res: MultilevelResult, component: str | None, steps: int,
                   xlim: tuple[float, float] | None
                   ) -> tuple[str, float, tuple[float, float], pd.DataFrame]:
    """The rows of the likelihood profile of one variance component (``"sigma2.<l>"``, level
    l from the outermost; may be omitted with one level): the fit with it held at ``steps``
    values over ``xlim`` (default metafor's: max(0, v/4) to max(0.1, 4v)), the other
    components estimated, with the coefficients and their CIs there (metafor
    ``profile.rma.mv``). Returns the name, the estimate, the range and the table (see
    :class:`metaverdict.diagnostics.profile.LikelihoodProfile`)."""
    L = res.cluster_codes.shape[1]
    names = tuple(f"sigma2.{i + 1}" for i in range(L)) if L > 1 else ("sigma2",)
    component = profiled_parameter(component, names, "variance component")
    j = names.index(component)
    value = float(res.sigma2[j])
    if xlim is None:
        xlim = (max(0.0, value / 4), max(0.1, value * 4))
    elif xlim[0] < 0:
        raise InputError(f"field 'xlim': {component} ranges over [0, inf]")
    lik = _Likelihood(res.yi, res.V, res.design, res.cluster_codes, reml=res.method == "REML")
    crit = critical_value(res.level, res.df)
    fixed = np.zeros(L, dtype=bool)
    fixed[j] = True
    points: list[tuple[float, float, pd.DataFrame | None]] = []
    for x in np.linspace(xlim[0], xlim[1], steps):
        start = np.array(res.sigma2, dtype=float)
        start[j] = x
        _, ev, _, _ = _fit_components(lik, start, fixed)
        if not np.isfinite(ev.ll):
            points.append((float(x), math.nan, None))
            continue
        se = np.sqrt(np.diag(ev.vb))
        frame = pd.DataFrame({"estimate": ev.beta, "ci_lower": ev.beta - crit * se,
                              "ci_upper": ev.beta + crit * se})
        points.append((float(x), float(ev.ll), frame))
    return component, value, (float(xlim[0]), float(xlim[1])), profile_frame(
        component, res.terms, points)

