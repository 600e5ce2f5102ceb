r"""Subgroup analysis: one meta-analysis per level of a grouping variable and two tests for
subgroup differences.

1. **Test for subgroup differences** (``q_between``; Borenstein et al. 2009, ch. 19; RevMan,
   R meta's ``Q.b.random``): each subgroup g is pooled on its own, with its own tau² (method
   and test as requested), giving :math:`\hat\mu_g` with standard error :math:`s_g`; the
   estimates are then compared with a fixed-effect Cochran Q,

   .. math:: Q_B = \sum_g w_g(\hat\mu_g - \bar\mu)^2,\quad w_g = 1/s_g^2,\quad
             \bar\mu = \sum_g w_g\hat\mu_g / \sum_g w_g,

   referred to :math:`\chi^2_{G-1}`. With ``method="EE"`` this equals the classical partition
   :math:`Q_{total} - \sum_g Q_{within,g}` of Cochran's Q.
2. **Mixed-effects meta-regression** (``qm``): ``meta_analysis(mods = group dummies)`` with one
   tau² common to all subgroups (metafor ``rma(yi, vi, mods = ~ factor(group))``), whose
   omnibus test QM (chi² on G - 1 df, or F with ``test="knha"``) tests the same hypothesis.

A subgroup with a single study is fitted as a common-effect model of one study (tau² = 0, the
estimate is that study's yi with SE sqrt(vi)) and a warning names it.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from metaverdict._results import TableResult, fmt, fmt_p, format_table
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.univariate import column, fit, meta_analysis


@dataclass(frozen=True, eq=False, repr=False)
class SubgroupResult(TableResult):
    """Per-subgroup fits (``fits``, a read-only mapping, and ``table``, a new DataFrame on
    each access: one row per subgroup with k, estimate, se, ci_lower, ci_upper, pvalue, tau2,
    i2, q and q_pvalue) and the two tests for subgroup differences."""

    method: str
    test: str
    level: float
    group_name: str
    fits: Mapping[str, MetaAnalysisResult]
    _table: pd.DataFrame
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    qm: float | None
    qm_df: tuple[int, float] | None
    qm_pvalue: float | None
    moderator_fit: MetaAnalysisResult | None
    _repr_fields = ("method", "group_name", "q_between", "q_between_pvalue", "qm_pvalue")

    def summary(self) -> str:
        pct = int(round(self.level * 100))
        rows = [[str(g), str(int(r.k)), fmt(r.estimate), fmt(r.ci_lower), fmt(r.ci_upper),
                 fmt_p(r.pvalue), fmt(r.tau2), fmt(r.i2, 1)] for g, r in self._table.iterrows()]
        lines = [f"Subgroup analysis by {self.group_name} ({self.method}; "
                 f"{'Hartung-Knapp t' if self.test == 'knha' else 'z'} test)", "",
                 format_table([self.group_name, "k", "estimate", f"{pct}% ci.lb", "ci.ub", "p",
                               "tau^2", "I^2 (%)"], rows), "",
                 f"Test for subgroup differences (separate tau^2): Q_between({self.q_between_df}) "
                 f"= {fmt(self.q_between)}, p = {fmt_p(self.q_between_pvalue)}"]
        if self.qm is not None and self.qm_df is not None:      # set together
            df = (f"{self.qm_df[0]}" if np.isnan(self.qm_df[1])
                  else f"{self.qm_df[0]}, {fmt(self.qm_df[1], 0)}")
            name = "F" if self.test == "knha" else "QM"
            lines.append(f"Mixed-effects meta-regression (common tau^2): {name}({df}) = "
                         f"{fmt(self.qm)}, p = {fmt_p(self.qm_pvalue)}")
        return "\n".join(lines)


def subgroup_analysis(yi: Any, vi: Any = None, *, groups: Any, data: pd.DataFrame | None = None,
                      method: str = "REML", test: str = "z", level: float = 0.95,
                      labels: Any = None) -> SubgroupResult:
    """Fit one model per subgroup and test for subgroup differences (see module docstring).

    Parameters
    ----------
    yi, vi : array-like or str
        Effect sizes and sampling variances (or columns of ``data``).
    groups : str or array-like
        Subgroup of each study: a column of ``data`` or one value per study.
    data : DataFrame, optional
    method, test, level
        As in :func:`metaverdict.meta_analysis`.
    labels : sequence, optional
        Study labels for messages (default: ``data``'s index).

    Returns
    -------
    SubgroupResult
        ``fits`` maps each level (sorted, as R's ``factor``) to its MetaAnalysisResult;
        ``table`` has one row per level (k, estimate, se, ci_lower, ci_upper, pvalue, tau2,
        i2, q, q_pvalue).

    Raises
    ------
    InputError
        Unknown group column, missing group values (naming the study), fewer than two levels.
    """
    group_name = groups if isinstance(groups, str) else "group"
    if isinstance(groups, str):
        if data is None or groups not in data.columns:
            cols = [] if data is None else list(data.columns)
            raise InputError(f"field 'groups': no column {groups!r} in data (columns: {cols})")
        g = data[groups].reset_index(drop=True)
    else:
        g = pd.Series(list(groups))
    y = np.asarray(column(yi, data, "yi"), dtype=float)
    v = np.asarray(column(vi, data, "vi"), dtype=float)
    if len(g) != len(y):
        raise InputError(f"field 'groups': {len(g)} group values for {len(y)} studies")
    labels = list(data.index) if labels is None and data is not None else labels
    if g.isna().any():
        i = int(np.flatnonzero(g.isna().to_numpy())[0])
        where = f"study {labels[i]!r}" if labels is not None else f"row {i + 1}"
        raise InputError(f"{where}, field {group_name!r}: missing subgroup")
    levels = sorted(g.unique(), key=lambda x: (str(type(x)), x))
    if len(levels) < 2:
        raise InputError(f"field {group_name!r}: subgroup analysis needs at least two subgroups, "
                         f"got {levels}")
    fits: dict[str, MetaAnalysisResult] = {}
    for lev in levels:
        idx = np.flatnonzero((g == lev).to_numpy())
        sub_labels = None if labels is None else [labels[i] for i in idx]
        if len(idx) == 1:
            warnings.warn(f"subgroup {lev!r} of {group_name!r} has a single study "
                          f"({sub_labels[0] if sub_labels else f'row {idx[0] + 1}'}); it is "
                          "fitted with tau² = 0 (its estimate is that study's yi)",
                          UserWarning, stacklevel=2)
            fits[str(lev)] = fit(y[idx], v[idx], method="EE", test="z", level=level,
                                 labels=sub_labels)
        else:
            fits[str(lev)] = meta_analysis(y[idx], v[idx], method=method, test=test, level=level,
                                           labels=sub_labels)
    table = pd.DataFrame(
        [{"k": f.k, "estimate": f.estimate, "se": f.se, "ci_lower": f.ci_lower,
          "ci_upper": f.ci_upper, "pvalue": f.pvalue, "tau2": f.tau2, "i2": f.i2, "q": f.q,
          "q_pvalue": f.q_pvalue} for f in fits.values()],
        index=pd.Index(list(fits), name=group_name))
    w = 1 / table["se"].to_numpy() ** 2
    mu = table["estimate"].to_numpy()
    q_b = float(np.sum(w * (mu - np.sum(w * mu) / np.sum(w)) ** 2))
    df_b = len(levels) - 1
    qm = qm_df = qm_p = mod_fit = None
    dummies = pd.DataFrame({f"{group_name}{lev}": (g == lev).astype(float).to_numpy()
                            for lev in levels[1:]})
    if len(y) > len(levels):
        mod_fit = meta_analysis(y, v, mods=dummies, method=method, test=test, level=level,
                                labels=labels)
        qm, qm_df, qm_p = mod_fit.qm, mod_fit.qm_df, mod_fit.qm_pvalue
    else:
        warnings.warn(f"the mixed-effects test needs more studies ({len(y)}) than subgroups "
                      f"({len(levels)}); only the test with separate tau² is reported",
                      UserWarning, stacklevel=2)
    return SubgroupResult(method=method, test=test, level=level, group_name=group_name,
                          fits=MappingProxyType(fits), _table=table, q_between=q_b,
                          q_between_df=df_b, q_between_pvalue=float(special.chdtrc(df_b, q_b)),
                          qm=qm, qm_df=qm_df, qm_pvalue=qm_p, moderator_fit=mod_fit)
