# metafor's side of bench/single.py: one meta-analysis, timed as metaverdict's is.
#
# Usage: Rscript bench/single_metafor.R DATA.csv REPEAT MIN_TIME
#   DATA.csv  columns yi, vi (written by bench/single.py)
#   REPEAT    repeats per timing (the minimum is kept)
#   MIN_TIME  seconds each repeat lasts at least (the loop length is doubled until it does)
# Prints one line of key=value pairs: the seconds per call of rma(method = "REML") (reml),
# rma(method = "DL") (dl) and the full analysis (full: rma, summary, confint, leave1out,
# influence, regtest, trimfill), the REML estimate and tau^2 (to check the data were read
# alike) and the metafor version.
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
repeats <- as.integer(args[2])
min_time <- as.numeric(args[3])
yi <- d$yi
vi <- d$vi

best_time <- function(f) {
  f()
  number <- 1
  repeat {
    elapsed <- system.time(for (i in seq_len(number)) f())[["elapsed"]]
    if (elapsed >= min_time) break
    number <- number * 2
  }
  times <- vapply(seq_len(repeats), function(r) {
    system.time(for (i in seq_len(number)) f())[["elapsed"]] / number
  }, numeric(1))
  min(times)
}

reml <- function() rma(yi, vi, method = "REML")
dl <- function() rma(yi, vi, method = "DL")
full <- function() {
  r <- rma(yi, vi, method = "REML")
  invisible(capture.output(print(summary(r))))
  list(confint(r), leave1out(r), influence(r), regtest(r), trimfill(r))
}

fit <- reml()
cat(sprintf("reml=%.9g dl=%.9g full=%.9g reml_estimate=%.17g reml_tau2=%.17g metafor=%s\n",
            best_time(reml), best_time(dl), best_time(full), fit$b[1], fit$tau2,
            as.character(packageVersion("metafor"))))
