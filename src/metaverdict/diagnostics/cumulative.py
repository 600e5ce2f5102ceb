"""Cumulative meta-analysis: the model refitted as studies are added one at a time
(metafor ``cumul``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict.diagnostics._refit import refit_subsets, require_intercept_only, study_index
from metaverdict.diagnostics.leave_one_out import COLUMNS, subset_table
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult


def cumulative(res: MetaAnalysisResult, order: Any = None, *, positions: Any = None,
               decreasing: bool = False) -> pd.DataFrame:
    """Refit ``res`` on the first 1, 2, ..., k studies.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only model.
    order : array-like, optional
        Sort keys, one per study (e.g. publication year): studies are added in increasing
        order of the key (ties keep the data order; studies with a missing key are left out),
        as metafor >= 4 reads ``cumul(res, order=year)``.
    positions : array-like of int, optional
        Instead of ``order``: 0-based study positions in the order they are to be added (what
        metafor 3.8 expects, e.g. ``np.argsort(year)``); may list a subset of the studies.
    decreasing : bool
        Sort ``order`` in decreasing order.

    Returns
    -------
    DataFrame
        Row *i* pools the first *i* studies (in the chosen order) with the estimator, test and
        level of ``res``; columns as :func:`~metaverdict.diagnostics.leave_one_out`, indexed by
        the label of the study added in that row. The first row (one study) has q = 0,
        q_pvalue = 1, tau2 = 0, i2 = 0 and h2 = 1, as in metafor.
    """
    require_intercept_only(res, "cumulative meta-analysis")
    seq = _sequence(res.k, order, positions, decreasing)
    labels = study_index(res)
    rows = []
    for i in range(1, len(seq) + 1):
        keep = np.zeros((1, res.k), dtype=bool)
        keep[0, seq[:i]] = True
        # refit_subsets keeps the data order inside a subset; for the pooled numbers of an
        # intercept-only model the order of the studies is immaterial
        rows.append(subset_table(refit_subsets(res, keep), labels[[seq[i - 1]]]))
    if not rows:
        return pd.DataFrame(columns=list(COLUMNS), index=labels[:0])
    return pd.concat(rows)


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
    keys = pd.Series(np.asarray(order))
    if len(keys) != k:
        raise InputError(f"field 'order': expected one sort key per study ({k}), got {len(keys)}")
    keys = keys.dropna()
    rank = keys.rank(method="dense").to_numpy()       # ties stay in data order either way
    return keys.index.to_numpy()[np.lexsort((np.arange(len(keys)), -rank if decreasing else rank))]
