# Reference values for metaverdict's fail_safe_n(kind = "Binomial" / "General" and
# Rosenthal with pool = "fisher"), the fsn() types of metafor >= 4.0 that the metafor 3.8-1 /
# 5.0-1 reference fixtures do not contain (metafor 5 is not installable here).
#
# The definitions follow metafor 5's documentation and R/fsn.r (wviechtb/metafor): the
# p-values come from R (binom.test, pchisq, pnorm), the random-effects fits from metafor's
# rma() (version recorded below; its rma.uni REML fit is identical in 3.8-1 and 5.0-1). The
# General type is metafor's approximate version (exact = FALSE), and its fail-safe N is
# written as "the smallest whole N at which the criterion is met" (a plain search over N here;
# metafor runs uniroot over real N, which can land one above).
#
# Run from the repository root:  Rscript tests/data/fsn/fsn_reference.R
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
ctl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-13, stepadj = 0.5)
cases <- c("dat.bcg__RR", "dat.raudenbush1985__GEN", "dat.hackshaw1998__GEN",
           "dat.normand1999__SMD", "dat.mcdaniel1994__ZCOR")

binomial_fsn <- function(yi, alpha = 0.05) {
  k <- length(yi); kpos <- sum(yi > 0)
  pval <- binom.test(kpos, k)$p.value
  n <- 0
  while (binom.test(kpos + n / 2, k + n)$p.value < alpha) n <- n + 2
  list(fsnum = n, pval = pval)
}

fisher_fsn <- function(yi, vi, alpha = 0.05) {
  k <- length(yi)
  pi <- pnorm(abs(yi / sqrt(vi)), lower.tail = FALSE)
  f <- function(n) pchisq(-2 * (sum(log(pi)) + n * log(0.5)), df = 2 * (k + n),
                          lower.tail = FALSE) - alpha
  pval <- f(0) + alpha
  n <- if (pval >= alpha) 0 else uniroot(f, c(0, 50 * k), extendInt = "upX", tol = 1e-12)$root
  list(fsnum = ceiling(n), pval = pval)
}

general_after <- function(n, yi, vi, fit, mumiss, weighted) {
  k <- length(yi); est <- c(fit$beta); tau2 <- fit$tau2; vt <- 1 / mean(1 / vi)
  if (n == 0) return(c(est, tau2, fit$pval))
  m <- (k * est + n * mumiss) / (k + n)
  t2 <- max(0, ((k - 1) * tau2 + max(0, n - 1) * tau2 + k * (est - m)^2 +
                n * (mumiss - m)^2) / (k + n - 1))
  if (weighted) {
    w <- 1 / (vi + t2); wt <- 1 / (vt + t2)
    new <- (sum(w * yi) + n * wt * mumiss) / (sum(w) + n * wt)
    z <- new / sqrt(1 / (sum(w) + n * wt))
  } else {
    new <- (sum(yi) + n * mumiss) / (k + n)
    z <- (k + n) * new / sqrt(sum(vi + t2) + n * (vt + t2))
  }
  c(new, t2, 2 * pnorm(abs(z), lower.tail = FALSE))
}

general_fsn <- function(yi, vi, alpha = 0.05, target = NULL, weighted = TRUE,
                        method = "REML", mumiss = 0) {
  fit <- rma(yi, vi, method = method, weighted = weighted, control = ctl)
  ok <- function(n) {
    a <- general_after(n, yi, vi, fit, mumiss, weighted)
    if (is.null(target)) a[3] >= alpha else abs(a[1]) <= abs(target)
  }
  n <- 0
  while (!ok(n)) n <- n + 1
  a <- general_after(n, yi, vi, fit, mumiss, weighted)
  list(fsnum = n, est = c(fit$beta), tau2 = fit$tau2, pval = fit$pval,
       est.fsn = a[1], tau2.fsn = a[2], pval.fsn = a[3])
}

out <- list()
for (cid in cases) {
  case <- fromJSON(file.path("tests/data/metafor", paste0(cid, ".json")))
  yi <- case$data$yi; vi <- case$data$vi
  est <- c(rma(yi, vi, method = "REML", control = ctl)$beta)
  out[[cid]] <- list(
    Binomial = binomial_fsn(yi),
    Rosenthal_fisher = fisher_fsn(yi, vi),
    General_REML = general_fsn(yi, vi),
    General_DL_unweighted = general_fsn(yi, vi, method = "DL", weighted = FALSE),
    General_REML_target = c(general_fsn(yi, vi, target = est / 3), list(target = est / 3)),
    General_REML_mumiss = c(general_fsn(yi, vi, mumiss = -est / 4), list(mumiss = -est / 4)))
}
res <- list(versions = list(R = R.version.string,
                            metafor = as.character(packageVersion("metafor")),
                            jsonlite = as.character(packageVersion("jsonlite"))),
            generated_by = "tests/data/fsn/fsn_reference.R", alpha = 0.05, cases = out)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/data/fsn/fsn_reference.json")
