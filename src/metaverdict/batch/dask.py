"""Dask input: fit the partitions of a Dask DataFrame in parallel (threads, processes or a
``distributed`` cluster).

The rows are shuffled on the analysis key first, so every analysis lives in exactly one
partition; each partition is then fitted by :func:`metaverdict.batch.fitting.fit_groups`
(the same kernels as everywhere else). Output rows follow the partitions, not the input
order: sort on the key column if the order matters. Nothing here imports Dask: the frame
brings its own methods.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from metaverdict._validation import choice
from metaverdict.batch._schema import (
    FIELDS,
    KNHA_FIELDS,
    TESTS,
    check_chunk_size,
    check_level,
    check_threads,
    field_dtype,
    frame_columns,
    label,
    raise_invalid,
    require_columns,
)
from metaverdict.batch.fitting import BATCH_CONTROL, fit_groups
from metaverdict.batch.grouping import group_rows
from metaverdict.models.random_effects import METHODS, SolverControl

__all__ = ["is_dask", "meta_analyses_dask"]


def is_dask(frame: Any) -> bool:
    """Whether ``frame`` is a Dask collection (by its type's module, without importing Dask)."""
    return type(frame).__module__.startswith("dask")


def meta_analyses_dask(frame: Any, by: str = "analysis_id", yi: str = "yi", vi: str = "vi", *,
                       method: str = "REML", test: str = "z", level: float = 0.95,
                       backend: Any = None, device: Any = None, chunk_size: int = 1 << 22,
                       control: SolverControl | None = None, shuffle: bool = True,
                       threads: int | None = None) -> Any:
    """A lazy Dask DataFrame of results, one row per analysis (call ``.compute()``).

    Parameters are those of :func:`metaverdict.batch.meta_analyses`; ``shuffle=False`` skips
    the shuffle when the partitions already hold whole analyses (e.g. a frame indexed by the
    key with known divisions, or files written one analysis group per partition).
    ``threads`` (default 1) are the compiled kernel's threads per partition (Dask already
    runs partitions in parallel).
    """
    method = choice(method, METHODS, "method")
    test = choice(test, TESTS, "test")
    level = check_level(level)
    chunk_size = check_chunk_size(chunk_size)
    n_threads = check_threads(1 if threads is None else threads)
    require_columns(list(frame.columns), (("by", by), ("yi", yi), ("vi", vi)))
    parts = frame.shuffle(on=by) if shuffle and frame.npartitions > 1 else frame
    fields = FIELDS + (KNHA_FIELDS if test == "knha" else ())
    meta = pd.DataFrame({by: pd.Series([], dtype=frame[by].dtype)})
    for name in fields:
        meta[name] = pd.Series([], dtype=field_dtype(name))
    kwargs = dict(by=by, yi=yi, vi=vi, method=method, test=test, level=float(level),
                  backend=backend, device=device, chunk_size=chunk_size,
                  control=control or BATCH_CONTROL, threads=n_threads)
    return parts.map_partitions(_fit_partition, meta=meta, **kwargs)


def _fit_partition(part: pd.DataFrame, *, by: str, yi: str, vi: str, method: str, test: str,
                   level: float, backend: Any, device: Any, chunk_size: int,
                   control: SolverControl, threads: int) -> pd.DataFrame:
    fields = FIELDS + (KNHA_FIELDS if test == "knha" else ())
    if len(part) == 0:
        empty = pd.DataFrame({by: part[by].iloc[:0]})
        for name in fields:
            empty[name] = pd.Series([], dtype=field_dtype(name))
        return empty
    keys, y, v = frame_columns(part, by, yi, vi)

    def invalid() -> None:
        raise_invalid(y, v, lambda i: f"analysis {label(keys.iloc[i])!r}, "
                                      f"row {label(part.index[i])!r}", (yi, vi))

    out = fit_groups(group_rows(keys, threads), y, v, method=method, test=test, level=level,
                     invalid=invalid, backend=backend, device=device, chunk_size=chunk_size,
                     control=control, by=by, threads=threads)
    return out.reset_index(drop=True)
