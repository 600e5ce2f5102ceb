"""Cumulative meta-analysis: the model refitted as studies are added one at a time, or one
group of tied order values at a time (metafor ``cumul``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict.diagnostics._refit import (
    refit_subsets,
    require_intercept_only,
    require_result,
    study_index,
)
from metaverdict.diagnostics.leave_one_out import COLUMNS, subset_table
from metaverdict.diagnostics.tables import TABLE_COLUMNS, refit_table, refit_tables, study_labels
from metaverdict.errors import InputError
from metaverdict.models._tables import PooledTablesResult
from metaverdict.models.results import MetaAnalysisResult


def cumulative(res: MetaAnalysisResult | PooledTablesResult, order: Any = None, *,
               positions: Any = None, decreasing: bool = False,
               collapse: bool = False) -> pd.DataFrame:
    """Refit ``res`` on the first 1, 2, ..., k studies.

    Parameters
    ----------
    res : MetaAnalysisResult or PooledTablesResult
        An intercept-only model, or a :func:`~metaverdict.mantel_haenszel` /
        :func:`~metaverdict.peto` pooling (metafor ``cumul.rma.mh`` / ``.rma.peto``: the
        tables are pooled again; no tau2 column).
    order : array-like, optional
        Sort keys, one per study (e.g. publication year): studies are added in increasing
        order of the key (ties keep the data order; studies with a missing key are left out),
        as metafor (3.8-1 and later) reads ``cumul(res, order=year)``.
    positions : array-like of int, optional
        Instead of ``order``: 0-based study positions in the order they are to be added (e.g.
        ``np.argsort(year)``); may list a subset of the studies.
    decreasing : bool
        Sort ``order`` in decreasing order.
    collapse : bool
        With ``order``: studies with the same key enter together (metafor >= 4
        ``cumul(..., collapse=TRUE)``; not in 3.8), one row per distinct key, indexed by the
        key, with a column ``k`` of the studies pooled so far.

    Returns
    -------
    DataFrame
        Row *i* pools the first *i* studies (in the chosen order) with the estimator (or fixed
        tau²), test and level of ``res``; columns as
        :func:`~metaverdict.diagnostics.leave_one_out`, indexed by the label of the study
        added in that row. The first row (one study) has q = 0, q_pvalue = 1, tau2 = 0,
        i2 = 0 and h2 = 1, as in metafor. Refits that are undefined give NaN rows.

    Raises
    ------
    InputError
        Another result type, a meta-regression, ``collapse`` without ``order``, or bad
        ``order`` / ``positions``.
    """
    require_result(res, "cumulative", MetaAnalysisResult, PooledTablesResult)
    tables = isinstance(res, PooledTablesResult)
    if not tables:
        require_intercept_only(res, "cumulative meta-analysis")
    if collapse and order is None:
        raise InputError("collapse=True needs order= (studies with tied order values enter "
                         "together)")
    labels = study_labels(res) if tables else study_index(res)
    if collapse:
        steps, index = _groups(res.k, order, decreasing)
    else:
        seq = _sequence(res.k, order, positions, decreasing)
        steps, index = [seq[:i] for i in range(1, len(seq) + 1)], labels[seq]
    if tables:
        out = refit_table([refit_tables(res, idx) for idx in steps], index)
        columns: tuple[str, ...] = TABLE_COLUMNS
    else:
        rows = []
        for idx in steps:
            keep = np.zeros((1, res.k), dtype=bool)
            keep[0, idx] = True
            # refit_subsets keeps the data order inside a subset; for the pooled numbers of
            # an intercept-only model the order of the studies is immaterial
            rows.append(subset_table(refit_subsets(res, keep), index[len(rows):len(rows) + 1]))
        out = pd.concat(rows) if rows else pd.DataFrame(columns=list(COLUMNS), index=index)
        columns = COLUMNS
    if collapse:
        out.insert(len(columns), "k", [len(idx) for idx in steps])
    return out


def _groups(k: int, order: Any, decreasing: bool) -> tuple[list[np.ndarray], pd.Index]:
    """The studies pooled at each distinct value of ``order`` (all with a key up to it) and
    the index of those values."""
    keys = _keys(k, order)
    values = np.sort(keys.unique())
    if decreasing:
        values = values[::-1]
    steps = [keys.index.to_numpy()[(keys >= u).to_numpy() if decreasing
                                   else (keys <= u).to_numpy()] for u in values]
    return steps, pd.Index(values, name="order")


def _keys(k: int, order: Any) -> pd.Series:
    keys = pd.Series(np.asarray(order))
    if len(keys) != k:
        raise InputError(f"field 'order': expected one sort key per study ({k}), got {len(keys)}")
    return keys.dropna()


def _sequence(k: int, order: Any, positions: Any, decreasing: bool) -> np.ndarray:
    if order is not None and positions is not None:
        raise InputError("give either order= (sort keys) or positions= (study positions), not both")
    if positions is not None:
        pos = np.asarray(positions)
        if pos.ndim != 1 or not np.issubdtype(pos.dtype, np.integer):
            raise InputError("field 'positions': expected a 1-d sequence of integer "
                             "study positions")
        if pos.size and (pos.min() < 0 or pos.max() >= k):
            raise InputError(f"field 'positions': positions must lie in 0..{k - 1}, "
                             f"got {pos.tolist()}")
        if len(np.unique(pos)) != len(pos):
            raise InputError("field 'positions': a study position is listed more than once")
        return pos
    if order is None:
        return np.arange(k)
    keys = _keys(k, order)
    rank = keys.rank(method="dense").to_numpy()       # ties stay in data order either way
    return keys.index.to_numpy()[np.lexsort((np.arange(len(keys)), -rank if decreasing else rank))]
