"""Leave-one-out, cumulative and residual diagnostics of Mantel-Haenszel and Peto poolings
(metafor ``leave1out.rma.mh`` / ``.rma.peto``, ``cumul.rma.mh`` / ``.rma.peto``,
``rstandard.rma.mh`` / ``.rma.peto``).

A refit pools a subset of the tables (or incidence data) again with the same method, measure
and level; a subset whose pooling is undefined (e.g. no events left) gives a row of NaN, as
metafor's refits give NA.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.mantel_haenszel import mantel_haenszel
from metaverdict.models.peto import peto

#: Columns of the leave-one-out / cumulative tables of MH and Peto fits (no tau²).
TABLE_COLUMNS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "q",
                 "q_pvalue", "i2", "h2")


def refit_tables(res: PooledTablesResult, idx: Sequence[int] | np.ndarray
                 ) -> PooledTablesResult | None:
    """``res`` pooled again over the studies at positions ``idx`` (None where that pooling is
    undefined: an InputError of :func:`~metaverdict.models.mantel_haenszel` or
    :func:`~metaverdict.models.peto`)."""
    counts = res.counts
    if not counts:
        raise InputError("this pooled result carries no tables to refit; pool with "
                         "mantel_haenszel() or peto()")
    sub = {name: np.asarray(a)[np.asarray(idx, dtype=int)] for name, a in counts.items()}
    labels = None if res.labels is None else [res.labels[i] for i in idx]
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            if res.method == "Peto":
                return peto(level=res.level, labels=labels, **sub)
            return mantel_haenszel(res.measure, level=res.level, labels=labels, **sub)
    except InputError:
        return None


def refit_table(fits: list[PooledTablesResult | None], index: pd.Index) -> pd.DataFrame:
    """The table of :data:`TABLE_COLUMNS` of the refits ``fits`` (NaN rows for None)."""
    n = len(TABLE_COLUMNS)
    rows = [[np.nan] * n if f is None else [float(getattr(f, c)) for c in TABLE_COLUMNS]
            for f in fits]
    return pd.DataFrame(np.array(rows, dtype=float).reshape(len(fits), n),
                        index=index, columns=list(TABLE_COLUMNS))


def study_labels(res: PooledTablesResult) -> pd.Index:
    """Study labels of ``res`` (1..k when it has none)."""
    labels: list[Any] = res.labels if res.labels is not None else list(range(1, res.k + 1))
    return pd.Index(labels, name="study")


def tables_leave_one_out(res: PooledTablesResult) -> pd.DataFrame:
    """Leave-one-out table of an MH or Peto pooling (see
    :func:`~metaverdict.diagnostics.leave_one_out`)."""
    if res.k < 2:
        raise InputError(f"leave-one-out analysis needs at least 2 studies, got k = {res.k}")
    every = np.arange(res.k)
    return refit_table([refit_tables(res, every[every != i]) for i in range(res.k)],
                       study_labels(res))


def tables_rstandard(res: PooledTablesResult) -> pd.DataFrame:
    r"""Standardised residuals of an MH or Peto pooling (metafor ``rstandard.rma.mh``):
    :math:`e_i = y_i - \hat\theta` (0 when below 100 machine epsilon), its standard error
    :math:`\sqrt{v_i}` and :math:`z_i = e_i/\sqrt{v_i}`, with the per-study outcomes
    ``yi``, ``vi`` of the heterogeneity test (NaN for studies left out of it)."""
    resid = np.asarray(res.yi) - res.estimate
    resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
    se = np.sqrt(np.asarray(res.vi))
    return pd.DataFrame({"resid": resid, "se": se, "z": resid / se}, index=study_labels(res))
