"""Where the compiled batch kernel spends its time, stage by stage (issue 13, item 3).

    python bench/stages.py [--k 10] [--reps 20000] [--rounds 15]
    python bench/stages.py --quick          # a few short rounds (tests/test_bench_stages.py)

Each stage is one of the kernel's own functions (:mod:`metaverdict.batch._kernels`), called
in a compiled loop on blocks of 32 analyses that stay in the CPU caches, on one thread, so
the times are its arithmetic alone (no memory traffic, no threads): loading a block, the
sums at tau² = 0 and at an estimate, the output stage (pooling, the two tails, the checks
and stores) and its special functions, a whole DL block, a whole REML block with and
without the likelihood grid, and the grid's parts (coefficients, Horner's scheme). Data: the
simulated analyses of ``bench/run.py`` (labelled SIMULATED in the output). Minimum over the
rounds, in ns per analysis.
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

from metaverdict.batch import _kernels as K  # noqa: E402
from metaverdict.batch._schema import LANES, KernelMethod, Row  # noqa: E402
from metaverdict.batch.fitting import _GRID, finite_rows  # noqa: E402

BLOCKS = 64                      # blocks of analyses cycled through (all stay in cache)
CRIT = 1.959963984540054         # the normal 97.5 % quantile: z-test CIs
DL, REML = int(KernelMethod.DL), int(KernelMethod.REML)
JIT = numba.njit(error_model="numpy")    # the kernel's error model (vectorised divisions)


@JIT
def _load(reps: int, k: int, y: np.ndarray, v: np.ndarray, Y: np.ndarray, V: np.ndarray,
          L: np.ndarray) -> None:
    for r in range(reps):
        K._load(y, v, k, (r % BLOCKS) * LANES, LANES, Y, V, L)


@JIT
def _sums(reps: int, k: int, at_zero: bool, Y: np.ndarray, V: np.ndarray, W: np.ndarray,
          L: np.ndarray) -> None:
    for _ in range(reps):
        if at_zero:
            K._fill(L, K.Lane.tau2, 0.0)
        K._final_sums(Y, V, W, L, k, at_zero, at_zero, False)


@JIT
def _write(reps: int, k: int, L: np.ndarray, out: np.ndarray, mask: int,
           finite: np.ndarray) -> None:
    for r in range(reps):
        K._write(L, k, DL, False, CRIT, (r % BLOCKS) * LANES, LANES, out, mask, finite)


@JIT
def _tails(reps: int, L: np.ndarray, df: int) -> None:
    for _ in range(reps):
        K._erfc_lanes(L, K.Lane.o_x, K.Lane.o_p)
        K._chi2_sf_lanes(L, K.Lane.o_q, K.Lane.o_qp, df)


@JIT
def _block(reps: int, k: int, method: int, global_mode: int, y: np.ndarray, v: np.ndarray,
           Y: np.ndarray, V: np.ndarray, W: np.ndarray, Ws: np.ndarray, S: np.ndarray,
           queue: np.ndarray, L: np.ndarray, G: np.ndarray, out: np.ndarray, mask: int,
           finite: np.ndarray, grid: np.ndarray) -> None:
    for r in range(reps):
        a0 = (r % BLOCKS) * LANES
        K._fit_block(y, v, k, a0, LANES, Y, V, W, Ws, S, queue, L, G, method, False, 1e-12,
                     100, global_mode, grid)
        K._write(L, k, method, False, CRIT, a0, LANES, out, mask, finite)


@JIT
def _coefficients(reps: int, k: int, Y: np.ndarray, V: np.ndarray, G: np.ndarray) -> None:
    for _ in range(reps):
        K._grid_polynomials(Y, V, G, k)


@JIT
def _horner(reps: int, k: int, L: np.ndarray, G: np.ndarray, grid: np.ndarray) -> None:
    for _ in range(reps):
        for j in range(grid.shape[0]):
            K._horner(L, G, k, grid[j])


def best(fn: Callable[[int], object], reps: int, rounds: int) -> float:
    """The least time per analysis (ns) of ``rounds`` calls of ``fn(reps)``, after a warm-up."""
    fn(2)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(reps)
        times.append(time.perf_counter() - t0)
    return min(times) / reps / LANES * 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=20000, help="blocks per round")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="--reps 50 --rounds 2")
    args = ap.parse_args(argv)
    k, reps, rounds = args.k, args.reps, args.rounds
    if args.quick:
        reps, rounds = 50, 2
    n = LANES * BLOCKS
    y2, v2 = generate(n, k)
    y, v = y2.reshape(-1).copy(), v2.reshape(-1).copy()
    Y, V, W = np.empty(k * LANES), np.empty(k * LANES), np.empty(k * LANES)
    Ws, S = np.empty(k * K.SLOTS), np.empty(K.N_SLOT_FIELDS * K.SLOTS)
    queue, L = np.empty(LANES, dtype=np.int64), np.zeros(K.N_LANE_FIELDS * LANES)
    G = np.empty(3 * (k + 1) * LANES)
    out, finite = np.empty((len(Row), n)), np.empty(n, dtype=bool)
    mask = sum(1 << int(r) for r in finite_rows("z"))
    K._load(y, v, k, 0, LANES, Y, V, L)
    for ln in range(LANES):                          # the grid's top, as the kernel sets it
        L[K.Lane.top * LANES + ln] = K.likelihood_grid_top(L[K.Lane.ss * LANES + ln],
                                                           k - 1.0, L[K.Lane.vmax * LANES + ln])
    tails = L.copy()
    tails[K.Lane.o_x * LANES:(K.Lane.o_x + 1) * LANES] = np.linspace(0, 3, LANES)
    tails[K.Lane.o_q * LANES:(K.Lane.o_q + 1) * LANES] = np.linspace(0, 3 * k, LANES)
    grid_lanes = L.copy()

    def block(method: int, global_mode: int) -> Callable[[int], object]:
        return lambda r: _block(r, k, method, global_mode, y, v, Y, V, W, Ws, S, queue, L, G,
                                out, mask, finite, _GRID)

    stages: list[tuple[str, Callable[[int], object]]] = [
        ("load a block (transpose, check, centre)", lambda r: _load(r, k, y, v, Y, V, L)),
        ("sums at tau2 = 0 (weights, traces)", lambda r: _sums(r, k, True, Y, V, W, L)),
        ("sums at an estimate (weights)", lambda r: _sums(r, k, False, Y, V, W, L)),
        ("output stage (pooling, tails, checks, stores)",
         lambda r: _write(r, k, L, out, mask, finite)),
        ("  of which the normal and chi-square tails", lambda r: _tails(r, tails, k - 1)),
        ("DL: a whole block and its output", block(DL, 0)),
        ("REML: a whole block and its output", block(REML, 1)),
        ("REML: the same without the likelihood grid", block(REML, 0)),
        ("grid: polynomial coefficients", lambda r: _coefficients(r, k, Y, V, G)),
        ("grid: Horner's scheme at its 32 points",
         lambda r: _horner(r, k, grid_lanes, G, _GRID)),
    ]
    print(f"SIMULATED data (bench/run.py generate), k = {k}, blocks of {LANES} analyses in "
          f"cache, one thread, minimum of {rounds} rounds of {reps} blocks")
    for label, fn in stages:
        print(f"{label:52s} {best(fn, reps, rounds):7.1f} ns per analysis")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
