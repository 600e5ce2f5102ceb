"""Bayesian meta-analysis benchmark: many SIMULATED meta-analyses (k = 10 studies each) through
``metaverdict.models.bayes.bayesian_batch`` (exact posterior: tau, mu and predictive
quantiles, P(mu beyond the MCID) per analysis), against single fits and R bayesmeta.

Target (issue 16): at least 10,000 times faster per fit than bayesmeta's loop on the same data.
bayesmeta is not in Debian's packages: where R has no bayesmeta the script says so and times
our side only, and quotes bayesmeta 3.4's own recorded run times on the public reference cases
(tests/data/bayesmeta, ``default.seconds``: the same default settings, k = 2 to 29) for scale.

    python bench/bayes.py [--analyses 100000] [--full] [--quick] [--frame] [--r-fits 20]
                          [--workers 1]

``--full`` runs 10^6 analyses, ``--quick`` 2,000 (the test suite's smoke run).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

K = 10
PRIOR = {"tau_prior": "half-normal", "tau_scale": 0.5}
MCID = 0.2
PROBS = (0.025, 0.5, 0.975)
FIXTURES = Path(__file__).parents[1] / "tests" / "data" / "bayesmeta"

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); n <- as.integer(args[2]); out <- list()
if (requireNamespace("bayesmeta", quietly = TRUE)) {
  t <- numeric(n); q <- matrix(NA, n, 3); pr <- numeric(n)
  for (i in seq_len(n)) {
    r <- d[d$analysis == i, ]
    t[i] <- system.time(b <- bayesmeta::bayesmeta(y = r$y, sigma = sqrt(r$vi),
      tau.prior = function(x) bayesmeta::dhalfnormal(x, scale = 0.5)))[["elapsed"]]
    q[i, ] <- b$qposterior(mu.p = c(0.025, 0.5, 0.975))
    pr[i] <- 1 - b$pposterior(mu = 0.2)
  }
  out$bayesmeta <- list(seconds = t, quantiles = q, prob_above = pr,
                        version = as.character(packageVersion("bayesmeta")))
} else out$bayesmeta <- list(missing = "R package bayesmeta is not installed (not in Debian)")
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def simulate(n: int, seed: int = 20261216) -> tuple[np.ndarray, np.ndarray]:
    """SIMULATED (n, K) effects and variances: tau ~ half-normal(0.3), mu ~ N(0, 0.5²),
    study variances uniform on [0.01, 0.2]."""
    rng = np.random.default_rng(seed)
    tau = np.abs(rng.normal(0, 0.3, n))
    mu = rng.normal(0, 0.5, n)
    vi = rng.uniform(0.01, 0.2, (n, K))
    theta = mu[:, None] + tau[:, None] * rng.normal(size=(n, K))
    return theta + np.sqrt(vi) * rng.normal(size=(n, K)), vi


def time_batch(y: np.ndarray, vi: np.ndarray, workers: int) -> tuple[float, float, object]:
    from metaverdict.models.bayes import bayesian_batch

    bayesian_batch(y[:64], vi[:64], probs=PROBS, mcid=MCID, **PRIOR)      # compile, warm
    c0, t0 = time.process_time(), time.perf_counter()
    res = bayesian_batch(y, vi, probs=PROBS, mcid=MCID, workers=workers, **PRIOR)
    return time.perf_counter() - t0, time.process_time() - c0, res


def time_frame(y: np.ndarray, vi: np.ndarray, workers: int) -> tuple[float, float, object]:
    """The long-table front end ``mv.batch.bayesian_meta_analyses`` on the same data."""
    import pandas as pd

    from metaverdict.batch import bayesian_meta_analyses

    n = y.shape[0]
    frame = pd.DataFrame({"analysis_id": np.repeat(np.arange(n), K), "yi": y.reshape(-1),
                          "vi": vi.reshape(-1)})
    c0, t0 = time.process_time(), time.perf_counter()
    out = bayesian_meta_analyses(frame, probs=PROBS, mcid=MCID, workers=workers, **PRIOR)
    return time.perf_counter() - t0, time.process_time() - c0, out


def time_single(y: np.ndarray, vi: np.ndarray, fits: int) -> tuple[float, list[object]]:
    from metaverdict.models.bayes import bayesian_meta_analysis

    times, out = [], []
    for i in range(fits):
        t0 = time.perf_counter()
        out.append(bayesian_meta_analysis(y[i], vi[i], **PRIOR))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run_r(y: np.ndarray, vi: np.ndarray, fits: int) -> dict[str, object]:
    if shutil.which("Rscript") is None:
        return {"missing": "R is not installed"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        rows = ["analysis,y,vi"] + [f"{i + 1},{y[i, j]!r},{vi[i, j]!r}"
                                    for i in range(fits) for j in range(K)]
        data.write_text("\n".join(rows) + "\n")
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(data), str(fits)],
                             capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"missing": f"Rscript failed: {out.stderr.strip()[-300:]}"}
    result: dict[str, object] = json.loads(out.stdout)["bayesmeta"]
    return result


def recorded_bayesmeta_seconds() -> list[float]:
    """bayesmeta 3.4's recorded default-run times on the public reference cases."""
    secs = []
    for path in sorted(FIXTURES.glob("*.json")):
        case = json.loads(path.read_text())
        for entry in case["priors"].values():
            if "seconds" in entry["default"]:
                secs.append(float(entry["default"]["seconds"]))
    return secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--analyses", type=int, default=100_000)
    ap.add_argument("--full", action="store_true", help="10^6 analyses")
    ap.add_argument("--quick", action="store_true", help="2,000 analyses (smoke run)")
    ap.add_argument("--r-fits", type=int, default=20, help="bayesmeta fits to time")
    ap.add_argument("--single-fits", type=int, default=20)
    ap.add_argument("--frame", action="store_true",
                    help="also time mv.batch.bayesian_meta_analyses on the same data as a long "
                         "table (one call)")
    ap.add_argument("--workers", type=int, default=1,
                    help="threads for the batch (CPU time per fit is reported either way)")
    args = ap.parse_args()
    n = 2_000 if args.quick else 1_000_000 if args.full else args.analyses
    y, vi = simulate(n)
    print(f"SIMULATED data: {n:,} meta-analyses x k = {K} studies; tau prior half-normal(0.5), "
          f"mu prior uniform; MCID {MCID}")
    wall, cpu, res = time_batch(y, vi, args.workers)
    per = cpu / n
    print(f"metaverdict.models.bayes.bayesian_batch ({args.workers} thread"
          f"{'s' if args.workers > 1 else ''}): {wall:.2f} s wall, {cpu:.2f} s CPU, "
          f"{per * 1e6:.0f} us CPU per fit ({n / wall:,.0f} fits/s wall)")
    if args.frame:
        fwall, fcpu, out = time_frame(y, vi, args.workers)
        same = float(np.max(np.abs(out[[f"mu_q{p:g}" for p in PROBS]].to_numpy()  # type: ignore
                                   - res.mu_quantiles)))  # type: ignore[attr-defined]
        print(f"metaverdict.batch.bayesian_meta_analyses (long table, one call): {fwall:.2f} s "
              f"wall, {fcpu:.2f} s CPU, {fcpu / n * 1e6:.0f} us CPU per fit; equals "
              f"bayesian_batch: max |mu quantile difference| = {same:.1e}")
    single, fits = time_single(y, vi, min(args.single_fits, n))
    diff = max(float(np.max(np.abs(np.asarray(f.quantile("mu", PROBS))  # type: ignore[attr-defined]
                                    - res.mu_quantiles[i])))  # type: ignore[attr-defined]
               for i, f in enumerate(fits))
    print(f"metaverdict.models.bayes.bayesian_meta_analysis (single fit, full summary): "
          f"{single * 1e3:.0f} ms median; batch equals single fits: max |mu quantile "
          f"difference| = {diff:.1e}")
    r = run_r(y, vi, min(args.r_fits, n))
    if "missing" in r:
        rec = recorded_bayesmeta_seconds()
        med = statistics.median(rec)
        print(f"bayesmeta: not timed: {r['missing']}; our side only. For scale, bayesmeta "
              f"3.4's recorded default runs on the {len(rec)} reference fits (k = 2-29) took "
              f"median {med:.2f} s (range {min(rec):.2f}-{max(rec):.2f} s): "
              f"{med / per:,.0f} x our CPU time per fit")
    else:
        secs = np.asarray(r["seconds"], dtype=float)
        med = float(np.median(secs))
        q = np.asarray(r["quantiles"], dtype=float)
        dq = float(np.max(np.abs(q - res.mu_quantiles[:len(q)])))  # type: ignore[attr-defined]
        print(f"bayesmeta {r['version']} loop ({len(secs)} fits, default accuracy): median "
              f"{med:.2f} s per fit; {med / per:,.0f} x slower than the batch per fit; "
              f"max |mu quantile difference| {dq:.1e} (bayesmeta's DIRECT approximation)")


if __name__ == "__main__":
    main()
