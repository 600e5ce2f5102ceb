"""Single-analysis benchmark: one meta-analysis of k = 10 studies, metaverdict against metafor.

Times, in one run and on identical data (trials 1-10 of ``dat.bcg``, log risk ratios; or
``--simulate SEED``: k = 10 simulated studies with tau² = 0.1):

* a single REML fit and a single DL fit with every result field
  (``mv.meta_analysis(yi, vi, method=...)``; the coefficient table is a DataFrame built when
  it is read, timed on its own row);
* the full single analysis: the REML fit, ``summary()``, the Q-profile CIs of tau², tau, I²
  and H² (``heterogeneity_ci()``), ``leave_one_out``, ``influence``, ``egger_test`` and
  ``trim_and_fill``;
* metafor (``Rscript bench/single_metafor.R``) doing the same: ``rma()`` REML and DL, and
  ``rma``, ``summary``, ``confint``, ``leave1out``, ``influence``, ``regtest``, ``trimfill``,
  on the data file this script writes.

Each time is the minimum over ``--repeat`` repeats of a loop whose length is chosen so that
one repeat lasts at least ``--min-time`` seconds (wall clock; the least disturbed repeat is the
best estimate on a shared machine). Prints a Markdown table (per-fit time, ratio to metafor,
target, met) and with ``--out`` writes it to a file. Without Rscript or metafor it says so and
times metaverdict only. Targets (issue 13): a REML fit under 0.3 ms and at least 10 times
faster than metafor's ``rma()``; the full analysis under 20 ms.

    python bench/single.py [--repeat 15] [--min-time 0.2] [--out bench/SINGLE.md]
    python bench/single.py --quick          # a few short repeats (tests/test_bench_single.py)
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import metaverdict as mv
from metaverdict.datasets import load_example

R_SCRIPT = Path(__file__).with_name("single_metafor.R")
#: Per-fit targets in seconds (None: no target) and the least speed-up over metafor.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "reml": (0.3e-3, 10.0), "dl": (None, None), "full": (20e-3, None), "table": (None, None)}
LABELS = {
    "reml": "REML fit, every field",
    "dl": "DL fit, every field",
    "full": "full analysis: REML fit, summary, Q-profile CI, leave-one-out, influence, "
            "Egger test, trim-and-fill",
    "table": "reading the coefficient table (DataFrame built on access)",
}
FIELDS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
          "i2", "h2", "q", "q_pvalue", "pi_lower", "pi_upper", "df", "s2w", "vcov", "weights",
          "fit_statistics", "converged", "iterations", "typical_vi")


def bench_data(simulate: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """The effects, variances and a description of the data timed."""
    if simulate is not None:
        rng = np.random.default_rng(simulate)
        vi = rng.uniform(0.01, 0.1, 10)
        yi = rng.normal(0.3, np.sqrt(vi + 0.1))
        return yi, vi, f"k = 10 simulated studies (seed {simulate}, tau² = 0.1)"
    bcg = load_example("dat.bcg")
    es = mv.effect_sizes("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    return (np.array(es.yi[:10]), np.array(es.vi[:10]),
            "k = 10: trials 1-10 of dat.bcg, log risk ratios")


def operations(yi: np.ndarray, vi: np.ndarray) -> dict[str, Callable[[], object]]:
    """The timed operations, each a function of no arguments."""
    def fit(method: str) -> Callable[[], object]:
        def run() -> object:
            res = mv.meta_analysis(yi, vi, method=method)
            return [getattr(res, name) for name in FIELDS]
        return run

    fitted = mv.meta_analysis(yi, vi, method="REML")

    def full() -> object:
        res = mv.meta_analysis(yi, vi, method="REML")
        return (res.summary(), res.heterogeneity_ci(), mv.leave_one_out(res), mv.influence(res),
                mv.egger_test(res), mv.trim_and_fill(res))

    return {"reml": fit("REML"), "dl": fit("DL"), "full": full,
            "table": lambda: fitted.coefficients}


def best_time(fn: Callable[[], object], repeat: int, min_time: float) -> float:
    """Seconds per call: the minimum over ``repeat`` loops, each at least ``min_time`` long."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time:
            break
        number *= 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def run_metafor(yi: np.ndarray, vi: np.ndarray, repeat: int, min_time: float
                ) -> tuple[dict[str, float], str] | str:
    """metafor's per-call seconds and version, or the reason it could not be run."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found: metafor not timed"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "single.csv"
        np.savetxt(data, np.column_stack([yi, vi]), delimiter=",", fmt="%.17g",
                   header="yi,vi", comments="")
        out = subprocess.run([rscript, str(R_SCRIPT), str(data), str(repeat), str(min_time)],
                             capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return f"metafor not timed (Rscript {R_SCRIPT.name} failed: {last})"
    values = dict(item.split("=", 1) for line in out.stdout.splitlines()
                  for item in line.split() if "=" in item)
    times = {key: float(values[key]) for key in ("reml", "dl", "full")}
    check = mv.meta_analysis(yi, vi, method="REML")
    gap = max(abs(float(values["reml_estimate"]) - check.estimate),
              abs(float(values["reml_tau2"]) - check.tau2))
    if gap > 1e-5:
        return f"metafor not compared: its REML fit differs by {gap:.2g} on the data file"
    return times, values["metafor"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds * 1e3:.1f} ms"


def table(ours: dict[str, float], theirs: dict[str, float] | None, version: str,
          description: str, note: str) -> str:
    """The Markdown table of the results."""
    head = f"metafor {version}" if theirs is not None else "metafor"
    lines = [f"Single analysis, {description}; {note}", "",
             f"| operation | metaverdict | {head} | speed-up (metafor / metaverdict) "
             "| target | met |", "|---|---:|---:|---:|---|---|"]
    for key, seconds in ours.items():
        limit, speedup = TARGETS[key]
        r = None if theirs is None or key not in theirs else theirs[key]
        ratio = None if r is None else r / seconds
        goals, met = [], []
        if limit is not None:
            goals.append(f"< {_ms(limit)}")
            met.append(seconds < limit)
        if speedup is not None:
            goals.append(f"≥ {speedup:g}× metafor")
            if ratio is not None:
                met.append(ratio >= speedup)
        lines.append(f"| {LABELS[key]} | {_ms(seconds)} | {'—' if r is None else _ms(r)} | "
                     f"{'—' if ratio is None else f'{ratio:.1f}×'} | "
                     f"{' and '.join(goals) or '—'} | "
                     f"{'—' if not met else ('yes' if all(met) else 'no')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15, help="repeats per timing (minimum kept)")
    ap.add_argument("--min-time", type=float, default=0.2,
                    help="seconds each repeat lasts at least")
    ap.add_argument("--simulate", type=int, default=None, metavar="SEED",
                    help="time simulated data instead of dat.bcg trials 1-10")
    ap.add_argument("--no-metafor", action="store_true", help="time metaverdict only")
    ap.add_argument("--quick", action="store_true",
                    help="3 repeats of at least 0.01 s: a check that the script runs")
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    repeat, min_time = (3, 0.01) if args.quick else (args.repeat, args.min_time)
    yi, vi, description = bench_data(args.simulate)
    ours = {key: best_time(fn, repeat, min_time) for key, fn in operations(yi, vi).items()}
    note = (f"minimum of {repeat} repeats of ≥ {min_time:g} s; Python {platform.python_version()}, "
            f"NumPy {np.__version__}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}")
    theirs, version = None, ""
    if args.no_metafor:
        print("metafor not timed (--no-metafor)")
    else:
        got = run_metafor(yi, vi, repeat, min_time)
        if isinstance(got, str):
            print(got)
        else:
            theirs, version = got
    text = table(ours, theirs, version, description, note)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
