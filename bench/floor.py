"""How close the batch kernel is to this machine's memory floor (issue 13, item 3).

    python bench/floor.py [--n 1000000] [--k 10] [--threads 2] [--repeats 7]

The floor is a compiled loop that does no statistics: per analysis it reads the k effects
and k variances (the inputs of a fit, 16 k bytes) and writes 16 numbers (the float64 output
rows of a z-test fit, 128 bytes) — the least any kernel that returns every field must move.
It is timed three ways, on the same threads and chunks as the kernel
(:func:`metaverdict.batch.compiled.run_chunks`):

- ``read``: the inputs only;
- ``read + write, buffer reused``: into an output buffer that is already mapped;
- ``read + write, fresh buffer``: into a new buffer per call, as every API call must (the
  result table owns its memory; the kernel zero-fills the new pages first).

Then the kernel itself (``fit_range`` into a reused buffer, and ``fit_arrays``, the
public API with a fresh buffer and the result table), for DL and REML. Data: the simulated
analyses of ``bench/run.py`` (labelled SIMULATED in the output). Minimum over the repeats;
prints one line per row.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import generate  # noqa: E402  (bench/run.py: the same simulated data)

from metaverdict.batch import _kernels, compiled, fit_arrays  # noqa: E402
from metaverdict.batch._schema import LANES, Row  # noqa: E402
from metaverdict.batch.fitting import (  # noqa: E402
    _GRID,
    BATCH_CONTROL,
    critical_value,
    finite_rows,
)

OUT_ROWS = len(Row) - 1          # a z-test fit writes every row but s2w


@numba.njit(nogil=True, cache=True)
def _read(y: np.ndarray, v: np.ndarray, k: int, a0: int, a1: int) -> float:
    s = 0.0
    for j in range(a0 * k, a1 * k):
        s += y[j] * v[j]
    return s


@numba.njit(nogil=True, cache=True)
def _read_write(y: np.ndarray, v: np.ndarray, k: int, a0: int, a1: int,
                out: np.ndarray) -> float:
    s = 0.0
    for a in range(a0, a1):
        sy = 0.0
        sv = 0.0
        for i in range(k):
            sy += y[a * k + i]
            sv += v[a * k + i]
        for r in range(out.shape[0]):
            out[r, a] = sy + r * sv
        s += sy
    return s


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10**6)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    n, k, threads, reps = args.n, args.k, args.threads, args.repeats
    y, v = generate(n, k)
    yf, vf = y.reshape(-1), v.reshape(-1)
    chunk = max(LANES, compiled.CHUNK_VALUES // k // LANES * LANES)

    def chunks(fn: Callable[[int, int], object]) -> None:
        compiled.run_chunks(lambda a0, a1: (fn(a0, a1), 0)[1], n, chunk, threads)

    reused = np.empty((OUT_ROWS, n))
    _read(yf, vf, k, 0, 8)
    _read_write(yf, vf, k, 0, 8, reused)
    rows = [
        ("floor: read inputs", best_of(lambda: chunks(lambda a0, a1: _read(yf, vf, k, a0, a1)),
                                       reps)),
        ("floor: read + write 16 fields, buffer reused",
         best_of(lambda: chunks(lambda a0, a1: _read_write(yf, vf, k, a0, a1, reused)), reps)),
        ("floor: read + write 16 fields, fresh buffer",
         best_of(lambda: (out := np.empty((OUT_ROWS, n)),
                          chunks(lambda a0, a1: _read_write(yf, vf, k, a0, a1, out))), reps)),
    ]
    fr = np.asarray(finite_rows("z"), dtype=np.int64)
    out, fin = np.empty((len(Row), n)), np.empty(n, dtype=bool)
    crit = critical_value(0.95, float("nan"))
    # the solver settings of fit_arrays (BATCH_CONTROL), so that the kernel rows and the API
    # rows do the same iterations
    tol, max_iter = BATCH_CONTROL.tol, BATCH_CONTROL.max_iter
    global_mode = int(compiled._GLOBAL[BATCH_CONTROL.global_search])
    same: dict[str, bool] = {}
    for method in ("DL", "REML"):
        code = int(compiled.COMPILED_METHODS[method])

        def kernel(a0: int, a1: int, code: int = code) -> None:
            _kernels.fit_range(yf, vf, k, a0, a1, code, False, crit, tol, max_iter,
                               global_mode, _GRID, out, fr, fin)

        kernel(0, 64)
        fit_arrays(y[:64], v[:64], method=method)
        rows.append((f"kernel {method} (fit_range, buffer reused)",
                     best_of(lambda: chunks(kernel), reps)))
        rows.append((f"API {method} (fit_arrays: fresh buffer, result table)",
                     best_of(lambda m=method: fit_arrays(y, v, method=m, threads=threads),
                             reps)))
        frame = fit_arrays(y, v, method=method, threads=threads)
        same[method] = all(np.array_equal(out[Row[name]], frame[name].to_numpy(float),
                                          equal_nan=True)
                           for name in ("estimate", "tau2", "tau2_se", "iterations"))
    print(f"SIMULATED data (bench/run.py generate), N = {n:,}, k = {k}, {threads} threads, "
          f"minimum of {reps}")
    for label, seconds in rows:
        print(f"{label:58s} {seconds / n * 1e9:7.1f} ns per analysis")
    print("kernel rows equal to fit_arrays (estimate, tau2, tau2_se, iterations): "
          + ", ".join(f"{m} {'yes' if ok else 'NO'}" for m, ok in same.items()))
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
