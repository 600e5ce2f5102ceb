"""Benchmark the batch engine against metafor, statsmodels, PyMARE and single fits.

Usage::

    python bench/run.py                     # the quick configuration (about 10 minutes on 2 cores)
    python bench/run.py --full              # N in 10^3..10^7 x k in {2, 5, 10, 30, 100, 1000}
    python bench/run.py --n 1000000 --k 10 --methods DL REML --out /tmp/r.md
    python bench/run.py --load              # the batch idle vs with a busy core (prints rows)

Every tool sees the same deterministic synthetic data (:func:`generate`, seeded; analysis
``i`` is the same whatever ``N``). Fast tools (metaverdict batch, PyMARE) fit all ``N``
analyses; slow loops (metafor ``rma()``, statsmodels, the metaverdict single-fit loop) fit
the first ``n_sub`` analyses and are reported per fit. Each measurement runs in its own
subprocess so its peak resident memory (``VmHWM``, reset just before the fit) is its own.
Estimates and tau² are compared with metafor (tight convergence) on the analyses it fitted.

Missing tools are installed: R and metafor from Debian packages (``apt-get``), PyMARE and
statsmodels from PyPI (``pip``). R is skipped with a message when that fails.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
BLOCK = 1000            # analyses per generator block: analysis i never depends on N
SLOW = ("metafor", "statsmodels", "single")
TOOLS = ("metafor", "statsmodels", "single", "pymare", "batch", "batch_arrays", "batch_numpy")
BIG_TOOLS = ("batch", "batch_arrays", "batch_file")
LABELS = {
    "metafor": "metafor rma() loop",
    "statsmodels": "statsmodels combine_effects loop",
    "single": "metaverdict meta_analysis() loop",
    "pymare": "PyMARE 0.0.13 (vectorised)",
    "batch": "metaverdict batch meta_analyses(frame)",
    "batch_arrays": "metaverdict batch fit_arrays((N,k) arrays)",
    "batch_numpy": "metaverdict batch, backend=\"numpy\"",
    "batch_fast": "metaverdict batch, FAST_CONTROL",
    "batch_file": "metaverdict meta_analyses_file(parquet)",
}
#: Headline targets at N = 10^6, k = 10: minimum speed-up of the batch over each tool.
TARGETS = {"DL": {"metafor": 10_000, "pymare": 2, "statsmodels": 100},
           "REML": {"metafor": 2_000, "pymare": 10, "statsmodels": 100}}
MEMORY_TARGET_GB = 8.0


# ----------------------------------------------------------------------------- data
def generate(n: int, k: int, seed: int = 20240609, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic random-effects data: analyses ``start:start + n`` of ``k`` studies each.

    Per analysis: true effect ``mu ~ N(0.2, 0.3²)``; ``tau² = 0`` with probability 0.3,
    else ``tau² ~ Exp(mean 0.05)``; per study ``vi ~ U(0.01, 0.3)`` and
    ``yi ~ N(mu, vi + tau²)``. Each block of :data:`BLOCK` analyses has its own generator
    (seeded by ``(seed, k, block)``), so analysis ``i`` is the same for every ``n``.

    Parameters
    ----------
    n, k : int
        Number of analyses and studies per analysis.
    seed : int
        Base seed.
    start : int
        First analysis (a multiple of :data:`BLOCK`).

    Returns
    -------
    y, v : ndarray, shape (n, k)
        Effect sizes and sampling variances (float64).
    """
    y, v = np.empty((n, k)), np.empty((n, k))
    for j in range(0, n, BLOCK):
        rng = np.random.default_rng([seed, k, (start + j) // BLOCK])
        mu = rng.normal(0.2, 0.3, BLOCK)
        tau2 = np.where(rng.random(BLOCK) < 0.3, 0.0, rng.exponential(0.05, BLOCK))
        vb = rng.uniform(0.01, 0.3, (BLOCK, k))
        yb = mu[:, None] + rng.standard_normal((BLOCK, k)) * np.sqrt(vb + tau2[:, None])
        m = min(BLOCK, n - j)
        y[j:j + m], v[j:j + m] = yb[:m], vb[:m]
    return y, v


def to_frame(y: np.ndarray, v: np.ndarray) -> Any:
    """The long table (one row per study) that :func:`metaverdict.batch.meta_analyses` takes."""
    import pandas as pd
    n, k = y.shape
    return pd.DataFrame({"analysis_id": np.repeat(np.arange(n, dtype=np.int64), k),
                         "yi": y.reshape(-1), "vi": v.reshape(-1)}, copy=False)


# ----------------------------------------------------------------------------- memory
def reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmHWM") -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- tools
def fit_python(tool: str, method: str, data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Fit with one Python tool; returns (estimate, tau2) of the analyses it fitted."""
    y, v = data.get("y"), data.get("v")
    if tool == "statsmodels":
        from statsmodels.stats.meta_analysis import combine_effects
        how = {"DL": "dl", "REML": "iterated"}[method]        # "iterated" is Paule-Mandel
        out = np.empty((len(y), 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(len(y)):
                r = combine_effects(y[i], v[i], method_re=how)
                out[i] = r.mean_effect_re, r.tau2
        return out[:, 0], out[:, 1]
    if tool == "single":
        from metaverdict import meta_analysis
        out = np.empty((len(y), 2))
        for i in range(len(y)):
            r = meta_analysis(y[i], v[i], method=method)
            out[i] = r.estimate, r.tau2
        return out[:, 0], out[:, 1]
    if tool == "pymare":
        from pymare import Dataset
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
        est = (DerSimonianLaird(small_sample_correction="wald") if method == "DL" else
               VarianceBasedLikelihoodEstimator(method="REML", small_sample_correction="wald"))
        est.fit_dataset(Dataset(y=y.T, v=v.T))           # PyMARE: (k, N), one column per analysis
        return np.ravel(est.params_["fe_params"][0]), np.ravel(est.params_["tau2"])
    if tool in ("batch", "batch_fast", "batch_numpy"):
        from metaverdict.batch import FAST_CONTROL, meta_analyses
        res = meta_analyses(data["frame"], method=method,
                            control=FAST_CONTROL if tool == "batch_fast" else None,
                            backend="numpy" if tool == "batch_numpy" else None,
                            threads=data.get("threads"))
        return res["estimate"].to_numpy(), res["tau2"].to_numpy()
    if tool == "batch_arrays":
        from metaverdict.batch import fit_arrays
        res = fit_arrays(y, v, method=method)
        est, tau2 = res["estimate"].to_numpy(), res["tau2"].to_numpy()
        return est, tau2
    if tool == "batch_file":
        import pandas as pd

        from metaverdict.batch import meta_analyses_file
        out = Path(data["dir"]) / "out.parquet"
        meta_analyses_file(data["path"], out, method=method)
        res = pd.read_parquet(out, columns=["estimate", "tau2"]).iloc[:data["n_sub"]]
        return res["estimate"].to_numpy(), res["tau2"].to_numpy()
    raise ValueError(f"unknown tool {tool!r}")



def write_parquet(n: int, k: int, seed: int, path: Path) -> float:
    """Write the long table to Parquet in pieces of 10^5 analyses; returns its size in MB."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    writer = None
    for start in range(0, n, 100 * BLOCK):
        m = min(100 * BLOCK, n - start)
        y, v = generate(m, k, seed, start)
        table = pa.table({"analysis_id": np.repeat(np.arange(start, start + m, dtype=np.int64), k),
                          "yi": y.reshape(-1), "vi": v.reshape(-1)})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return path.stat().st_size / 2**20


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one tool on one data set (run in its own process by :func:`measure`).

    ``spec``: tool, method, n (analyses), k, seed, n_sub (analyses the tool fits, or whose
    results are returned), repeats (best of, for runs under 10 s).
    """
    tool, method, n, k, seed = spec["tool"], spec["method"], spec["n"], spec["k"], spec["seed"]
    n_fit = n if tool.startswith("batch") or tool == "pymare" else spec["n_sub"]
    n_fit = min(n_fit, spec.get("cap", n_fit))
    data: dict[str, Any] = {"n_sub": spec["n_sub"], "threads": spec.get("threads")}
    tmp = None
    if tool == "batch_file":
        tmp = tempfile.TemporaryDirectory(prefix="mv-bench-")
        data["dir"], data["path"] = tmp.name, Path(tmp.name) / "data.parquet"
        data["file_mb"] = write_parquet(n_fit, k, seed, data["path"])
    else:
        data["y"], data["v"] = generate(n_fit, k, seed)
        if tool in ("batch", "batch_fast", "batch_numpy"):
            data["frame"] = to_frame(data["y"], data["v"])
            del data["y"], data["v"]
    warm_up(tool, method, data, k)
    gc.collect()
    input_mb = rss_mb("VmRSS")
    exact = reset_peak()
    times = []
    for _ in range(1 if tool in SLOW else spec.get("repeats", 1)):
        t0 = time.perf_counter()
        est, tau2 = fit_python(tool, method, data)
        times.append(time.perf_counter() - t0)
        if sum(times) > 10:
            break
    if tmp is not None:
        tmp.cleanup()
    return {"n_fit": n_fit, "times": times, "per_fit_s": min(times) / n_fit,
            "peak_mb": rss_mb("VmHWM"), "input_mb": input_mb, "peak_exact": exact,
            "file_mb": data.get("file_mb"),
            "estimate": est[:spec["n_sub"]].tolist(),
            "tau2": tau2[:spec["n_sub"]].tolist()}


def warm_up(tool: str, method: str, data: dict[str, Any], k: int, n: int = 100) -> None:
    """Fit the first ``n`` analyses once, untimed: imports, caches and JIT compilation."""
    small: dict[str, Any] = {}
    if "frame" in data or tool == "batch_file":
        from metaverdict.batch import meta_analyses
        meta_analyses(data["frame"].iloc[:n * k] if "frame" in data else
                      to_frame(*generate(n, k)), method=method)
        return
    small["y"], small["v"] = data["y"][:n], data["v"][:n]
    fit_python(tool, method, small)


def measure(spec: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run :func:`worker` in a fresh Python process; returns its result or ``{"error": ...}``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_metafor(method: str, k: int, n_sub: int, seed: int, workdir: Path, tight: bool,
                budget: float) -> dict[str, Any]:
    """Time the ``rma()`` loop of ``bench/metafor_loop.R`` on the first ``n_sub`` analyses, or
    on as many as it starts within ``budget`` seconds."""
    import pandas as pd
    src = workdir / f"k{k}_n{n_sub}.csv"
    if not src.exists():
        y, v = generate(n_sub, k, seed)
        to_frame(y, v).to_csv(src, index=False)       # shortest round-trip repr: exact floats
    out = workdir / f"k{k}_n{n_sub}_{method}_{'tight' if tight else 'default'}.out.csv"
    cmd = ["Rscript", str(HERE / "metafor_loop.R"), str(src), str(out), method]
    p = subprocess.run(cmd + ["tight" if tight else "default", str(budget)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["Rscript failed"])[-1]}
    stats = dict(item.split("=") for item in p.stdout.split())
    res = pd.read_csv(out)
    done = int(stats["n"])
    return {"n_fit": done, "per_fit_s": float(stats["elapsed"]) / done,
            "times": [float(stats["elapsed"])], "failed": int(stats["failed"]),
            "peak_mb": int(stats["vmhwm_kb"]) / 1024, "input_mb": None,
            "estimate": res["estimate"].tolist(), "tau2": res["tau2"].tolist()}


# ----------------------------------------------------------------------------- competing load
#: The conditions of the competing-load benchmark: (label, busy cores, kernel threads).
LOAD_CASES = (("idle", 0, None), ("1 core busy", 1, None), ("1 core busy", 1, 1))


def busy_loops(cores: int) -> list[subprocess.Popen[bytes]]:
    """Start ``cores`` processes that spin (a competing CPU load), each pinned to its own CPU
    where the OS allows it (the last CPUs, so CPU 0 keeps the benchmark's main thread)."""
    procs = []
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    for i in range(cores):
        p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        if len(cpus) > i:
            try:
                os.sched_setaffinity(p.pid, {cpus[-1 - i]})
            except OSError:
                pass
        procs.append(p)
    time.sleep(0.5)                                    # let them reach full speed
    return procs


def run_load(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The batch per-fit time (``meta_analyses`` on the frame) idle and with competing
    busy-loop processes, for each method at the first ``--n`` and ``--k``."""
    n, k = (args.n or [10**6])[0], (args.k or [10])[0]
    rows = []
    for method in args.methods:
        for label, cores, threads in LOAD_CASES:
            procs = busy_loops(cores)
            try:
                res = measure({"tool": "batch", "method": method, "n": n, "k": k,
                               "seed": args.seed, "n_sub": 0, "repeats": args.repeats,
                               "threads": threads})
            finally:
                for p in procs:
                    p.kill()
                    p.wait()
            row = {"method": method, "n": n, "k": k, "tool": "batch", "load": label,
                   "busy": cores, "threads": threads, **res}
            rows.append(row)
            print(progress_line(row) + f"  [{label}, threads={threads or 'all'}]", flush=True)
    return rows


def load_table(rows: list[dict[str, Any]]) -> list[str]:
    """One line per condition: per-fit times of every method, and the slow-down vs idle."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = ["| condition | kernel threads | " + " | ".join(f"{m} per fit" for m in methods)
           + " | " + " | ".join(f"{m} vs idle" for m in methods) + " |",
           "|" + "---|" * (2 + 2 * len(methods))]
    for label, cores, threads in LOAD_CASES:
        got = [find(rows, method=m, load=label, threads=threads) for m in methods]
        idle = [find(rows, method=m, load="idle") for m in methods]
        cells = [fmt_t(r["per_fit_s"]) if r else "–" for r in got]
        ratios = [fmt_x(r["per_fit_s"] / i["per_fit_s"]) if r and i else "–"
                  for r, i in zip(got, idle)]
        busy = f", {cores} busy-loop process{'es' if cores > 1 else ''}" if cores else ""
        out.append(f"| {label}{busy} | {threads or 'all CPUs'} | " + " | ".join(cells) + " | "
                   + " | ".join(ratios) + " |")
    return out + [""]


# ----------------------------------------------------------------------------- setup
def ensure_tools() -> dict[str, str | None]:
    """Install what is missing; returns the version of each tool, or None where unavailable."""
    def r_ok() -> bool:
        return shutil.which("Rscript") is not None and subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(metafor))"],
            capture_output=True).returncode == 0
    if not r_ok():
        print("R/metafor missing: apt-get install -y r-base-core r-cran-metafor", flush=True)
        ok = subprocess.run(["apt-get", "update"], capture_output=True).returncode == 0 and \
            subprocess.run(["apt-get", "install", "-y", "r-base-core", "r-cran-metafor"],
                           capture_output=True).returncode == 0
        if not ok or not r_ok():
            print("WARNING: could not install R + metafor with apt-get (need root and a Debian "
                  "mirror); metafor is skipped.", flush=True)
    need = [pkg for mod, pkg in (("pymare", "pymare==0.0.13"), ("statsmodels", "statsmodels"))
            if _version(mod) is None]
    if need:
        print("pip install " + " ".join(need), flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", *need], capture_output=True)
    versions = {mod: _version(mod) for mod in ("numpy", "scipy", "pandas", "pymare",
                                               "statsmodels", "metaverdict", "pyarrow", "numba")}
    for mod in ("pymare", "statsmodels"):
        if versions[mod] is None:
            print(f"WARNING: {mod} is not importable with this Python/NumPy; it is skipped "
                  f"(install it into a separate venv to benchmark it).", flush=True)
    versions["R"] = versions["metafor"] = None
    if r_ok():
        out = subprocess.run(["Rscript", "-e", 'suppressMessages(library(metafor)); cat(R.version$'
                              'major, R.version$minor, as.character(packageVersion("metafor")))'],
                             capture_output=True, text=True).stdout.split()
        versions["R"], versions["metafor"] = f"{out[0]}.{out[1]}", out[2]
    versions["python"] = platform.python_version()
    return versions


def _version(module: str) -> str | None:
    code = f"import {module}; print(getattr({module}, '__version__', '?'))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def machine() -> str:
    """CPU, memory and OS, from /proc/cpuinfo, lscpu, free -g and /etc/os-release."""
    def sh(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    cpu = [line.split(":", 1)[1].strip()
           for line in Path("/proc/cpuinfo").read_text().splitlines()
           if line.startswith("model name")]
    keep = ("Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Core(s) per socket",
            "L2 cache", "L3 cache", "Flags")
    lscpu = [line if not line.startswith("Flags") else
             "Flags (SIMD): " + " ".join(f for f in line.split()[1:]
                                         if f.startswith(("avx", "sse4", "fma")))
             for line in sh("lscpu").splitlines() if line.split(":")[0].strip() in keep]
    osname = next((line.split("=", 1)[1].strip('"')
                   for line in Path("/etc/os-release").read_text().splitlines()
                   if line.startswith("PRETTY_NAME")), platform.platform())
    return "\n".join([f"- CPU: {cpu[0] if cpu else '?'} x {len(cpu)} logical CPUs "
                      f"(os.cpu_count() = {os.cpu_count()})",
                      f"- OS: {osname}, kernel {platform.release()}", "", "```", *lscpu, "",
                      sh("free", "-g"), "```"])


# ----------------------------------------------------------------------------- plan and run
def subsample(n: int, k: int, sample: int) -> int:
    """Analyses fitted by the slow loops: ``min(n, sample)``, fewer for large k (>= 200)."""
    return min(n, max(min(sample, 200), sample * 10 // max(k, 10)))


def plan(args: argparse.Namespace) -> list[tuple[int, int, tuple[str, ...]]]:
    """The (N, k, tools) cells of the run; cells with N·k > ``--big`` values run the batch only."""
    if args.n or args.k:
        cells = [(n, k) for n in (args.n or [10**6]) for k in (args.k or [10])]
    elif args.full:
        cells = [(10**e, k) for k in (2, 5, 10, 30, 100, 1000) for e in range(3, 8)
                 if 10**e * k <= args.max_values]
    else:
        cells = [(10**e, 10) for e in range(3, 7)] + [(10**4, k) for k in (2, 5, 30, 100, 1000)]
        cells += [(10**7, 10)]
    return [(n, k, BIG_TOOLS if n * k > args.big else TOOLS) for n, k in cells]


def run_all(args: argparse.Namespace, have: dict[str, str | None]) -> list[dict[str, Any]]:
    """Measure every cell and tool; returns one row per (method, N, k, tool)."""
    rows: list[dict[str, Any]] = []
    cache: dict[tuple, dict[str, Any]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="mv-bench-r-"))
    for method in args.methods:
        for n, k, tools in plan(args):
            n_sub = subsample(n, k, args.sample)
            if method == "REML" and "batch" in tools:
                tools = (*tools, "batch_fast")
            for tool in tools:
                if (tool == "metafor" and not have["metafor"]) or \
                        (tool in ("pymare", "statsmodels") and not have[tool]):
                    continue
                key = (tool, method, k, n_sub)
                if tool in SLOW and key in cache:
                    res = cache[key]
                elif tool == "metafor":
                    res = run_metafor(method, k, n_sub, args.seed, workdir, False, args.r_budget)
                    if "error" not in res:          # the reference: same analyses, tight control
                        ref = res if method == "DL" else run_metafor(method, k, res["n_fit"],
                                                                     args.seed, workdir, True,
                                                                     math.inf)
                        res["ref"], res["failed_tight"] = ref, ref.get("failed")
                        if method == "REML":      # statsmodels "iterated" is Paule-Mandel
                            res["ref_pm"] = run_metafor("PM", k, res["n_fit"], args.seed, workdir,
                                                        True, math.inf)
                else:
                    spec = {"tool": tool, "method": method, "n": n, "k": k, "seed": args.seed,
                            "n_sub": n_sub, "repeats": args.repeats}
                    if tool == "pymare":
                        spec["cap"] = max(BLOCK, args.pymare_values // k)
                    res = measure(spec)
                cache[key] = res
                row = {"method": method, "n": n, "k": k, "tool": tool, "n_sub": n_sub, **res}
                rows.append(row)
                print(progress_line(row), flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    add_accuracy(rows)
    return rows


def add_accuracy(rows: list[dict[str, Any]]) -> None:
    """Max |difference| of estimate and tau² against metafor (tight control) per row."""
    refs = {(r["method"], r["n"], r["k"]): r for r in rows
            if r["tool"] == "metafor" and "ref" in r}
    for r in rows:
        mf = refs.get((r["method"], r["n"], r["k"]))
        if mf is None or "estimate" not in r:
            continue
        ref = mf["ref_pm"] if r["tool"] == "statsmodels" and r["method"] == "REML" else mf["ref"]
        if "error" in ref:
            continue
        m = min(len(r["estimate"]), len(ref["estimate"]))
        ok = np.isfinite(np.asarray(ref["estimate"][:m], dtype=float))
        for field in ("estimate", "tau2"):
            d = np.abs(np.asarray(r[field][:m], dtype=float)
                       - np.asarray(ref[field][:m], dtype=float))[ok]
            r["d_" + field] = float(np.nanmax(d)) if d.size else float("nan")
        r["n_compared"] = int(ok.sum())
        if r["tool"] == "statsmodels" and r["method"] == "DL":   # its DL tau² is not truncated at 0
            neg = np.asarray(r["tau2"][:m], dtype=float) < 0
            d = np.abs(np.asarray(r["estimate"][:m], dtype=float) - np.asarray(ref["estimate"][:m]))
            r["negative_tau2"] = int(neg.sum())
            r["d_estimate_nonneg"] = (float(np.nanmax(d[ok & ~neg])) if (ok & ~neg).any()
                                      else float("nan"))
        r["ref_name"] = "metafor PM" if ref is mf.get("ref_pm") else f"metafor {r['method']}"


def profile_batch(method: str, n: int, k: int, seed: int, top: int = 15) -> str:
    """cProfile of one :func:`metaverdict.batch.meta_analyses` call (top functions by own
    time)."""
    code = f"""
import cProfile, io, pstats, sys
sys.path.insert(0, {str(HERE)!r})
from run import generate, to_frame
from metaverdict.batch import meta_analyses
frame = to_frame(*generate({n}, {k}, {seed}))
meta_analyses(frame.iloc[:{k} * 1000], method={method!r})
pr = cProfile.Profile(); pr.enable(); meta_analyses(frame, method={method!r}); pr.disable()
s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats({top})
print(s.getvalue())
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    text = p.stdout if p.returncode == 0 else p.stderr
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(line.replace(str(Path.home()), "~") for line in lines[start:])


# ----------------------------------------------------------------------------- report
def fmt_t(s: float | None) -> str:
    """Seconds as a short string in ns/µs/ms/s."""
    if s is None or not math.isfinite(s):
        return "–"
    for unit, f in (("s", 1), ("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
        if s * f >= 1:
            return f"{s * f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def fmt_x(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else (f"{x:,.0f}×" if x >= 100 else f"{x:.3g}×")


def fmt_n(n: int) -> str:
    e = math.log10(n) if n > 0 else 0
    return f"10^{e:.0f}" if e == int(e) else f"{n:,}"


def fmt_d(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.1e}"


def progress_line(r: dict[str, Any]) -> str:
    if "error" in r:
        return (f"{r['method']:5} N={fmt_n(r['n']):6} k={r['k']:<5} {r['tool']:13} "
                f"ERROR {r['error']}")
    return (f"{r['method']:5} N={fmt_n(r['n']):6} k={r['k']:<5} {r['tool']:13} per fit "
            f"{fmt_t(r['per_fit_s']):>9} ({r['n_fit']:,} fits)  peak {r['peak_mb']:,.0f} MB")


def find(rows: list[dict[str, Any]], **kw: Any) -> dict[str, Any] | None:
    return next((r for r in rows
                 if all(r.get(a) == b for a, b in kw.items()) and "error" not in r), None)


def headline(rows: list[dict[str, Any]], method: str, n: int = 10**6, k: int = 10) -> list[str]:
    """The per-fit times, speed-ups vs targets, memory and accuracy at one (N, k)."""
    batch = find(rows, method=method, n=n, k=k, tool="batch")
    if batch is None:
        return []
    out = [f"### {method}, N = {fmt_n(n)}, k = {k}", "",
           "| tool | analyses timed | per fit | batch speed-up | target | met | peak RSS | "
           "max abs Δ estimate | max abs Δ tau² |", "|" + "---|" * 9]
    for tool in ("metafor", "statsmodels", "single", "pymare", "batch", "batch_arrays",
                 "batch_numpy", "batch_fast"):
        r = find(rows, method=method, n=n, k=k, tool=tool)
        if r is None:
            continue
        ratio = r["per_fit_s"] / batch["per_fit_s"]
        target = TARGETS.get(method, {}).get(tool) if (n, k) == (10**6, 10) else None
        label = LABELS[tool] + (" (Paule-Mandel)" if tool == "statsmodels" and method == "REML"
                                else "")
        cmp = f" (vs {r['ref_name']})" if r.get("ref_name", "").endswith("PM") else ""
        met = (("yes" if ratio >= target else f"**no** ({ratio / target:.2g} of target)")
               if target else "")
        out.append(f"| {label} | {r['n_fit']:,} | {fmt_t(r['per_fit_s'])} | "
                   f"{fmt_x(ratio) if tool != 'batch' else '1×'} | "
                   f"{f'≥ {target:,}×' if target else ''} | {met} | "
                   f"{r['peak_mb']:,.0f} MB | {fmt_d(r.get('d_estimate'))}{cmp} | "
                   f"{fmt_d(r.get('d_tau2'))} |")
    mf = find(rows, method=method, n=n, k=k, tool="metafor")
    if mf:
        out += ["", "metafor fits that failed (rma() error, e.g. Fisher scoring not converged): "
                f"{mf['failed']} of {mf['n_fit']:,} with default control, "
                f"{mf['failed_tight']} with `control=list(threshold=1e-10, maxiter=1000)` "
                "(the reference for the differences)."]
    sm = find(rows, method=method, n=n, k=k, tool="statsmodels")
    if sm and sm.get("negative_tau2"):
        out += ["", "statsmodels' DL leaves tau² negative when Q < k − 1 (`combine_effects` "
                "computes `tau2 = (q - df) / c` without truncating at 0, unlike metafor and "
                f"metaverdict): {sm['negative_tau2']} of {sm['n_compared']:,} analyses, which is "
                "where its estimate differs; on the others max abs Δ estimate = "
                f"{fmt_d(sm['d_estimate_nonneg'])}."]
    return out + [""]


def grid_table(rows: list[dict[str, Any]], method: str) -> list[str]:
    """Per-fit times of every tool and the batch speed-ups, one line per (N, k)."""
    tools = [t for t in ("metafor", "statsmodels", "single", "pymare", "batch", "batch_arrays",
                         "batch_numpy", "batch_fast", "batch_file")
             if find(rows, method=method, tool=t)]
    out = ["| N | k | " + " | ".join(tools) + " | metafor / batch | statsmodels / batch | "
           "PyMARE / batch |", "|" + "---|" * (len(tools) + 5)]
    cells = sorted({(r["k"], r["n"]) for r in rows if r["method"] == method})
    for k, n in cells:
        got = {t: find(rows, method=method, n=n, k=k, tool=t) for t in tools}
        b = got.get("batch")
        cols = []
        for t in tools:
            r = got[t]
            cols.append("–" if r is None else fmt_t(r["per_fit_s"]) +
                        (f" (n={r['n_fit']:,})" if r["n_fit"] < n else ""))
        ratios = [fmt_x(got[t]["per_fit_s"] / b["per_fit_s"]) if b and got.get(t) else "–"
                  for t in ("metafor", "statsmodels", "pymare")]
        out.append(f"| {fmt_n(n)} | {k} | " + " | ".join(cols) + " | " + " | ".join(ratios)
                   + " |")
    return out + [""]


def accuracy_table(rows: list[dict[str, Any]], method: str) -> list[str]:
    out = ["| N | k | analyses compared | metafor failed (default / tight) | "
           + " | ".join(f"{t} Δest / Δtau²" for t in ("statsmodels", "single", "pymare", "batch"))
           + " |",
           "|" + "---|" * 8]
    for r in rows:
        if r["method"] != method or r["tool"] != "metafor" or "ref" not in r:
            continue
        cols = []
        for t in ("statsmodels", "single", "pymare", "batch"):
            o = find(rows, method=method, n=r["n"], k=r["k"], tool=t)
            cols.append("–" if o is None
                        else f"{fmt_d(o.get('d_estimate'))} / {fmt_d(o.get('d_tau2'))}")
        out.append(f"| {fmt_n(r['n'])} | {r['k']} | {r['n_fit']:,} | "
                   f"{r['failed']} / {r['failed_tight']} | " + " | ".join(cols) + " |")
    return out + [""]


def scaling_table(rows: list[dict[str, Any]], method: str) -> list[str]:
    out = ["| N | k | N·k | total | per fit | per study value |", "|---|---|---|---|---|---|"]
    for r in sorted((r for r in rows
                     if r["method"] == method and r["tool"] == "batch" and "error" not in r),
                    key=lambda r: (r["n"] * r["k"], r["k"])):
        total = r["per_fit_s"] * r["n_fit"]
        out.append(f"| {fmt_n(r['n'])} | {r['k']} | {r['n'] * r['k']:.0e} | {fmt_t(total)} | "
                   f"{fmt_t(r['per_fit_s'])} | {fmt_t(total / (r['n'] * r['k']))} |")
    return out + [""]


def memory_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| method | N | k | tool | peak RSS | RSS before the fit (input data) | within 8 GB |",
           "|---|---|---|---|---|---|---|"]
    big = max((r["n"] for r in rows if r["tool"] == "batch"), default=0)
    for r in rows:
        if r["n"] == big and r["tool"].startswith("batch") and "error" not in r:
            extra = f" (Parquet file {r['file_mb']:,.0f} MB)" if r.get("file_mb") else ""
            out.append(f"| {r['method']} | {fmt_n(r['n'])} | {r['k']} | "
                       f"{LABELS[r['tool']]}{extra} | "
                       f"{r['peak_mb'] / 1024:.2f} GB | {r['input_mb'] / 1024:.2f} GB | "
                       f"{'yes' if r['peak_mb'] / 1024 < MEMORY_TARGET_GB else '**no**'} |")
    return out + [""]


def load_section(rows: list[dict[str, Any]]) -> list[str]:
    """The RESULTS.md section of the competing-load benchmark (``--load``)."""
    if not rows:
        return []
    n, k = rows[0]["n"], rows[0]["k"]
    return [f"## Batch speed with a competing CPU load (N = {fmt_n(n)}, k = {k})", "",
            "`python bench/run.py --load`: `meta_analyses(frame)` per fit, idle and while a "
            "busy-loop process (`while True: pass`, pinned to the last CPU) competes for one "
            "core. The compiled kernel hands chunks of a few thousand analyses to its threads "
            "one at a time, so a thread that gets less CPU does fewer of them. With one busy "
            "process and one kernel thread per CPU, the scheduler gives each of the runnable "
            "threads an equal share, so the floor is (n + 1)/n (1.5× on 2 CPUs); a "
            "memory-bound method loses less.", "",
            *load_table(rows)]


def report(rows: list[dict[str, Any]], args: argparse.Namespace, versions: dict[str, Any],
           profiles: dict[str, str], elapsed: float,
           load_rows: list[dict[str, Any]] | None = None) -> str:
    v = versions
    cells = {(r["n"], r["k"]) for r in rows if r["tool"] == "pymare"}
    head = ((10**6, 10) if (10**6, 10) in cells
            else max(cells, key=lambda c: c[0] * c[1], default=(10**6, 10)))
    lines = ["# Batch engine benchmarks", "",
             f"Generated by `{' '.join(['python', 'bench/run.py', *sys.argv[1:]])}` on "
             f"{time.strftime('%Y-%m-%d %H:%M')} in {elapsed / 60:.1f} min "
             f"(seed {args.seed}). Rerun: `python bench/run.py` (quick) or "
             "`python bench/run.py --full`.",
             "", "## Machine", "", machine(), "",
             f"Python {v['python']}, NumPy {v['numpy']}, SciPy {v['scipy']}, pandas {v['pandas']}, "
             f"pyarrow {v['pyarrow']}, R {v['R']}, metafor {v['metafor']}, PyMARE {v['pymare']}, "
             f"statsmodels {v['statsmodels']}, metaverdict {v['metaverdict']} "
             f"(git {_git_head()}{_dirty()}), Numba {v['numba']} "
             f"(compiled batch kernel: {_compiled()}).", "",
             f"## Headline: N = {fmt_n(head[0])} analyses, k = {head[1]} studies", "",
             "Speed-up = the tool's per-fit time / the batch's per-fit time, measured in the same "
             "run. Slow loops are timed on the first `analyses timed` analyses; differences are "
             "against metafor with tight control on the analyses metafor fitted.", ""]
    for method in args.methods:
        lines += headline(rows, method, *head)
    lines += load_section(load_rows or [])
    lines += ["## Peak memory at the largest N", "", *memory_table(rows)]
    for method in args.methods:
        lines += [f"## Per-fit times, {method}", "", *grid_table(rows, method),
                  f"### Accuracy against metafor, {method}", "", *accuracy_table(rows, method),
                  f"### Batch scaling, {method} (per-fit time vs N·k)", "",
                  *scaling_table(rows, method)]
    for method, text in profiles.items():
        lines += [f"## Profile of one batch call: {method}, N = 10^6, k = 10 "
                  "(cProfile, top by own time)",
                  "", "```", text, "```", ""]
    lines += ["## Notes", "", NOTES.format(sample=args.sample, big=args.big,
                                            pymare=args.pymare_values, r_budget=args.r_budget), ""]
    return "\n".join(lines)


def _git_head() -> str:
    p = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "?"


def _dirty() -> str:
    """Uncommitted changes to the engine's sources, which the run measured."""
    p = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--",
                        "src/metaverdict/batch", "src/metaverdict/models"],
                       capture_output=True, text=True)
    files = [line[3:] for line in p.stdout.splitlines()]
    return f" + uncommitted changes to {', '.join(files)}" if files else ""


def _compiled() -> str:
    code = "from metaverdict.batch import compiled; print(compiled.available())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return {"True": "yes", "False": "no (Numba missing)"}.get(p.stdout.strip(),
                                                              "not in this version")


NOTES = """\
- **Data.** One deterministic synthetic data set per k (`generate()` in `bench/run.py`):
  mu ~ N(0.2, 0.3²), tau² = 0 with probability 0.3 else Exp(mean 0.05), vi ~ U(0.01, 0.3),
  yi ~ N(mu, vi + tau²). Analysis i is identical for every N, so the slow tools' subsample is
  the first analyses of the data the fast tools fit in full. Generating the data and building the
  input table are not timed.
- **Subsamples.** metafor, statsmodels and the metaverdict single-fit loop fit the first
  min(N, max(200, {sample}·10/max(k, 10))) analyses (2,000 for k ≤ 10) and are reported per fit
  (their per-fit time does not depend on N); the metafor timing loop starts no new fit after
  {r_budget:.0f} s (REML at k = 1000 takes over a second per fit), and the tight-control
  reference runs on the analyses it reached. PyMARE is vectorised over all N up to
  N·k = {pymare:.0e} values, else over the first {pymare:.0e}/k analyses. Cells with
  N·k > {big:.0e} run only the batch.
- **Timing.** Wall-clock time of the fit call only (Python: `time.perf_counter`; R: `proc.time()`
  elapsed around the `rma()` loop, after reading and splitting the CSV), after an untimed warm-up
  fit of 100 analyses (imports, Numba compilation). Vectorised tools: best of up to 3 runs
  (stopping once 10 s are spent); loops: one run. Other processes share the CPUs, so expect
  ±20% noise.
- **metafor.** `rma(yi, vi, method=...)` in a loop (`bench/metafor_loop.R`), default control for
  timing. REML differences are taken against a second run with
  `control=list(threshold=1e-10, maxiter=1000)`; DL is closed-form, so one run serves both. Fits
  where rma() stops with an error (Fisher scoring not converging) are counted and left out of the
  comparison. The metafor row's differences compare its default-control run with the tight one
  (metafor's default convergence threshold, 1e-5 on the change in tau², is the larger error).
- **statsmodels.** `combine_effects(y, v, method_re="dl")` for DL. statsmodels has no REML:
  its iterative estimator (`method_re="iterated"`) is Paule-Mandel, timed in the REML tables
  and compared with metafor `method="PM"` (tight control), not with REML.
- **PyMARE 0.0.13.** `DerSimonianLaird()` / `VarianceBasedLikelihoodEstimator(method="REML")`
  with `small_sample_correction="wald"` (z tests, as metaverdict's `test="z"`), fitted on
  `Dataset(y=Y.T, v=V.T)` (k × N, one column per analysis); Dataset construction is timed.
  It imports with the installed NumPy, so no separate venv was needed.
- **metaverdict.** `batch` = `meta_analyses(frame, method=...)` on a long table (analysis_id,
  yi, vi; rows of an analysis contiguous, keys increasing), default backend and `BATCH_CONTROL`
  (this is the main figure). With Numba installed (the `fast` extra) the default backend is
  the compiled kernel, which runs chunks of analyses on one thread per CPU (2 here), each thread
  taking the next chunk when it is done; PyMARE, statsmodels and the NumPy kernels use one core
  for their element-wise work. `fit_arrays` = the same engine on
  (N, k) arrays of equal k (validation, no grouping step, the same output table), as
  for simulation studies. `backend="numpy"` = the NumPy array kernels (the reference
  implementation).
  `FAST_CONTROL` = `SolverControl(step="newton", global_search="screened")`.
  `meta_analyses_file` streams a Parquet file (written beforehand, not timed) to a Parquet
  result, reading and writing timed.
- **Memory.** Peak resident set size (`VmHWM`) of the process doing the fit, reset
  (`/proc/self/clear_refs`) after the input is built, so it includes the resident input data
  (the 'RSS before the fit' column) plus what the fit allocates; R: `VmHWM` of the Rscript process.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="the quick configuration (default)")
    ap.add_argument("--full", action="store_true",
                    help="N in 10^3..10^7 x k in {2,5,10,30,100,1000}")
    ap.add_argument("--n", type=int, nargs="+", help="numbers of analyses (overrides the grid)")
    ap.add_argument("--k", type=int, nargs="+", help="studies per analysis (overrides the grid)")
    ap.add_argument("--methods", nargs="+", default=["DL", "REML"], choices=["DL", "REML"])
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"), help="markdown report")
    ap.add_argument("--sample", type=int, default=2000,
                    help="analyses for the slow loops (k <= 10)")
    ap.add_argument("--r-budget", type=float, default=15.0,
                    help="seconds: the metafor timing loop starts no new fit after this long")
    ap.add_argument("--seed", type=int, default=20240609)
    ap.add_argument("--repeats", type=int, default=3, help="best of, for fast tools")
    ap.add_argument("--big", type=float, default=5e7, help="N·k above which only the batch runs")
    ap.add_argument("--max-values", type=float, default=1e8, help="--full: largest N·k")
    ap.add_argument("--pymare-values", type=int, default=20_000_000, help="PyMARE: largest N·k")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile of the batch")
    ap.add_argument("--load", action="store_true",
                    help="only the batch idle vs with a competing CPU load (at the first --n "
                         "and --k, default 10^6 and 10); prints the RESULTS.md section")
    ap.add_argument("--no-load", action="store_true",
                    help="skip the competing-load benchmark in a full or quick run")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.load:
        print("\n".join(load_section(run_load(args))))
        return 0
    t0 = time.perf_counter()
    versions = ensure_tools()
    print("versions:", {a: b for a, b in versions.items()}, flush=True)
    rows = run_all(args, versions)
    load_rows = [] if args.no_load else run_load(args)
    profiles = ({} if args.no_profile
                else {m: profile_batch(m, 10**6, 10, args.seed) for m in args.methods})
    text = report(rows, args, versions, profiles, time.perf_counter() - t0, load_rows)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        [{a: b for a, b in r.items() if a not in ("estimate", "tau2", "ref", "ref_pm")}
         for r in rows + load_rows],
        indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
