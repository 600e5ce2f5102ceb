"""The compiled CPU kernel for intercept-only fits (optional: ``pip install metaverdict[fast]``).

With Numba installed, :func:`metaverdict.batch.meta_analyses` fits ``EE``/``FE``, ``DL``,
``HE``, ``ML``, ``REML`` and ``PM`` with the kernel of :mod:`metaverdict.batch._kernels`:
every output field of an analysis from sums kept in SIMD lanes, the formulas of
:mod:`metaverdict.models.formulas` (the same functions the single fits use), the reference
engine's starting values, safeguards and likelihood checks, so results equal single fits to
rounding (the tests check 1e-10 on every fixture). Without Numba the NumPy array kernels
serve every call, with the same results; nothing here imports Numba until a compiled fit is
asked for (``import metaverdict`` and single fits never do).

Threads. A call is split into chunks of a few thousand analyses that ``threads`` threads
(default: the CPUs this process may use) take one at a time from a shared counter until
none is left; the kernel releases the GIL. A thread that gets less CPU (a core shared with
another process) simply takes fewer chunks, whatever the scheduler does, and the kernel needs
no threading layer of Numba's (so it runs in Dask's or any other threads, and under
``NUMBA_NUM_THREADS=1`` as well).

Caching. The kernel is compiled on first use (about 25 s on a 2-core machine, once) and
cached on disk by Numba (a second process loads it in a fraction of a second): next to this
file when its ``__pycache__`` is writable, else in the user's cache folder
(``~/.cache/numba``), or in ``NUMBA_CACHE_DIR`` when that is set, so a read-only install keeps
a cache too. Numba's cache checks only the source file of the cached function, so the key
also holds a hash of the kernel module, the formulas and the schema: a cache compiled from
other sources is never used.
"""
from __future__ import annotations

import importlib.util
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np

from metaverdict.batch._schema import LANES, GlobalSearch, KernelMethod

#: Methods with a compiled kernel (canonical codes of
#: :data:`metaverdict.models.random_effects.METHODS`) and their kernel codes.
COMPILED_METHODS = {"EE": KernelMethod.EE, "FE": KernelMethod.EE, "DL": KernelMethod.DL,
                    "HE": KernelMethod.HE, "ML": KernelMethod.ML, "REML": KernelMethod.REML,
                    "PM": KernelMethod.PM}
_GLOBAL = {False: GlobalSearch.OFF, True: GlobalSearch.ON, "screened": GlobalSearch.SCREENED}
#: Studies (values) per chunk handed to a thread: about a millisecond of work.
CHUNK_VALUES = 1 << 16

_KERNELS: ModuleType | None = None
_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None


def available() -> bool:
    """Whether Numba is installed (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def _kernels() -> ModuleType:
    """:mod:`metaverdict.batch._kernels`, imported (and its kernel compiled or loaded from the
    cache) on first use."""
    global _KERNELS
    if _KERNELS is None:
        with _LOCK:
            if _KERNELS is None:
                import metaverdict.batch._kernels as kernels
                _KERNELS = kernels
    return _KERNELS


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        with _LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="metaverdict")
    return _POOL


def run_chunks(fn: Callable[[int, int], int], n: int, chunk: int, threads: int) -> int:
    """``sum(fn(a0, a1))`` over the chunks ``[a0, a1)`` of ``range(n)``, run on ``threads``
    threads (the caller's among them) that each take the next chunk until none is left."""
    n_chunks = -(-n // chunk)
    if threads <= 1 or n_chunks <= 1:
        return fn(0, n)
    counter = itertools.count()            # next() is atomic under the GIL

    def work() -> int:
        total = 0
        while (c := next(counter)) < n_chunks:
            total += fn(c * chunk, min(n, (c + 1) * chunk))
        return total

    helpers = [_pool().submit(work) for _ in range(min(threads, n_chunks) - 1)]
    total = work()
    return total + sum(f.result() for f in helpers)


def sorted_runs(values: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each run of equal values of the numeric array ``values`` starts (0 first) and
    the value of each run, or ``None`` if the values decrease anywhere; compiled passes on
    ``threads`` threads (a single checking pass when every run has the length of the first,
    as for analyses of equal k)."""
    kernels = _kernels()
    n = len(values)
    head = np.flatnonzero(values[:1 << 16] != values[0])
    k = int(head[0]) if head.size else 0
    if k and n % k == 0:
        first = np.empty(n // k, dtype=values.dtype)
        if run_chunks(lambda a0, a1: kernels.equal_runs(values, k, a0, a1, first) - 1,
                      n // k, max(1, (1 << 18) // k), threads) == 0:
            return np.arange(0, n, k, dtype=np.int64), first
    out = np.empty(n, dtype=np.int64)
    counts: dict[int, int] = {}

    def scan(a0: int, a1: int) -> int:
        counts[a0] = kernels.run_starts_range(values, a0, a1, out)
        return 0

    run_chunks(scan, n, max(1 << 18, -(-n // (4 * threads))), threads)
    if min(counts.values()) < 0:
        return None
    starts = np.concatenate([np.zeros(1, dtype=np.int64)]
                            + [out[a0:a0 + counts[a0]] for a0 in sorted(counts)])
    return starts, values[starts]


def fit_block(method: str, y: np.ndarray, v: np.ndarray, out: np.ndarray, finite: np.ndarray,
              *, knha: bool, crit: float, tol: float, max_iter: int,
              global_search: bool | str, grid: np.ndarray, finite_rows: np.ndarray,
              threads: int) -> int:
    """Fit the ``(n, k)`` block ``y``, ``v`` of one method into ``out`` (``(len(Row), n)``,
    float64, may be a strided view; see :class:`~metaverdict.batch._schema.Row`) and
    ``finite`` (``(n,)`` bool: the statistic is a number and the rows ``finite_rows`` of
    the analysis are finite).

    ``crit``: the critical value of the CI (normal, or t on k - 1 df for ``knha``); ``grid``:
    the fractions of the likelihood grid. The p-values of Hartung-Knapp tests and the Q
    p-values for k - 1 > 60 are left NaN (the caller adds them with SciPy); the row ``s2w``
    is written only with ``knha`` (z tests have no such column). Returns the number
    of analyses with a non-finite effect or a variance that is not a finite number > 0 (not
    fitted: the caller reports the first)."""
    kernel = _kernels().fit_range
    n, k = y.shape
    yf = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    vf = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
    code, gm = int(COMPILED_METHODS[method]), int(_GLOBAL[global_search])
    chunk = max(LANES, CHUNK_VALUES // k // LANES * LANES)

    def fit(a0: int, a1: int) -> int:
        bad: int = kernel(yf, vf, k, a0, a1, code, knha, crit, tol, max_iter, gm, grid, out,
                          finite_rows, finite)
        return bad

    return run_chunks(fit, n, chunk, threads)

