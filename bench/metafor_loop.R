# Time a loop of metafor::rma() fits, one per analysis, and write estimate and tau^2.
#
# Usage: Rscript bench/metafor_loop.R INPUT.csv OUTPUT.csv METHOD CONTROL [BUDGET]
#   INPUT.csv   columns analysis_id, yi, vi (rows of an analysis contiguous)
#   OUTPUT.csv  columns analysis_id, estimate, tau2 (NA where rma() failed or was not reached)
#   METHOD      an rma() method ("DL", "REML", "PM", ...)
#   CONTROL     "default" (rma() defaults) or "tight" (threshold = 1e-10, maxiter = 1000)
#   BUDGET      seconds: stop starting new fits after this long (default: no limit)
# Prints one line: elapsed=<s> user=<s> n=<fits attempted> failed=<n> vmhwm_kb=<peak RSS>
# Only the rma() loop is timed (proc.time), not reading the CSV or splitting it.
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
method <- args[3]
tight <- args[4] == "tight"
budget <- if (length(args) >= 5) as.numeric(args[5]) else Inf
ctrl <- if (tight) list(threshold = 1e-10, maxiter = 1000) else list()
ids <- unique(d$analysis_id)
ys <- split(d$yi, factor(d$analysis_id, levels = ids))
vs <- split(d$vi, factor(d$analysis_id, levels = ids))
n <- length(ids)
est <- rep(NA_real_, n)
tau2 <- rep(NA_real_, n)

done <- 0
t0 <- proc.time()
for (i in seq_len(n)) {
  if ((proc.time() - t0)[["elapsed"]] > budget) break
  done <- i
  fit <- tryCatch(rma(ys[[i]], vs[[i]], method = method, control = ctrl), error = function(e) NULL)
  if (!is.null(fit)) {
    est[i] <- fit$b[1]
    tau2[i] <- fit$tau2
  }
}
t1 <- proc.time() - t0

write.csv(data.frame(analysis_id = ids, estimate = est, tau2 = tau2)[seq_len(done), ],
          args[2], row.names = FALSE)
status <- readLines("/proc/self/status")
hwm <- sub("VmHWM:\\s*([0-9]+) kB", "\\1", grep("^VmHWM", status, value = TRUE))
cat(sprintf("elapsed=%.6f user=%.6f n=%d failed=%d vmhwm_kb=%s\n",
            t1[["elapsed"]], t1[["user.self"]], done, sum(is.na(est[seq_len(done)])), hwm))
