"""Randomization lists: seeded, stratified, permuted blocks of varying size.

Each stratum (one combination of the stratum factors' levels, e.g. race distance x sex) gets
its own independent sequence of ``n`` allocations. A sequence is a run of permuted blocks: a
block of size ``b`` holds every arm ``b / sum(ratio)`` times its ratio part (1:1 and b = 4: two
of each arm; 2:1 and b = 6: four and two), in random order; each block's size is drawn with
equal probability from ``block_sizes`` (varying sizes keep the next allocation unpredictable
at the end of a block). The last block of a stratum is cut off at ``n``; every completed block
is exactly balanced, so within a stratum an arm's count differs from ``n`` times its share by
at most ``b p (1 - p)`` (p its share, b the cut block's size): under half the largest block.

Reproducible from the seed: ``numpy.random.SeedSequence(seed).spawn(k)`` gives the k strata
independent PCG64 streams (:func:`numpy.random.default_rng`), in the order of
:func:`itertools.product` over the factors as given. The same seed, arguments and NumPy version
give the same list (NumPy does not promise identical streams across versions of
``Generator`` methods, so the list records ``numpy_version``).

References
----------
Schulz KF, Grimes DA (2002). Generation of allocation sequences in randomised trials: chance,
not choice. Lancet 359:515-519 (permuted blocks of random size).
Kernan WN, Viscoli CM, Makuch RW, Brass LM, Horwitz RI (1999). Stratified randomization for
clinical trials. J Clin Epidemiol 52:19-26.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaverdict._results import ResultMixin, format_table
from metaverdict.errors import InputError

__all__ = ["RandomizationList", "parse_strata", "randomization_list"]

#: Columns of the allocation list besides the stratum factors.
RESERVED = ("sequence", "block", "block_size", "arm")


def _whole(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and float(
        value).is_integer()


def _arms(arms: Any) -> tuple[str, ...]:
    if isinstance(arms, str) or not isinstance(arms, Sequence | np.ndarray | pd.Index):
        raise InputError(f"arms: expected a list of arm names, got {arms!r}")
    names = tuple(str(a).strip() for a in arms)
    if len(names) < 2:
        raise InputError(f"arms: at least two arms are needed, got {len(names)}"
                         + (f" ({names[0]!r})" if names else ""))
    if any(not a for a in names):
        raise InputError("arms: an arm name is empty")
    dup = [a for a in dict.fromkeys(names) if names.count(a) > 1]
    if dup:
        raise InputError(f"arms: {dup[0]!r} is given more than once")
    return names


def _ratio(ratio: Any, k: int) -> tuple[int, ...]:
    if ratio is None:
        return (1,) * k
    if isinstance(ratio, str):
        text = ratio.strip()
        parts: list[Any] = [p.strip() for p in text.split(":")]
        try:
            parts = [int(p) for p in parts]
        except ValueError:
            raise InputError(f"ratio: expected whole numbers such as '2:1', got {ratio!r}"
                             ) from None
    elif isinstance(ratio, Sequence | np.ndarray):
        parts = list(ratio)
    else:
        raise InputError(f"ratio: expected whole numbers such as '2:1' or (2, 1), got {ratio!r}")
    if len(parts) != k:
        raise InputError(f"ratio: {len(parts)} part(s) for {k} arms; give one part per arm, "
                         f"e.g. {':'.join(['1'] * k)}")
    if not all(_whole(p) and int(p) >= 1 for p in parts):
        raise InputError(f"ratio: every part must be a whole number >= 1, got {ratio!r}")
    return tuple(int(p) for p in parts)


def _block_sizes(block_sizes: Any, ratio: tuple[int, ...]) -> tuple[int, ...]:
    unit = sum(ratio)
    if block_sizes is None:
        return (2 * unit, 3 * unit)
    if isinstance(block_sizes, str):
        try:
            raw: list[Any] = [int(p) for p in block_sizes.replace(";", ",").split(",")
                              if p.strip()]
        except ValueError:
            raise InputError(f"block_sizes: expected whole numbers such as '4,6', got "
                             f"{block_sizes!r}") from None
    elif _whole(block_sizes):
        raw = [block_sizes]
    elif isinstance(block_sizes, Sequence | np.ndarray):
        raw = list(block_sizes)
    else:
        raise InputError(f"block_sizes: expected whole numbers such as (4, 6), got "
                         f"{block_sizes!r}")
    if not raw:
        raise InputError("block_sizes: at least one block size is needed")
    if not all(_whole(b) and int(b) >= 1 for b in raw):
        raise InputError(f"block_sizes: every size must be a whole number >= 1, got "
                         f"{block_sizes!r}")
    sizes = tuple(dict.fromkeys(int(b) for b in raw))
    bad = [b for b in sizes if b % unit]
    if bad:
        shown = ":".join(map(str, ratio))
        raise InputError(f"block_sizes: {bad[0]} is not a multiple of {unit} (the parts of "
                         f"ratio {shown} summed), so a block cannot hold the arms in that "
                         f"ratio; e.g. {2 * unit},{3 * unit}")
    return sizes


def parse_strata(text: str) -> dict[str, tuple[str, ...]]:
    """Read stratum factors written as ``"factor=level,level;factor=level,level"``.

    Parameters
    ----------
    text : str
        Factors separated by ``;``, each ``name=levels`` with levels separated by ``,``.

    Returns
    -------
    dict
        Factor name -> levels, in the order written.

    Raises
    ------
    InputError
        A factor without ``=``, a name or level that is empty or given twice (field
        ``strata``).

    Examples
    --------
    >>> from metaverdict.trials.randomization import parse_strata
    >>> parse_strata("distance=half,full; sex=F,M")
    {'distance': ('half', 'full'), 'sex': ('F', 'M')}
    """
    out: dict[str, tuple[str, ...]] = {}
    for chunk in str(text).split(";"):
        if not chunk.strip():
            continue
        name, eq, levels = chunk.partition("=")
        name = name.strip()
        if not eq or not name:
            raise InputError(f"strata: expected 'factor=level,level', got {chunk.strip()!r}")
        if name in out:
            raise InputError(f"strata: factor {name!r} is given more than once")
        out[name] = tuple(lv.strip() for lv in levels.split(","))
    if not out:
        raise InputError(f"strata: no factor found in {text!r}; write e.g. "
                         "'distance=half,full;sex=F,M'")
    return _strata(out)


def _strata(strata: Any) -> dict[str, tuple[Any, ...]]:
    if strata is None:
        return {}
    if isinstance(strata, str):
        return parse_strata(strata)
    if isinstance(strata, Mapping):
        items = list(strata.items())
    elif isinstance(strata, Sequence) and all(
            isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in strata):
        items = [tuple(p) for p in strata]
    else:
        raise InputError("strata: expected a mapping factor -> levels, e.g. "
                         f"{{'sex': ['F', 'M']}}, got {strata!r}")
    out: dict[str, tuple[Any, ...]] = {}
    for name, levels in items:
        name = str(name).strip()
        if not name:
            raise InputError("strata: a factor name is empty")
        if name in RESERVED:
            raise InputError(f"strata: factor name {name!r} is a column of the list "
                             f"({', '.join(RESERVED)}); rename it")
        if name in out:
            raise InputError(f"strata: factor {name!r} is given more than once")
        if isinstance(levels, str) or not isinstance(levels, Sequence | np.ndarray):
            raise InputError(f"strata: factor {name!r}: expected a list of levels, got "
                             f"{levels!r}")
        lv = tuple(levels)
        if not lv:
            raise InputError(f"strata: factor {name!r} has no levels")
        if any(isinstance(v, str) and not v.strip() for v in lv):
            raise InputError(f"strata: factor {name!r} has an empty level")
        dup = [v for v in dict.fromkeys(lv) if lv.count(v) > 1]
        if dup:
            raise InputError(f"strata: factor {name!r}: level {dup[0]!r} is given more than "
                             "once")
        out[name] = lv
    return out


def _sequence(rng: np.random.Generator, n: int, arms: tuple[str, ...], ratio: tuple[int, ...],
              block_sizes: tuple[int, ...]) -> tuple[list[str], list[int], list[int]]:
    """One stratum: arms, block index (0-based, within the stratum) and block size per
    allocation."""
    unit = sum(ratio)
    n_blocks = -(-n // min(block_sizes))                   # enough blocks in any draw
    sizes = rng.choice(np.asarray(block_sizes), size=n_blocks)
    used = int(np.searchsorted(np.cumsum(sizes), n)) + 1   # blocks covering n allocations
    arm_out: list[str] = []
    block_out: list[int] = []
    size_out: list[int] = []
    for b, size in enumerate(sizes[:used].tolist()):
        base = np.repeat(np.arange(len(arms)), np.asarray(ratio) * (size // unit))
        order = rng.permutation(base)
        arm_out.extend(arms[i] for i in order)
        block_out.extend([b] * size)
        size_out.extend([size] * size)
    return arm_out[:n], block_out[:n], size_out[:n]


@dataclass(frozen=True, eq=False, repr=False)
class RandomizationList(ResultMixin):
    """A sequentially numbered allocation list (see :func:`randomization_list`).

    Attributes
    ----------
    allocations : DataFrame
        One row per allocation: ``sequence`` (1, 2, ... over the whole list), one column per
        stratum factor, ``block`` (numbered 1, 2, ... over the whole list), ``block_size`` (the
        block's planned size; the last block of a stratum may be cut short) and ``arm``.
        Rows run stratum by stratum, each stratum in allocation order.
    n : int
        Allocations per stratum.
    arms : tuple of str
    ratio : tuple of int
        Allocation ratio parts, one per arm.
    block_sizes : tuple of int
    strata : dict
        Factor -> levels (empty: not stratified).
    seed : int
    numpy_version : str
        The NumPy that drew the list (needed to reproduce it exactly).
    """

    allocations: pd.DataFrame = field(repr=False)
    n: int
    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    block_sizes: tuple[int, ...]
    strata: dict[str, tuple[Any, ...]]
    seed: int
    numpy_version: str

    _repr_fields = ("n", "arms", "ratio", "block_sizes", "seed")

    @property
    def factors(self) -> list[str]:
        """The stratum factor columns."""
        return list(self.strata)

    def counts(self) -> pd.DataFrame:
        """Allocations per stratum (rows) and arm (columns), with a ``total`` column.

        Examples
        --------
        >>> from metaverdict.trials.randomization import randomization_list
        >>> lst = randomization_list(10, ["dn", "sham"], seed=1, strata={"sex": ["F", "M"]})
        >>> int(lst.counts().loc["F", "total"])
        10
        """
        tab = self.allocations
        arms = list(self.arms)
        if not self.factors:
            index = pd.Index(["all"], name="stratum")
            rows = [tab["arm"].value_counts().reindex(arms, fill_value=0).to_list()]
        else:
            cells = list(itertools.product(*self.strata.values()))
            index = pd.MultiIndex.from_tuples(cells, names=self.factors)
            if len(self.factors) == 1:
                index = index.get_level_values(0)
            grouped = tab.groupby(self.factors, sort=False)["arm"].value_counts()
            rows = [[int(grouped.get((*cell, a), 0)) for a in arms] for cell in cells]
        out = pd.DataFrame(rows, index=index, columns=pd.Index(arms, name="arm"), dtype=np.int64)
        out["total"] = out.sum(axis=1)
        return out

    def stratum(self, levels: Mapping[str, Any] | None = None, **by_name: Any) -> pd.DataFrame:
        """The allocations of one stratum, in order.

        Parameters
        ----------
        levels : mapping, optional
            Factor -> level; or give them as keywords (``sex="F"``).

        Raises
        ------
        InputError
            A factor that is unknown or missing, or a level that is not among the factor's
            levels (field ``stratum``).

        Examples
        --------
        >>> from metaverdict.trials.randomization import randomization_list
        >>> lst = randomization_list(8, ["dn", "sham"], seed=3, strata={"sex": ["F", "M"]})
        >>> len(lst.stratum(sex="M"))
        8
        """
        want = {**dict(levels or {}), **by_name}
        unknown = [f for f in want if f not in self.strata]
        if unknown:
            known = ", ".join(self.strata) or "none (the list is not stratified)"
            raise InputError(f"stratum: unknown factor {unknown[0]!r}; factors are {known}")
        missing = [f for f in self.strata if f not in want]
        if missing:
            raise InputError(f"stratum: no level given for factor {missing[0]!r}")
        mask = np.ones(len(self.allocations), dtype=bool)
        for f, v in want.items():
            if v not in self.strata[f]:
                raise InputError(f"stratum: {v!r} is not a level of {f!r}; levels are "
                                 f"{', '.join(map(str, self.strata[f]))}")
            mask &= (self.allocations[f] == v).to_numpy()
        return self.allocations[mask]

    def to_csv(self, path: str | Path) -> Path:
        """Write the allocation list as CSV (UTF-8, no index column); returns the path.

        Examples
        --------
        >>> from metaverdict.trials.randomization import randomization_list
        >>> out = randomization_list(6, ["dn", "sham"], seed=1).to_csv("list.csv")
        >>> out.read_text().splitlines()[0]
        'sequence,block,block_size,arm'
        """
        out = Path(path)
        self.allocations.to_csv(out, index=False)
        return out

    def summary(self, rows: int = 10) -> str:
        """The set-up, the first ``rows`` allocations and the counts per stratum and arm."""
        ratio = ":".join(map(str, self.ratio))
        strata = ("; strata " + " x ".join(f"{f} ({', '.join(map(str, lv))})"
                                            for f, lv in self.strata.items())
                  if self.strata else "")
        lines = [f"Randomization list: {len(self.allocations)} allocations, {self.n} per "
                 f"stratum, arms {', '.join(self.arms)} ({ratio}), permuted blocks of "
                 f"{' or '.join(map(str, self.block_sizes))}{strata}; seed {self.seed} "
                 f"(NumPy {self.numpy_version})", ""]
        head = self.allocations.head(rows)
        lines.append(format_table([str(c) for c in head.columns],
                                  [[str(v) for v in r] for r in head.itertuples(index=False)]))
        if len(self.allocations) > rows:
            lines.append(f"... {len(self.allocations) - rows} more")
        lines.append("")
        counts = self.counts().reset_index()
        lines.append(format_table([str(c) for c in counts.columns],
                                  [[str(v) for v in r] for r in counts.itertuples(index=False)]))
        return "\n".join(lines)


def randomization_list(n: int, arms: Sequence[str], *, seed: int,
                       ratio: str | Sequence[int] | None = None,
                       block_sizes: str | int | Sequence[int] | None = None,
                       strata: str | Mapping[str, Sequence[Any]] | None = None
                       ) -> RandomizationList:
    """A seeded, optionally stratified, permuted-block randomization list.

    Parameters
    ----------
    n : int
        Allocations in each stratum's sequence (the whole list when not stratified). Each
        stratum's list must cover every participant who might fall in it: with the trial's
        size as ``n``, no stratum runs out.
    arms : sequence of str
        Arm names (at least two, distinct).
    seed : int
        Non-negative whole number; the same seed gives the same list.
    ratio : str or sequence of int, optional
        Allocation ratio parts, one per arm: ``"2:1"`` or ``(2, 1)``; default all 1.
    block_sizes : str, int or sequence of int, optional
        Block sizes drawn with equal probability for each block, each a multiple of
        ``sum(ratio)``: ``"4,6"`` or ``(4, 6)``; default ``(2 * sum(ratio), 3 * sum(ratio))``.
    strata : mapping or str, optional
        Stratum factor -> levels, e.g. ``{"distance": ["half", "full"], "sex": ["F", "M"]}``
        or ``"distance=half,full;sex=F,M"``; one independent sequence per combination.

    Returns
    -------
    RandomizationList
        ``allocations`` (DataFrame: sequence, stratum columns, block, block_size, arm),
        ``counts()``, ``stratum(...)``, ``to_csv(path)``, ``summary()``.

    Raises
    ------
    InputError
        No (or one) arm, ``n`` not a whole number >= 1, a ratio not one whole part per arm,
        block sizes that are not multiples of ``sum(ratio)``, a bad stratum specification or
        seed; the message names the field.

    Examples
    --------
    >>> from metaverdict.trials.randomization import randomization_list
    >>> lst = randomization_list(12, ["dry needling", "sham"], seed=2018, block_sizes=(4, 6))
    >>> list(lst.allocations.columns)
    ['sequence', 'block', 'block_size', 'arm']
    >>> lst.counts().loc["all"].to_dict()
    {'dry needling': 6, 'sham': 6, 'total': 12}
    >>> strat = randomization_list(20, ["dn", "sham"], ratio="2:1", seed=7,
    ...                            strata={"distance": ["half", "full"], "sex": ["F", "M"]})
    >>> len(strat.allocations), strat.block_sizes
    (80, (6, 9))
    >>> strat.allocations.equals(randomization_list(
    ...     20, ["dn", "sham"], ratio="2:1", seed=7,
    ...     strata={"distance": ["half", "full"], "sex": ["F", "M"]}).allocations)
    True
    """
    if not _whole(n) or int(n) < 1:
        raise InputError(f"n: allocations per stratum must be a whole number >= 1, got {n!r}")
    n = int(n)
    names = _arms(arms)
    parts = _ratio(ratio, len(names))
    sizes = _block_sizes(block_sizes, parts)
    factors = _strata(strata)
    if not _whole(seed) or int(seed) < 0:
        raise InputError(f"seed: must be a whole number >= 0, got {seed!r}")
    seed = int(seed)
    cells = list(itertools.product(*factors.values())) if factors else [()]
    streams = np.random.SeedSequence(seed).spawn(len(cells))
    frames = []
    block_offset = 0
    for cell, stream in zip(cells, streams):
        arm, block, size = _sequence(np.random.default_rng(stream), n, names, parts, sizes)
        part = pd.DataFrame({f: [v] * n for f, v in zip(factors, cell)})
        part["block"] = np.asarray(block, dtype=np.int64) + 1 + block_offset
        part["block_size"] = np.asarray(size, dtype=np.int64)
        part["arm"] = arm
        block_offset = int(part["block"].iloc[-1])
        frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "sequence", np.arange(1, len(table) + 1, dtype=np.int64))
    return RandomizationList(allocations=table, n=n, arms=names, ratio=parts, block_sizes=sizes,
                             strata=factors, seed=seed, numpy_version=np.__version__)
