"""``network_meta_analysis``: the frequentist graph-theoretical network meta-analysis of R's
netmeta (``netmeta()``, version 3.3-1), common and random effects.

The common-effects model is the weighted least-squares fit of :mod:`metaverdict.network.graph`
with weights ``1 / seTE_adj^2`` (multi-arm studies: reduced weights). The random-effects model
adds tau² to every contrast's variance before the multi-arm reduction and fits again; tau² is
the generalised DerSimonian-Laird estimate (``method_tau="DL"``, netmeta's default), REML or ML
(:mod:`metaverdict.network.reml`, as netmeta via ``metafor::rma.mv``), or preset.

Alongside: direct estimates per pair (inverse-variance pooling of the pair's contrasts with the
unadjusted standard errors; random effects with the network's tau), the direct evidence
proportion ``P = Var(network) / Var(direct)``, indirect estimates by back-calculation
``(TE_net - P TE_dir) / (1 - P)`` with variance ``Var(net) / (1 - P)`` (König et al. 2013),
prediction intervals ``TE ± t_{df} sqrt(SE² + tau²)`` (``df`` = Q's degrees of freedom, at
least 2), and the design-based decomposition of Q (:mod:`metaverdict.network.krahn`).

References
----------
Rücker, G. (2012). Network meta-analysis, electrical networks and graph theory. Research
Synthesis Methods, 3(4), 312-324.
Rücker, G., & Schwarzer, G. (2014). Reduce dimension or reduce weights? Statistics in
Medicine, 33(25), 4353-4369.
König, J., Krahn, U., & Binder, H. (2013). Visualizing the flow of evidence in network
meta-analysis and characterizing mixed treatment comparisons. Statistics in Medicine, 32(30),
5414-5429.
Balduzzi, S., Rücker, G., Nikolakopoulou, A., Papakonstantinou, T., Salanti, G., Efthimiou,
O., & Schwarzer, G. (2023). netmeta: An R package for network meta-analysis using frequentist
methods. Journal of Statistical Software, 106(2), 1-40.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from metaverdict._results import read_only
from metaverdict._validation import check_level, choice
from metaverdict.errors import InputError
from metaverdict.network._collation import r_sort_key
from metaverdict.network.data import Contrasts, prepare_contrasts, read_contrasts
from metaverdict.network.graph import (
    GraphFit,
    chi2_pvalue,
    dl_tau2,
    fit_graph,
    incidence,
    isquared,
    multiarm_variances,
)
from metaverdict.network.krahn import decompose, design_model, tau_within
from metaverdict.network.matrices import EstimateMatrices
from metaverdict.network.pairwise import MEASURE_FIELDS
from metaverdict.network.reml import likelihood_tau2
from metaverdict.network.results import (
    ContrastFit,
    DesignDecomposition,
    NetworkMetaAnalysisResult,
    PairHeterogeneity,
)

FloatArray = npt.NDArray[np.float64]
#: tau² estimators: generalised DerSimonian-Laird, REML and ML (netmeta's method.tau)
TAU_METHODS = ("DL", "REML", "ML")
#: netmeta: a direct evidence proportion within sqrt(machine epsilon) of 0 or 1 is 0 or 1
_P_TOL = math.sqrt(np.finfo(float).eps)
ARM_ARGUMENTS = ("n1", "n2", "event1", "event2", "incr1", "incr2", "mean1", "mean2", "sd1",
                 "sd2", "time1", "time2")


def network_meta_analysis(data: Any, te: str = "TE", se: str = "seTE", treat1: str = "treat1",
                          treat2: str = "treat2", studlab: str | None = "studlab", *,
                          reference: str | None = None, method_tau: str = "REML",
                          sm: str | None = None, tau_preset: float | None = None,
                          level: float = 0.95, level_ma: float | None = None,
                          level_predict: float = 0.95, seq: Sequence[str] | None = None,
                          small_values: str | None = None,
                          tol_multiarm: float = 0.001,
                          **arm_columns: str | None) -> NetworkMetaAnalysisResult:
    """Frequentist network meta-analysis with the graph-theoretical method (R netmeta).

    Parameters
    ----------
    data : pandas.DataFrame or PairwiseContrasts
        One row per contrast (a multi-arm study: one row per pair of its arms, all under the
        same study label), or the result of :func:`~metaverdict.network.pairwise` (whose
        arm-level columns then feed the REML variance structure and whose measure is used).
    te, se, treat1, treat2, studlab : str
        Column names: the estimate of ``treat1`` versus ``treat2`` (log scale for ratio
        measures), its standard error, both treatments and the study label (``None``: every
        row its own two-arm study).
    reference : str, optional
        Reference treatment (default: the first treatment in R's order). It orients the
        design labels and the netsplit comparisons and, for REML, each study's basic
        contrasts.
    method_tau : {"REML", "DL", "ML"}
        tau² estimator. netmeta's default is ``"DL"``.
    sm : str, optional
        Summary measure (``"OR"``, ``"RR"``, ``"RD"``, ``"MD"``, ``"SMD"``, ``"IRR"``, or any
        label); from ``data`` for pairwise contrasts. Decides the REML within-study covariance
        and whether estimates are back-transformed in printouts.
    tau_preset : float, optional
        A fixed tau (not tau²) for the random-effects model instead of an estimate.
    level, level_ma, level_predict : float
        Confidence levels of the per-contrast intervals, of the network and direct estimates
        (default: ``level``) and of the prediction intervals.
    seq : sequence of str, optional
        Treatment order of the league table (default: the treatments in R's order).
    small_values : {"good", "bad", "desirable", "undesirable"}, optional
        Whether small effects are beneficial; the default direction of :meth:`p_scores`.
    tol_multiarm : float
        Largest allowed inconsistency among the contrasts of one multi-arm study.
    **arm_columns : str
        Arm-level columns per contrast (``n1``, ``n2``, ``event1``, ``event2``, ``incr1``,
        ``sd1``, ``sd2``, ``time1``, ``time2``...) for the REML variance structure.

    Returns
    -------
    NetworkMetaAnalysisResult

    Raises
    ------
    InputError
        Unknown column or option, a non-positive standard error, a treatment compared with
        itself, a study whose contrasts are not all pairs of its treatments, inconsistent
        multi-arm contrasts, or a disconnected network (the message names the sub-networks);
        each message names the row, study and field.

    Examples
    --------
    >>> import pandas as pd
    >>> import metaverdict as mv
    >>> df = pd.DataFrame({
    ...     "studlab": ["s1", "s2", "s3", "s4", "s4", "s4"],
    ...     "treat1": ["A", "A", "B", "A", "A", "B"],
    ...     "treat2": ["B", "C", "C", "B", "C", "C"],
    ...     "TE": [-0.5, -0.9, -0.3, -0.4, -0.8, -0.4],
    ...     "seTE": [0.2, 0.25, 0.3, 0.3, 0.3, 0.35]})
    >>> net = mv.network.network_meta_analysis(df, reference="A", method_tau="DL")
    >>> net.estimates(model="common").round(3)        # cell (r, c): c versus r
    column      A      B      C
    row
    A       0.000  0.489  0.846
    B      -0.489  0.000  0.357
    C      -0.846 -0.357  0.000
    >>> round(net.q, 4), net.q_df, net.tau2
    (0.1776, 3, 0.0)
    >>> net.p_scores(small_values="good").table().round(3)
               common  random
    treatment
    A           1.000   1.000
    B           0.487   0.487
    C           0.013   0.013
    """
    for key in arm_columns:
        if key not in ARM_ARGUMENTS:
            raise InputError(f"unknown argument {key!r}; arm-level columns are "
                             f"{', '.join(ARM_ARGUMENTS)}")
    columns, data_sm = read_contrasts(data, te, se, treat1, treat2, studlab, arm_columns)
    contrasts = prepare_contrasts(columns, tol_multiarm)
    return fit_contrasts(contrasts, sm=sm or data_sm, reference=reference,
                         method_tau=method_tau, tau_preset=tau_preset, level=level,
                         level_ma=level_ma, level_predict=level_predict, seq=seq,
                         small_values=small_values)


def _study_info(c: Contrasts) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Studies in netmeta's order (by the input position of each study's first contrast in
    (study, treat1, treat2) order) and their numbers of arms."""
    order = sorted(range(c.m), key=lambda i: (r_sort_key(c.studlab[i]),
                                              r_sort_key(c.treat1[i]),
                                              r_sort_key(c.treat2[i])))
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for i in order:
        first.setdefault(c.studlab[i], i)
        count[c.studlab[i]] = count.get(c.studlab[i], 0) + 1
    studies = sorted(first, key=lambda s: first[s])
    narms = tuple(int(round((1 + math.sqrt(8 * count[s] + 1)) / 2)) for s in studies)
    return tuple(studies), narms


def reduced_se(c: Contrasts, tau2: float) -> tuple[FloatArray, list[str]]:
    """Standard errors adjusted for multi-arm studies (Rücker & Schwarzer 2014), with tau²
    added to every contrast's variance first."""
    var = c.se**2 + tau2
    out = var.copy()
    warnings = []
    by_study: dict[str, list[int]] = {}
    for i, s in enumerate(c.studlab):
        by_study.setdefault(s, []).append(i)
    for s, idx in by_study.items():
        if len(idx) == 1:
            continue
        trts = sorted({c.treat1[i] for i in idx} | {c.treat2[i] for i in idx}, key=r_sort_key)
        pos = {t: k for k, t in enumerate(trts)}
        pv = np.zeros((len(trts), len(trts)))
        for i in idx:
            a, b = pos[c.treat1[i]], pos[c.treat2[i]]
            pv[a, b] = pv[b, a] = var[i]
        reduced, negative = multiarm_variances(pv)
        if negative:
            warnings.append(f"study {s!r}: the multi-arm adjustment gives negative weights "
                            "(the study's variances are not those of one set of arms)")
        for i in idx:
            out[i] = reduced[pos[c.treat1[i]], pos[c.treat2[i]]]
    return np.sqrt(out), warnings


def _pooled(te: FloatArray, var: FloatArray) -> tuple[float, float]:
    w = 1 / var
    return float(np.sum(w * te) / w.sum()), float(math.sqrt(1 / w.sum()))


def pair_heterogeneity(te: FloatArray, var: FloatArray, method: str, level: float
                       ) -> tuple[float, float, float]:
    """``(Q, tau², I²)`` of one pairwise meta-analysis (meta's ``metagen``): Q about the
    common-effect estimate, tau² by ``method`` (NaN for one study), I² from Q."""
    if len(te) == 1:
        return 0.0, math.nan, math.nan
    est, _ = _pooled(te, var)
    q = float(np.sum((te - est) ** 2 / var))
    df = len(te) - 1
    if method == "DL":
        w = 1 / var
        tau2 = max(0.0, (q - df) / (w.sum() - np.sum(w**2) / w.sum()))
    else:
        from metaverdict.models import meta_analysis
        tau2 = float(meta_analysis(te, var, method=method).tau2)
    return q, tau2, isquared(q, df, level)[0]


def fit_contrasts(c: Contrasts, *, sm: str | None, reference: str | None, method_tau: str,
                  tau_preset: float | None, level: float, level_ma: float | None,
                  level_predict: float, seq: Sequence[str] | None,
                  small_values: str | None) -> NetworkMetaAnalysisResult:
    """Fit the prepared contrasts (see :func:`network_meta_analysis`)."""
    method = choice(method_tau, TAU_METHODS, "method_tau")
    level = check_level(level)
    level_ma = level if level_ma is None else check_level(level_ma)
    level_predict = check_level(level_predict)
    trts = c.treatments
    n = len(trts)
    if reference is None:
        reference = trts[0]
    reference = str(reference)
    if reference not in trts:
        raise InputError(f"field 'reference': {reference!r} is not a treatment of the network "
                         f"(treatments: {', '.join(trts)})")
    seq_t = tuple(trts) if seq is None else tuple(str(s) for s in seq)
    if sorted(seq_t) != sorted(trts):
        raise InputError(f"field 'seq': must list every treatment once ({', '.join(trts)}), "
                         f"got {', '.join(seq_t)}")
    if small_values is not None:
        from metaverdict.network.ranking import small_values_code
        small_values = small_values_code(small_values)
    if tau_preset is not None and not (math.isfinite(tau_preset) and tau_preset >= 0):
        raise InputError(f"field 'tau_preset': must be a number >= 0 (tau, not tau^2), got "
                         f"{tau_preset!r}")
    if sm is not None:
        sm = str(sm).upper() if str(sm).upper() in MEASURE_FIELDS else str(sm)

    p1, p2 = c.positions()
    b = incidence(p1, p2, n)
    studies, narms = _study_info(c)
    lab = np.array(c.studlab, dtype=object)
    same_study = lab[:, None] == lab[None, :]
    df = int(sum(a - 1 for a in narms) - (n - 1))

    se_adj_c, warn_c = reduced_se(c, 0.0)
    w_c = 1 / se_adj_c**2
    fit_c = fit_graph(c.te, w_c, b)
    q = fit_c.q
    tau2_dl = dl_tau2(fit_c, w_c, b, same_study, df)
    if tau_preset is not None:
        tau = float(tau_preset)
    elif method == "DL":
        tau = math.sqrt(tau2_dl) if math.isfinite(tau2_dl) else math.nan
    else:
        tau = math.sqrt(likelihood_tau2(c, reference, sm, method))
    tau2 = tau**2
    tau2_w = tau2 if math.isfinite(tau2) else 0.0
    se_adj_r, warn_r = reduced_se(c, tau2_w)
    w_r = 1 / se_adj_r**2
    fit_r = fit_graph(c.te, w_r, b)

    common = EstimateMatrices.from_estimates("network", "common", level_ma, trts, fit_c.te,
                                             fit_c.se)
    random = EstimateMatrices.from_estimates("network", "random", level_ma, trts, fit_r.te,
                                             fit_r.se)
    prediction = _prediction(fit_r, tau2, df, level_predict, trts)

    direct_c, direct_r, pair_het = _direct(c, trts, tau2_w, method, level_ma)
    prop_c = _proportion(fit_c, direct_c)
    prop_r = _proportion(fit_r, direct_r)
    if n == 2:
        prop_c = prop_r = np.where(np.eye(2, dtype=bool), np.nan, 1.0)
    indirect_c = _indirect(common, direct_c, prop_c, level)
    indirect_r = _indirect(random, direct_r, prop_r, level)

    i2, i2_lo, i2_hi = isquared(q, df, level_ma) if df > 0 else (math.nan,) * 3
    decomposition = _decomposition(c, reference)
    multiarm = np.array([narms[studies.index(s)] > 2 for s in c.studlab])
    return NetworkMetaAnalysisResult(
        sm=sm, method_tau=method if tau_preset is None else "preset", reference=reference,
        treatments=tuple(trts), seq=seq_t, level=level, level_ma=level_ma,
        level_predict=level_predict, small_values=small_values, k=len(studies), m=c.m, n=n,
        studies=studies, narms=narms,
        q=q, q_df=df, q_pvalue=chi2_pvalue(q, df), i2=i2, i2_lower=i2_lo, i2_upper=i2_hi,
        tau2=tau2, tau=tau,
        common=common, random=random, prediction=prediction,
        direct_common=direct_c, direct_random=direct_r, pair_heterogeneity=pair_het,
        proportion_common=read_only(prop_c), proportion_random=read_only(prop_r),
        indirect_common=indirect_c, indirect_random=indirect_r,
        fit_common=_contrast_fit(fit_c, se_adj_c, w_c, multiarm, level),
        fit_random=_contrast_fit(fit_r, se_adj_r, w_r, multiarm, level),
        warnings=tuple(c.warnings) + tuple(dict.fromkeys(warn_c + warn_r)),
        _decomposition=decomposition, _contrasts=c)


def _contrast_fit(fit: GraphFit, se_adj: FloatArray, w: FloatArray,
                  multiarm: npt.NDArray[np.bool_], level: float) -> ContrastFit:
    leverage = np.diag(fit.hat).copy()
    leverage[multiarm] = np.nan
    return ContrastFit(se_adj=read_only(se_adj), weight=read_only(w),
                       te_nma=read_only(fit.edge_te), se_nma=read_only(fit.edge_se),
                       level=level, leverage=read_only(leverage),
                       q_contribution=read_only(fit.q_contributions),
                       hat=read_only(fit.hat), laplacian=read_only(fit.laplacian),
                       laplacian_pinv=read_only(fit.laplacian_pinv))


def _prediction(fit: GraphFit, tau2: float, df: int, level: float,
                trts: tuple[str, ...]) -> EstimateMatrices:
    n = len(trts)
    if df >= 2 and math.isfinite(tau2):
        se = np.sqrt(fit.se**2 + tau2)
        crit = float(stats.t.ppf(0.5 + level / 2, df))
        lower, upper = fit.te - crit * se, fit.te + crit * se
        np.fill_diagonal(lower, 0.0)
        np.fill_diagonal(upper, 0.0)
    else:
        se = lower = upper = np.full((n, n), np.nan)
    nan = np.full((n, n), np.nan)
    return EstimateMatrices(kind="prediction", model="random", level=level, treatments=trts,
                            estimate=read_only(fit.te), se=read_only(se),
                            ci_lower=read_only(lower), ci_upper=read_only(upper),
                            statistic=read_only(nan), pvalue=read_only(nan.copy()))


def _direct(c: Contrasts, trts: tuple[str, ...], tau2: float, method: str, level: float
            ) -> tuple[EstimateMatrices, EstimateMatrices, PairHeterogeneity]:
    n = len(trts)
    pos = {t: i for i, t in enumerate(trts)}
    te_c, se_c, te_r, se_r, qd, t2d, i2d, kd = (np.full((n, n), np.nan) for _ in range(8))
    pairs: dict[tuple[int, int], list[int]] = {}
    for i in range(c.m):
        pairs.setdefault((pos[c.treat1[i]], pos[c.treat2[i]]), []).append(i)
    for (a, b_), idx in pairs.items():
        y, v = c.te[idx], c.se[idx] ** 2
        est, se0 = _pooled(y, v)
        est_r, se_rr = _pooled(y, v + tau2) if tau2 > 0 else (est, se0)
        qq, tt, ii = pair_heterogeneity(y, v, method, level)
        for (i, j), sign in (((a, b_), 1), ((b_, a), -1)):
            te_c[i, j], se_c[i, j] = sign * est, se0
            te_r[i, j], se_r[i, j] = sign * est_r, se_rr
            qd[i, j], t2d[i, j], i2d[i, j], kd[i, j] = qq, tt, ii, len(idx)
    direct_c = EstimateMatrices.from_estimates("direct", "common", level, trts, te_c, se_c)
    direct_r = EstimateMatrices.from_estimates("direct", "random", level, trts, te_r, se_r)
    het = PairHeterogeneity(treatments=trts, k=read_only(np.nan_to_num(kd, nan=0.0)),
                            q=read_only(qd), tau2=read_only(t2d), i2=read_only(i2d))
    return direct_c, direct_r, het


def _proportion(fit: GraphFit, direct: EstimateMatrices) -> FloatArray:
    """Direct evidence proportion ``Var(network) / Var(direct)`` (0 without direct evidence,
    NaN on the diagonal)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = np.where(np.isfinite(direct.se), fit.se**2 / direct.se**2, 0.0)
    np.fill_diagonal(prop, np.nan)
    return prop


def _indirect(network: EstimateMatrices, direct: EstimateMatrices, prop: FloatArray,
              level: float) -> EstimateMatrices:
    p = prop.copy()
    # netmeta: direct estimate 0 where there is no direct evidence, no indirect estimate
    # where there is only direct evidence
    te_dir = np.where(np.abs(p) < _P_TOL, 0.0, direct.estimate)
    p[(np.abs(p - 1) < _P_TOL) | (p > 1)] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        te = (network.estimate - p * te_dir) / (1 - p)
        se = np.sqrt(network.se**2 / (1 - p))
    return EstimateMatrices.from_estimates("indirect", network.model, level,
                                           network.treatments, te, se)


def _decomposition(c: Contrasts, reference: str) -> DesignDecomposition | None:
    model = design_model(c, reference, 0.0)
    if model is None:
        return None
    dec = decompose(model)
    tw = tau_within(model)
    model_r = design_model(c, reference, tw)
    dec_r = decompose(model_r) if model_r is not None else dec
    return DesignDecomposition.from_parts(dec, dec_r, tw)
