"""MMRM benchmark: one fit on SIMULATED data, 1,000 participants x 4 visits, unstructured
covariance, REML, Kenward-Roger df (coefficients, LS means and arm differences included).

Target (issue 14): under 2 s on the 2-core development machine. Peers on the same data file,
in the same run: R ``mmrm`` (not in Debian's packages: the script says so when it is missing)
and, as a classical reference without Kenward-Roger, ``nlme::gls`` with ``corSymm`` +
``varIdent`` (the same model and REML likelihood); the maximum differences from ``gls`` in
log-likelihood and coefficients are printed.

    python bench/mmrm.py [--participants 1000] [--repeat 3] [--quick]
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
import pandas as pd

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d$visit <- factor(d$visit); d$arm <- factor(d$arm, c("sham", "dn"))
d$id <- factor(d$id); rep <- as.integer(args[2]); out <- list()
if (requireNamespace("mmrm", quietly = TRUE)) {
  t <- numeric(rep)
  for (i in seq_len(rep)) t[i] <- system.time(f <- mmrm::mmrm(value ~ baseline + arm * visit +
       us(visit | id), data = d, method = "Kenward-Roger"))[["elapsed"]]
  out$mmrm <- list(seconds = median(t), logLik = as.numeric(logLik(f)), beta = unname(coef(f)),
                   version = as.character(packageVersion("mmrm")))
} else out$mmrm <- list(missing = "R package mmrm is not installed (not in Debian)")
if (requireNamespace("nlme", quietly = TRUE)) {
  d$vi <- as.integer(d$visit)
  t <- numeric(rep)
  for (i in seq_len(rep)) t[i] <- system.time(g <- nlme::gls(value ~ baseline + arm * visit,
       data = d, correlation = nlme::corSymm(form = ~ vi | id),
       weights = nlme::varIdent(form = ~ 1 | visit), method = "REML"))[["elapsed"]]
  out$gls <- list(seconds = median(t), logLik = as.numeric(logLik(g)), beta = unname(coef(g)),
                  version = as.character(packageVersion("nlme")))
}
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def simulate(participants: int, seed: int = 20261202) -> pd.DataFrame:
    """SIMULATED long data: baseline, two arms, 4 visits, unstructured-like covariance, 5 %
    missing visits."""
    rng = np.random.default_rng(seed)
    visits = 4
    sd = np.array([2.0, 2.2, 2.5, 3.0])
    corr = 0.6 ** np.abs(np.subtract.outer(np.arange(visits), np.arange(visits)))
    cov = np.outer(sd, sd) * corr
    arm = np.where(np.arange(participants) % 2 == 0, "sham", "dn")
    base = rng.normal(5, 1.5, participants)
    eff = np.where(arm == "dn", 1.0, 0.0)[:, None] * np.array([0.5, 0.8, 1.0, 1.2])
    y = 2 + 0.5 * base[:, None] - eff + rng.multivariate_normal(np.zeros(visits), cov,
                                                                 participants)
    keep = rng.random((participants, visits)) > 0.05
    ids, vis = np.nonzero(keep)
    return pd.DataFrame({"id": ids, "arm": arm[ids], "visit": vis + 1, "baseline": base[ids],
                         "value": y[ids, vis], "simulated": True})


def ours(data: pd.DataFrame, repeat: int) -> tuple[float, object]:
    from metaverdict.trials import mmrm

    times, fit = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = mmrm(data, "value ~ baseline + arm * visit", subject="id", visit="visit",
                   covariance="us", df="kenward-roger", arm="arm",
                   levels={"arm": ["sham", "dn"]})
        fit.coefficients, fit.lsmeans(), fit.arm_differences()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), fit


def peers(data: pd.DataFrame, repeat: int) -> dict[str, dict[str, object]]:
    if shutil.which("Rscript") is None:
        return {"R": {"missing": "Rscript not found"}}
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "simulated_mmrm.csv", Path(tmp) / "peer.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        run = subprocess.run(["Rscript", str(script), str(csv), str(repeat)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return {"R": {"missing": f"R failed: {run.stderr.strip().splitlines()[-1:]}"}}
        return json.loads(run.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100 participants, one repeat")
    args = ap.parse_args()
    n, rep = (100, 1) if args.quick else (args.participants, args.repeat)
    data = simulate(n)
    secs, fit = ours(data, rep)
    print(f"SIMULATED data: {n} participants x 4 visits ({len(data)} observations), us, REML, "
          "Kenward-Roger")
    print(f"metaverdict.trials.mmrm  {secs:8.3f} s  (target < 2 s; fit + coefficients + LS "
          "means + differences)")
    for name, res in peers(data, rep).items():
        if "missing" in res:
            print(f"{name:24s} not timed: {res['missing']}")
            continue
        line = f"{name + ' ' + str(res.get('version', '')):24s} {res['seconds']:8.3f} s"
        dll = abs(float(res["logLik"]) - fit.loglik)
        dbeta = float(np.max(np.abs(np.asarray(res["beta"], float) - fit.beta)))
        line += f"  ratio {float(res['seconds']) / secs:6.2f}x  |dlogLik| {dll:.1e}  "
        line += f"max|dbeta| {dbeta:.1e}"
        print(line)


if __name__ == "__main__":
    main()
