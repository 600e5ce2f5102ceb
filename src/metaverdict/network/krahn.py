"""The design-level model of Krahn, Binder & König (2013): Q decomposed into heterogeneity
within designs and inconsistency between designs, design-level hat matrix, and the measures
built on it (netmeta's ``nma.krahn``, ``decomp.design``, ``netmeasures``).

A *design* is the set of treatments of a study. Each study contributes its *basic* contrasts
against a base arm (the reference treatment if the study has it, else its first treatment in
R's order) with covariance

.. math:: \\operatorname{Cov}(y_{bi}, y_{bj}) = (v_{bi} + v_{bj} - v_{ij}) / 2,

``v`` the pairwise variances (plus tau² when a between-study variance is preset, which puts
tau²/2 off the diagonal). Studies of one design are pooled by generalised least squares into
the design's direct estimates ``TE.dir`` (two-arm designs: inverse-variance pooling); the
consistency model fits all designs with ``n - 1`` basic parameters,

.. math:: \\hat\\beta = (X^\\top V^{-1} X)^{-1} X^\\top V^{-1} \\mathrm{TE}_{dir},

and Cochran's Q splits exactly into ``Q_total = Q_within + Q_between`` (Krahn et al. 2013,
formulas 7-8), with ``Q_within`` the sum over designs of the studies' deviations from their
design's estimate. ``Q_between`` is also given after detaching each design in turn (the design
gets its own parameters) and, under the full design-by-treatment interaction random-effects
model, with tau² estimated from the within-design residual heterogeneity by the method of
moments (Higgins et al. 2012; Jackson et al. 2012).

References
----------
Krahn, U., Binder, H., & König, J. (2013). A graphical tool for locating inconsistency in
network meta-analyses. BMC Medical Research Methodology, 13, 35.
Higgins, J. P. T., Jackson, D., Barrett, J. K., Lu, G., Ades, A. E., & White, I. R. (2012).
Consistency and inconsistency in network meta-analysis: concepts and models for multi-arm
studies. Research Synthesis Methods, 3(2), 98-110.
König, J., Krahn, U., & Binder, H. (2013). Visualizing the flow of evidence in network
meta-analysis and characterizing mixed treatment comparisons. Statistics in Medicine, 32(30),
5414-5429.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg

from metaverdict.network._collation import r_sort_key
from metaverdict.network.data import Contrasts

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DesignRow:
    """One basic contrast of a design (multi-arm designs have ``narms - 1`` of them)."""

    design: str
    comparison: str
    narms: int
    studies: int


@dataclass(frozen=True)
class DesignModel:
    """The design-level consistency model (netmeta's ``nma.krahn``)."""

    trts: tuple[str, ...]              # reference first, then the others in R's order
    pairs: tuple[str, ...]             # all comparisons "a:b" in trts order (X.full rows)
    x_full: FloatArray
    rows: tuple[DesignRow, ...]
    te_dir: FloatArray
    v: FloatArray                      # design-level covariance of te_dir
    x_obs: FloatArray
    direct_te: dict[str, float]        # per comparison, all studies (common effect)
    direct_se: dict[str, float]
    study_label: tuple[str, ...]       # study-level rows
    study_design: tuple[str, ...]
    study_comparison: tuple[str, ...]
    study_te: FloatArray
    v_studies: FloatArray
    x_studies: FloatArray
    blocks: tuple[tuple[int, ...], ...]   # study-level rows of each study

    @property
    def n(self) -> int:
        return len(self.trts)

    def network(self) -> tuple[FloatArray, FloatArray]:
        """Network estimates and their standard errors for every comparison in ``pairs``."""
        vi = linalg.inv(self.v)
        cov = linalg.inv(self.x_obs.T @ vi @ self.x_obs)
        beta = cov @ self.x_obs.T @ vi @ self.te_dir
        full_cov = self.x_full @ cov @ self.x_full.T
        return self.x_full @ beta, np.sqrt(np.maximum(np.diag(full_cov), 0.0))

    def hat(self) -> FloatArray:
        """Design-level hat matrix ``X_full (X' V^-1 X)^-1 X' V^-1`` (columns: design rows)."""
        vi = linalg.inv(self.v)
        return self.x_full @ linalg.inv(self.x_obs.T @ vi @ self.x_obs) @ self.x_obs.T @ vi

    def hat_studies(self) -> FloatArray:
        """Study-level hat matrix (columns: the study-level rows)."""
        vi = linalg.inv(self.v_studies)
        xs = self.x_studies
        return self.x_full @ linalg.inv(xs.T @ vi @ xs) @ xs.T @ vi


def design_model(c: Contrasts, reference: str, tau: float = 0.0) -> DesignModel | None:
    """Build the design-level model; None when the network has a single design."""
    if not math.isfinite(tau):
        tau = 0.0
    trts = ((reference,) + tuple(t for t in c.treatments if t != reference)
            if reference else tuple(c.treatments))
    n = len(trts)
    pairs = tuple(f"{trts[i]}:{trts[j]}" for i in range(n - 1) for j in range(i + 1, n))
    x_full = _x_full(n)
    row_of = {p: r for r, p in enumerate(pairs)}

    # study rows in netmeta's krahn orientation: comparison "a:b", te = b - a
    t1, t2, te = list(c.treat1), list(c.treat2), -c.te.copy()
    var = c.se**2 + tau**2
    for i in range(c.m):
        if t2[i] == reference:
            t1[i], t2[i] = t2[i], t1[i]
            te[i] = -te[i]
    comp = [f"{a}:{b}" for a, b in zip(t1, t2)]
    by_study: dict[str, list[int]] = {}
    for i, s in enumerate(c.studlab):
        by_study.setdefault(s, []).append(i)
    narms = {s: _arms(len(idx)) for s, idx in by_study.items()}
    order = sorted(range(c.m), key=lambda i: r_sort_key(c.studlab[i]))   # stable, as R

    comparisons = sorted(set(comp), key=r_sort_key)
    direct_te, direct_se = {}, {}
    two_arm: dict[str, tuple[float, float, int]] = {}
    for k in comparisons:
        sel = [i for i in order if comp[i] == k]
        w = 1 / var[sel]
        direct_te[k] = float(np.sum(w * te[sel]) / w.sum())
        direct_se[k] = float(1 / np.sqrt(w.sum()))
        sel2 = [i for i in sel if narms[c.studlab[i]] == 2]
        if sel2:
            w2 = 1 / var[sel2]
            two_arm[k] = (float(np.sum(w2 * te[sel2]) / w2.sum()), float(1 / w2.sum()),
                          len(sel2))

    # multi-arm studies: basic contrasts against the base arm, sorted by the other arm
    multi = sorted((s for s in by_study if narms[s] > 2), key=r_sort_key)
    study_basic: dict[str, tuple[str, list[int], FloatArray, FloatArray]] = {}
    for s in multi:
        idx = by_study[s]
        counts: dict[str, int] = {}
        for i in idx:
            counts[t1[i]] = counts.get(t1[i], 0) + 1
        top = max(counts.values())
        base = sorted((t for t, k in counts.items() if k == top), key=r_sort_key)[0]
        basic = sorted((i for i in idx if t1[i] == base), key=lambda i: r_sort_key(t2[i]))
        others = [t2[i] for i in basic]
        pvar = {frozenset((t1[i], t2[i])): var[i] for i in idx}
        cov = np.empty((len(basic), len(basic)))
        for a, ia in enumerate(basic):
            for b, ib in enumerate(basic):
                cov[a, b] = (var[ia] if a == b else
                             (var[ia] + var[ib] - pvar[frozenset((others[a], others[b]))]) / 2)
        study_basic[s] = (":".join([base] + others), basic, te[basic], cov)
    multi_designs = sorted({d for d, *_ in study_basic.values()}, key=r_sort_key)

    rows: list[DesignRow] = []
    te_dir: list[float] = []
    blocks_v: list[FloatArray] = []
    x_rows: list[int] = []
    for k in comparisons:
        if k in two_arm:
            est, v2, cnt = two_arm[k]
            rows.append(DesignRow(k, k, 2, cnt))
            te_dir.append(est)
            blocks_v.append(np.array([[v2]]))
            x_rows.append(row_of[k])
    for d in multi_designs:
        studs = [s for s in multi if study_basic[s][0] == d]   # R order of labels
        prec = [linalg.inv(study_basic[s][3]) for s in studs]
        agg_v = linalg.inv(np.sum(prec, axis=0))
        agg_te = agg_v @ np.sum([p @ study_basic[s][2] for p, s in zip(prec, studs)], axis=0)
        basics = [comp[i] for i in study_basic[studs[0]][1]]
        for b, k in enumerate(basics):
            rows.append(DesignRow(d, k, len(basics) + 1, len(studs)))
            te_dir.append(float(agg_te[b]))
            x_rows.append(row_of[k])
        blocks_v.append(agg_v)
    if len({r.design for r in rows}) <= 1:
        return None

    # study level: two-arm studies (sorted by label), then the multi-arm studies' basics
    s_lab: list[str] = []
    s_des: list[str] = []
    s_cmp: list[str] = []
    s_te: list[float] = []
    s_blocks: list[FloatArray] = []
    blocks: list[tuple[int, ...]] = []
    for i in order:
        if narms[c.studlab[i]] == 2:
            blocks.append((len(s_lab),))
            s_lab.append(c.studlab[i])
            s_des.append(comp[i])
            s_cmp.append(comp[i])
            s_te.append(te[i])
            s_blocks.append(np.array([[var[i]]]))
    for s in multi:
        d, basic, y, cov = study_basic[s]
        blocks.append(tuple(range(len(s_lab), len(s_lab) + len(basic))))
        for b, i in enumerate(basic):
            s_lab.append(s)
            s_des.append(d)
            s_cmp.append(comp[i])
            s_te.append(y[b])
        s_blocks.append(cov)
    return DesignModel(
        trts=trts, pairs=pairs, x_full=x_full, rows=tuple(rows), te_dir=np.array(te_dir),
        v=linalg.block_diag(*blocks_v), x_obs=x_full[x_rows], direct_te=direct_te,
        direct_se=direct_se, study_label=tuple(s_lab), study_design=tuple(s_des),
        study_comparison=tuple(s_cmp), study_te=np.array(s_te),
        v_studies=linalg.block_diag(*s_blocks), x_studies=x_full[[row_of[k] for k in s_cmp]],
        blocks=tuple(blocks))


def _arms(m: int) -> int:
    return int(round((1 + math.sqrt(8 * m + 1)) / 2))


def _x_full(n: int) -> FloatArray:
    """Rows: all comparisons ``i:j`` (i < j); columns: the basic parameters ``trts[0]:trts[k]``
    (``-1`` for ``0:k``, ``+1, -1`` at ``i, j`` otherwise) as netmeta's ``nma.krahn``."""
    rows = []
    for i in range(n - 1):
        for j in range(i + 1, n):
            x = np.zeros(n - 1)
            if i == 0:
                x[j - 1] = -1.0
            else:
                x[i - 1], x[j - 1] = 1.0, -1.0
            rows.append(x)
    return np.array(rows)


# --- decomposition ------------------------------------------------------------------------------
@dataclass(frozen=True)
class QDecomposition:
    """Raw numbers of one design-based decomposition (see :class:`DesignDecomposition`)."""

    q: tuple[float, float, float]          # total, within designs, between designs
    df: tuple[int, int, int]
    het_design: tuple[str, ...]
    het_q: FloatArray
    het_df: npt.NDArray[np.int64]
    detach_design: tuple[str, ...]
    detach_q: FloatArray
    detach_df: npt.NDArray[np.int64]
    inc_design: tuple[str, ...]
    inc_q: FloatArray


def decompose(model: DesignModel) -> QDecomposition:
    """Q decomposition of the design model (netmeta's ``decomp.tau``)."""
    vi = linalg.inv(model.v)
    x = model.x_obs
    cov = linalg.inv(x.T @ vi @ x)
    beta = cov @ x.T @ vi @ model.te_dir
    net_rows = x @ beta
    # study level
    vsi = linalg.inv(model.v_studies)
    des_index = {}
    for r, row in enumerate(model.rows):
        des_index[(row.design, row.comparison)] = r
    dir_of_study = np.array([model.te_dir[des_index[(d, k)]] for d, k in
                             zip(model.study_design, model.study_comparison)])
    pair_index = {p: r for r, p in enumerate(model.pairs)}
    net_all = model.x_full @ beta
    net_of_study = np.array([net_all[pair_index[k]] for k in model.study_comparison])
    r_het = model.study_te - dir_of_study
    r_net = model.study_te - net_of_study
    q_het_total = float(r_het @ vsi @ r_het)
    q_net = float(r_net @ vsi @ r_net)

    designs = list(dict.fromkeys(r.design for r in model.rows))
    het_q, het_df = [], []
    for d in designs:
        rows = [i for i, sd in enumerate(model.study_design) if sd == d]
        sub = model.v_studies[np.ix_(rows, rows)]
        rr = r_het[rows]
        het_q.append(round(float(rr @ linalg.solve(sub, rr)), 15))
        narms = next(r.narms for r in model.rows if r.design == d)
        het_df.append(len(rows) - (narms - 1))
    df_het = int(sum(het_df))
    df_net = len(model.study_te) - x.shape[1]
    d_inc = model.te_dir - net_rows
    inc_q = d_inc * (vi @ d_inc)

    detach_design, detach_q, detach_df = [], [], []
    p = x.shape[1]
    for d in designs:
        own = np.array([r.design == d for r in model.rows])
        extra = int(own.sum())
        xb = np.hstack([x, np.zeros((x.shape[0], extra))])
        xb[own, :] = 0.0
        xb[np.ix_(own, np.arange(p, p + extra))] = np.eye(extra)
        rank = np.linalg.matrix_rank(xb)
        if rank < p + extra:      # detaching the design leaves a treatment unidentified
            continue
        fitted = xb @ linalg.pinv(xb.T @ vi @ xb) @ xb.T @ vi @ model.te_dir
        resid = model.te_dir - fitted
        resid[own] = 0.0
        detach_design.append(d)
        detach_q.append(float(resid @ vi @ resid))
        detach_df.append(x.shape[0] - rank)
    return QDecomposition(
        q=(q_net, q_het_total, q_net - q_het_total), df=(df_net, df_het, df_net - df_het),
        het_design=tuple(designs), het_q=np.array(het_q),
        het_df=np.array(het_df, dtype=np.int64), detach_design=tuple(detach_design),
        detach_q=np.array(detach_q), detach_df=np.array(detach_df, dtype=np.int64),
        inc_design=tuple(r.design for r in model.rows), inc_q=np.asarray(inc_q))


def tau_within(model: DesignModel) -> float:
    """Method-of-moments tau of the full design-by-treatment interaction model (netmeta's
    ``tau.within``): DerSimonian-Laird on the study-level rows with one parameter per design
    row, tau² entering each study block as ``tau² (I + J) / 2``."""
    nrow = len(model.study_te)
    index = {(r.design, r.comparison): i for i, r in enumerate(model.rows)}
    x = np.zeros((nrow, len(model.rows)))
    for i, (d, k) in enumerate(zip(model.study_design, model.study_comparison)):
        x[i, index[(d, k)]] = 1.0
    w0 = np.zeros((nrow, nrow))
    v0 = np.zeros((nrow, nrow))
    for blk in model.blocks:
        ix = np.ix_(blk, blk)
        w0[ix] = linalg.inv(model.v_studies[ix])
        v0[ix] = (np.eye(len(blk)) + np.ones((len(blk), len(blk)))) / 2
    c = linalg.inv(x.T @ w0 @ x)
    theta = c @ x.T @ w0 @ model.study_te
    r = model.study_te - x @ theta
    q = float(r @ w0 @ r)
    trace1 = float(np.trace(w0 @ v0))
    trace2 = float(np.trace(c @ x.T @ w0 @ v0 @ w0 @ x))
    if trace1 == trace2:
        return 0.0
    return math.sqrt(max(0.0, (q - nrow + x.shape[1]) / (trace1 - trace2)))


# --- network measures (König et al. 2013) --------------------------------------------------------
@dataclass(frozen=True)
class MeasureValues:
    comparisons: tuple[str, ...]
    proportion: FloatArray
    mean_path: FloatArray
    minimal_parallelism: FloatArray
    minimal_parallelism_study: FloatArray


def measures(model: DesignModel) -> MeasureValues:
    """Direct evidence proportion, mean path length and minimal parallelism per comparison
    (netmeta's ``netmeasures``; König et al. 2013, sections 3.4.1-3.4.4)."""
    _, net_se = model.network()
    prop = np.array([net_se[i] ** 2 / model.direct_se[p] ** 2 if p in model.direct_se else 0.0
                     for i, p in enumerate(model.pairs)])
    h = model.hat()
    hs = model.hat_studies()

    def grouped(mat: FloatArray, labels: Sequence[str]) -> FloatArray:
        groups = sorted(set(labels), key=r_sort_key)
        cols = []
        for g in groups:
            sel = [i for i, lab in enumerate(labels) if lab == g]
            part = mat[:, sel]
            cols.append(0.5 * (np.abs(part.sum(axis=1)) + np.abs(part).sum(axis=1)))
        return np.column_stack(cols)

    ht = grouped(h, [r.design for r in model.rows])
    hts = grouped(hs, list(model.study_label))
    return MeasureValues(comparisons=model.pairs, proportion=prop, mean_path=ht.sum(axis=1),
                         minimal_parallelism=1 / np.abs(ht).max(axis=1),
                         minimal_parallelism_study=1 / np.abs(hts).max(axis=1))
