# Reference values for selection models fitted to a fit with fixed tau^2, their likelihood
# profiles (profile.rma.uni.selmodel) and profile-likelihood CIs (confint), written to
# selmodel_extras.json. Run from this directory:  Rscript selmodel_extras.R
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }
prof <- function(sel, ...) {
  pr <- profile(sel, ..., progbar = FALSE, plot = FALSE)
  list(x = num(pr[[1]]), ll = num(pr$ll), beta = num(pr$beta[[1]]), ci.lb = num(pr$ci.lb[[1]]),
       ci.ub = num(pr$ci.ub[[1]]), vc = num(pr$vc), maxll = num(pr$maxll))
}
ci <- function(sel) {
  out <- confint(sel)
  if (!is.null(out$random)) out <- list(out)
  out <- Filter(function(o) is.list(o) && !is.null(o$random), out)
  lapply(unname(out), function(o)
    list(name = rownames(o$random)[1], estimate = num(o$random[1, 1]),
         ci.lb = num(o$random[1, 2]), ci.ub = num(o$random[1, 3])))
}
fit_out <- function(sel) list(beta = num(sel$beta), se = num(sel$se), tau2 = num(sel$tau2),
                              delta = num(sel$delta), se.delta = num(sel$se.delta),
                              LRT = num(sel$LRT), ll = num(sel$ll), ll0 = num(sel$ll0),
                              parms = sel$parms, fit.stats = num(sel$fit.stats$ML))

dat <- dat.hackshaw1998
res <- rma(yi, vi, data = dat, method = "ML")
step <- selmodel(res, type = "stepfun", steps = c(0.05, 0.10, 0.50, 1))
psm <- selmodel(res, type = "stepfun", steps = 0.025)
fixed <- rma(yi, vi, data = dat, tau2 = 0.02)
psm_fixed <- selmodel(fixed, type = "stepfun", steps = 0.025)
bas <- dat.baskerville2012
beta <- selmodel(rma(smd, se^2, data = bas, method = "ML"), type = "beta")
out <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
  hackshaw = list(yi = num(dat$yi), vi = num(dat$vi)),
  baskerville = list(yi = num(bas$smd), vi = num(bas$se^2)),
  psm_fixed_tau2 = fit_out(psm_fixed),
  step_confint = ci(step), psm_confint = ci(psm),
  psm_profile_tau2 = prof(psm, tau2 = 1, steps = 6),
  psm_profile_delta = prof(psm, delta = 2, steps = 6),
  step_profile_delta3 = prof(step, delta = 3, steps = 5, xlim = c(0.2, 3)),
  beta_profile_delta1 = prof(beta, delta = 1, steps = 5))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
           "selmodel_extras.json")
