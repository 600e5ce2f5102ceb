"""Dask input: fit the partitions of a Dask DataFrame in parallel (threads, processes or a
``distributed`` cluster).

The rows are shuffled on the analysis key first, so every analysis lives in exactly one
partition; each partition is then fitted by :func:`metaverdict.batch.engine.meta_analyses`
(the same kernels as everywhere else). Output rows follow the partitions, not the input
order: sort on the key column if the order matters.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from metaverdict._validation import choice
from metaverdict.batch.engine import (
    FIELDS,
    KNHA_FIELDS,
    REASON_DTYPE,
    TESTS,
    _columns,
    check_chunk_size,
    check_column_names,
    check_level,
    fit_groups,
)
from metaverdict.batch.grouping import group_rows
from metaverdict.models.random_effects import METHODS, SolverControl


def meta_analyses_dask(frame: Any, by: str = "analysis_id", yi: str = "yi", vi: str = "vi", *,
                       method: str = "REML", test: str = "z", level: float = 0.95,
                       backend: Any = None, device: Any = None, chunk_size: int = 1 << 22,
                       control: SolverControl | None = None, shuffle: bool = True) -> Any:
    """A lazy Dask DataFrame of results, one row per analysis (call ``.compute()``).

    Parameters are those of :func:`metaverdict.batch.meta_analyses`; ``shuffle=False`` skips
    the shuffle when the partitions already hold whole analyses (e.g. a frame indexed by the
    key with known divisions, or files written one analysis group per partition).
    """
    from metaverdict.batch.engine import BATCH_CONTROL
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    check_column_names(by, yi, vi, list(frame.columns))
    parts = frame.shuffle(on=by) if shuffle and frame.npartitions > 1 else frame
    fields = FIELDS + (KNHA_FIELDS if test == "knha" else ())
    key_dtype = frame[by].dtype
    meta = pd.DataFrame({by: pd.Series([], dtype=key_dtype)})
    for name in fields:
        meta[name] = pd.Series([], dtype=_dtype(name))
    kwargs = dict(by=by, yi=yi, vi=vi, method=method, test=test, level=float(level),
                  backend=backend, device=device, chunk_size=chunk_size,
                  control=control or BATCH_CONTROL)
    return parts.map_partitions(_fit_partition, meta=meta, **kwargs)


def _fit_partition(part: pd.DataFrame, *, by: str, yi: str, vi: str, method: str, test: str,
                   level: float, backend: Any, device: Any, chunk_size: int,
                   control: SolverControl) -> pd.DataFrame:
    fields = FIELDS + (KNHA_FIELDS if test == "knha" else ())
    if len(part) == 0:
        empty = pd.DataFrame({by: part[by].iloc[:0]})
        for name in fields:
            empty[name] = pd.Series([], dtype=_dtype(name))
        return empty
    keys, y, v = _columns(part, by, yi, vi)
    out = fit_groups(group_rows(keys), y, v, method=method, test=test, level=level,
                     backend=backend, device=device, chunk_size=chunk_size, control=control,
                     by=by)
    return out.reset_index(drop=True)


def _dtype(name: str) -> Any:
    if name in ("k", "q_df", "iterations"):
        return np.int64
    if name == "converged":
        return bool
    if name == "reason":
        return REASON_DTYPE
    return np.float64
