# Reference values for metaverdict.report.plots.supsmu.super_smoother (R's stats::supsmu),
# written to supsmu_reference.json next to this script:  Rscript supsmu_reference.R
# SIMULATED inputs (seeded below): smooth curves with noise, ties, weights; and metafor's use,
# the envelope of qqnorm.rma.uni (its lower and upper bounds against the normal quantiles).
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
set.seed(20261203)
cases <- list()
add <- function(name, x, y, wt = NULL, ...) {
  s <- if (is.null(wt)) supsmu(x, y, ...) else supsmu(x, y, wt = wt, ...)
  cases[[name]] <<- list(x = x, y = y, wt = wt, args = list(...), out_x = s$x, out_y = s$y)
}
x <- sort(runif(13, -2, 2)); add("n13_cv", x, sin(x) + rnorm(13, 0, 0.3))
x <- runif(60, 0, 10); y <- sin(x) + rnorm(60, 0, 0.4)
add("n60_cv", x, y); add("n60_bass5", x, y, bass = 5); add("n60_span03", x, y, span = 0.3)
add("n60_weights", x, y, wt = runif(60, 0.2, 3))
x <- round(runif(200, 0, 5), 1); add("n200_ties", x, x^2 / 5 + rnorm(200))
x <- 1:8; add("n8_line", x, 2 * x + rnorm(8, 0, 0.01))
# the middle half of x tied: the quartile-based scale widens until it is positive
x <- c(1:3, rep(5, 14), 8:10); add("n20_tied_quartiles", x, x / 2 + rnorm(20, 0, 0.2))
# a point whose neighbours have weight 0: in the narrowest window it is alone (leverage 1),
# and its cross-validated residual is carried over from the point before
x <- sort(runif(30, 0, 3)); add("n30_isolated_weight", x, cos(x) + rnorm(30, 0, 0.2),
                                wt = c(rep(1, 12), 0, 0, 1, 0, 0, rep(1, 13)))
# metafor's envelope (qqnorm.rma.uni, reps = 1000, seed = 1234): the bounds it smooths
res <- rma(yi, vi, data = escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg,
                                 data = dat.bcg))
set.seed(1234)
dat <- matrix(rnorm(res$k * 1000), nrow = res$k, ncol = 1000)
H <- hatvalues(res, type = "matrix")
ImH <- diag(res$k) - H
ei <- apply(ImH %*% dat, 2, sort)
lb <- apply(ei, 1, quantile, 0.025); ub <- apply(ei, 1, quantile, 0.975)
q <- qqnorm(lb, plot.it = FALSE); add("bcg_envelope_lower", q$x, q$y)
q <- qqnorm(ub, plot.it = FALSE); add("bcg_envelope_upper", q$x, q$y)
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            simulated = TRUE, note = "SIMULATED inputs (seed 20261203 and 1234); supsmu() outputs",
            cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), "supsmu_reference.json")
