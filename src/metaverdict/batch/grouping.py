"""Ragged groups of studies -> buckets of analyses with equal k, as dense ``(n, k)`` blocks.

The kernels of :mod:`metaverdict.models` work on rectangular ``(batch, k)`` arrays. A long
table of studies (one row per study, an analysis key per row) holds analyses of different
sizes, so the rows are grouped by key and the analyses sorted into buckets of equal ``k``;
each bucket is one dense block. Every analysis keeps its position in the output (the order
in which its key first appears), so results are written back where they belong.

Two layouts are recognised: rows of each analysis contiguous with keys in increasing order
(the usual sorted file: no sort is needed, and when every analysis has the same ``k`` the
block is a reshape of the columns without a copy), and anything else (one stable sort).
Numeric sorted keys are recognised in one pass (compiled and on several threads with Numba,
else three NumPy passes).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metaverdict.batch import compiled


@dataclass(frozen=True)
class Bucket:
    """Analyses with the same number of studies ``k``.

    ``positions`` (n,): where each analysis goes in the output; ``rows`` (n, k): the row
    numbers of its studies in the input (in input order), or ``None`` when the block is the
    input reshaped (``first_row`` then gives where it starts).
    """

    k: int
    positions: np.ndarray
    rows: np.ndarray | None
    first_row: int = 0

    def take(self, column: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The ``(n, k)`` block of ``column`` for analyses ``start:stop`` of the bucket."""
        stop = len(self.positions) if stop is None else min(stop, len(self.positions))
        if self.rows is None:
            lo = self.first_row + start * self.k
            return column[lo:lo + (stop - start) * self.k].reshape(stop - start, self.k)
        block: np.ndarray = column[self.rows[start:stop]]
        return block


@dataclass(frozen=True)
class Grouping:
    """Analysis keys in output order, their sizes and the buckets of equal ``k``."""

    keys: pd.Index
    sizes: np.ndarray
    buckets: list[Bucket]
    first_rows: np.ndarray     # first input row of each analysis (for error messages)

    def __iter__(self) -> Iterator[Bucket]:
        return iter(self.buckets)

    @property
    def n_analyses(self) -> int:
        return len(self.keys)


def group_rows(keys: pd.Series | np.ndarray, threads: int = 1) -> Grouping:
    """Group rows by analysis key (see the module docstring).

    Parameters
    ----------
    keys : Series or array, shape (rows,)
        The analysis key of every row (any hashable values, no missing ones).
    threads : int
        Threads for finding the runs of sorted numeric keys (with Numba).
    """
    keys = pd.Series(keys) if not isinstance(keys, pd.Series) else keys
    n = len(keys)
    if n == 0:
        return Grouping(pd.Index([]), np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))
    values = keys.to_numpy()
    if values.dtype.kind in "iuf":                 # numeric keys: one pass
        runs = _sorted_runs(values, threads)
    elif keys.is_monotonic_increasing:
        starts = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1])
        runs = starts, values[starts]
    else:
        runs = None
    if runs is not None:
        starts, first = runs
        sizes = np.empty_like(starts)                  # np.diff(starts, append=n), one pass
        np.subtract(starts[1:], starts[:-1], out=sizes[:-1])
        sizes[-1] = n - starts[-1]
        labels = pd.Index(first, name=keys.name, copy=False)
        return Grouping(labels, sizes, _contiguous_buckets(starts, sizes), starts)
    codes, uniques = pd.factorize(keys, sort=False)
    sizes = np.bincount(codes, minlength=len(uniques))
    order = np.argsort(codes, kind="stable")                  # rows grouped, input order kept
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    buckets = []
    for k in np.unique(sizes):
        pos = np.flatnonzero(sizes == k)
        rows = order[starts[pos][:, None] + np.arange(k)]
        buckets.append(Bucket(int(k), pos, rows))
    first = order[starts]
    return Grouping(pd.Index(uniques, name=keys.name), sizes, buckets, first)


def _sorted_runs(values: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each run of equal values starts and its value, for a non-empty numeric array,
    or ``None`` if the values decrease anywhere (then the rows need a sort)."""
    if compiled.available():
        return compiled.sorted_runs(values, threads)
    after, before = values[1:], values[:-1]
    if (after < before).any():
        return None
    starts = np.concatenate([[0], np.flatnonzero(after != before) + 1])
    return starts, values[starts]


def _contiguous_buckets(starts: np.ndarray, sizes: np.ndarray) -> list[Bucket]:
    if sizes.min() == sizes.max():                      # equal k: the columns reshaped
        return [Bucket(int(sizes[0]), np.arange(len(sizes)), None, 0)]
    ks = np.unique(sizes)
    buckets = []
    for k in ks:
        pos = np.flatnonzero(sizes == k)
        buckets.append(Bucket(int(k), pos, starts[pos][:, None] + np.arange(k)))
    return buckets
