"""Ragged groups of studies -> buckets of analyses with equal k, as dense ``(n, k)`` blocks.

The kernels of :mod:`metaverdict.models` work on rectangular ``(batch, k)`` arrays. A long
table of studies (one row per study, an analysis key per row) holds analyses of different
sizes, so the rows are grouped by key and the analyses sorted into buckets of equal ``k``;
each bucket is one dense block. Every analysis keeps its position in the output (the order
in which its key first appears), so results are written back where they belong.

Two layouts are recognised: rows of each analysis contiguous with keys in increasing order
(the usual sorted file: no sort is needed, and when every analysis has the same ``k`` the
block is a reshape of the columns without a copy), and anything else (one stable sort).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd


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


def group_rows(keys: pd.Series | np.ndarray) -> Grouping:
    """Group rows by analysis key (see the module docstring).

    Parameters
    ----------
    keys : Series or array, shape (rows,)
        The analysis key of every row (any hashable values, no missing ones).
    """
    keys = pd.Series(keys) if not isinstance(keys, pd.Series) else keys
    n = len(keys)
    if n == 0:
        return Grouping(pd.Index([]), np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))
    values = keys.to_numpy()
    if values.dtype.kind in "iuf":                 # numeric keys: one compiled pass
        starts = _sorted_run_starts(values)
    elif keys.is_monotonic_increasing:
        starts = np.concatenate([[0], np.flatnonzero(values[1:] != values[:-1]) + 1])
    else:
        starts = None
    if starts is not None:
        sizes = np.diff(np.concatenate([starts, [n]]))
        labels = pd.Index(values[starts], name=keys.name)
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


@numba.njit(cache=True)
def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts, or an empty array if ``values`` decrease
    anywhere (then the rows need a sort)."""
    n = values.shape[0]
    count = 1
    for i in range(1, n):
        if values[i] < values[i - 1]:
            return np.empty(0, dtype=np.int64)
        if values[i] != values[i - 1]:
            count += 1
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    j = 1
    for i in range(1, n):
        if values[i] != values[i - 1]:
            starts[j] = i
            j += 1
    return starts


def _sorted_run_starts(values: np.ndarray) -> np.ndarray | None:
    """:func:`_run_starts` for a non-empty numeric array, ``None`` if it is not sorted."""
    starts = _run_starts(values)
    return starts if len(starts) else None


def _contiguous_buckets(starts: np.ndarray, sizes: np.ndarray) -> list[Bucket]:
    if sizes.min() == sizes.max():                      # equal k: the columns reshaped
        return [Bucket(int(sizes[0]), np.arange(len(sizes)), None, 0)]
    ks = np.unique(sizes)
    buckets = []
    for k in ks:
        pos = np.flatnonzero(sizes == k)
        buckets.append(Bucket(int(k), pos, starts[pos][:, None] + np.arange(k)))
    return buckets
