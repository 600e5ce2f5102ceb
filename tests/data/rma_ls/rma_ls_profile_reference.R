# Reference values for mv.likelihood_profile of location-scale models (metafor's
# profile.rma.ls: the log-likelihood with one scale coefficient fixed, the others and the
# location coefficients re-estimated), written to rma_ls_profile_reference.json next to this
# script:  Rscript rma_ls_profile_reference.R
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }
prof <- function(res, ...) {
  pr <- profile(res, ..., progbar = FALSE, plot = FALSE)
  list(x = num(pr[[1]]), ll = num(pr$ll), beta = num(pr$beta[[1]]), ci.lb = num(pr$ci.lb[[1]]),
       ci.ub = num(pr$ci.ub[[1]]), vc = num(pr$vc), maxll = num(pr$maxll))
}
dat <- dat.bangertdrowns2004
dat$ni100 <- dat$ni / 100
dat <- dat[!is.na(dat$yi), ]
reml <- rma(yi, vi, mods = ~ ni100, scale = ~ ni100, data = dat)
ml <- rma(yi, vi, scale = ~ ni100, data = dat, method = "ML")
out <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
  data = list(yi = num(dat$yi), vi = num(dat$vi), ni100 = num(dat$ni100)),
  reml_alpha1 = prof(reml, alpha = 1, steps = 6),
  reml_alpha2 = prof(reml, alpha = 2, steps = 5, xlim = c(-2, 0.5)),
  ml_alpha2 = prof(ml, alpha = 2, steps = 6))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
           "rma_ls_profile_reference.json")
