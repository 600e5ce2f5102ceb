# Reference values for metaverdict.models.selection (metafor's selmodel), written to
# selmodel_reference.json next to this script. Run from this directory:
#   Rscript selmodel_reference.R
# Every case fits an rma() model and then selmodel() with metafor's defaults (only the
# arguments shown). metafor's defaults stop BFGS at a relative change of 1e-8 in the
# log-likelihood and integrate() at a relative tolerance of 1.2e-4: on flat likelihoods (the
# continuous weight functions) the estimates stop up to ~3e-3 (relative) short of the maximum,
# while the step-function models (closed-form integrals) are at the maximum to ~1e-5. Tighter
# settings do not help in 3.8-1: control = list(reltol = 1e-12, maxit = 1000) fails to converge
# (integration noise) and an intCtrl entry in control makes selmodel() stop.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})

num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

out_sel <- function(sel, yi, vi, X = NULL, args) {
  list(
    args = args,
    data = list(yi = num(yi), vi = num(vi), X = if (is.null(X)) NULL else unname(as.data.frame(X)),
                ni = if (is.null(sel$ni)) NULL else num(sel$ni)),
    terms = rownames(sel$beta),
    beta = num(sel$beta), se = num(sel$se), zval = num(sel$zval), pval = num(sel$pval),
    ci_lb = num(sel$ci.lb), ci_ub = num(sel$ci.ub),
    tau2 = num(sel$tau2), se_tau2 = num(sel$se.tau2),
    ci_lb_tau2 = num(sel$ci.lb.tau2), ci_ub_tau2 = num(sel$ci.ub.tau2),
    delta = num(sel$delta), se_delta = num(sel$se.delta), zval_delta = num(sel$zval.delta),
    pval_delta = num(sel$pval.delta), ci_lb_delta = num(sel$ci.lb.delta),
    ci_ub_delta = num(sel$ci.ub.delta),
    LRT = num(sel$LRT), LRTdf = sel$LRTdf, LRTp = num(sel$LRTp),
    LRT_tau2 = num(sel$LRT.tau2), LRTp_tau2 = num(sel$LRTp.tau2),
    ll = num(sel$ll), ll0 = num(sel$ll0), QM = num(sel$QM), QMp = num(sel$QMp),
    fit_stats_ML = num(sel$fit.stats$ML), parms = sel$parms,
    steps = num(sel$steps), ptable = if (is.data.frame(sel$ptable)) sel$ptable$k else NULL,
    pvals = num(sel$pvals),
    warnings = NULL)
}

run <- function(res, yi, vi, X = NULL, ..., control = list()) {
  w <- character(0)
  sel <- withCallingHandlers(selmodel(res, ..., control = control),
                             warning = function(m) { w <<- c(w, conditionMessage(m)); invokeRestart("muffleWarning") })
  o <- out_sel(sel, yi, vi, X, list(...))
  o$warnings <- w
  o$method <- res$method
  o$control <- control
  o
}

cases <- list()

# Hackshaw (1998): environmental tobacco smoke and lung cancer (metafor's help page example)
dat <- dat.hackshaw1998
res <- rma(yi, vi, data = dat, method = "ML")
for (type in c("beta", "halfnorm", "negexp", "logistic", "power", "negexppow")) {
  cases[[paste0("hackshaw1998_", type)]] <- run(res, dat$yi, dat$vi, type = type)
}
cases[["hackshaw1998_stepfun"]] <- run(res, dat$yi, dat$vi, type = "stepfun",
                                       steps = c(.025, .10, .50, 1))
cases[["hackshaw1998_3psm"]] <- run(res, dat$yi, dat$vi, type = "stepfun", steps = .025)
cases[["hackshaw1998_stepfun_twosided"]] <- run(res, dat$yi, dat$vi, type = "stepfun",
                                                steps = c(.05, .20), alternative = "two.sided")
cases[["hackshaw1998_halfnorm_step05"]] <- run(res, dat$yi, dat$vi, type = "halfnorm", steps = .05)
cases[["hackshaw1998_negexp_twosided"]] <- run(res, dat$yi, dat$vi, type = "negexp",
                                               alternative = "two.sided")
# REML input: selmodel refits with ML (metafor's own test, test_misc_selmodel.r)
res_reml <- rma(yi, vi, data = dat)
cases[["hackshaw1998_stepfun_reml_input"]] <- run(res_reml, dat$yi, dat$vi, type = "stepfun",
                                                  steps = c(0.05, 0.10, 0.50, 1.00))

# Baskerville et al. (2012), Citkowicz & Vevea (2017): beta model, with the 'blind' moderator
dat <- dat.baskerville2012
res <- rma(smd, se^2, data = dat, method = "ML")
cases[["baskerville2012_beta"]] <- run(res, dat$smd, dat$se^2, type = "beta")
res <- rma(smd, se^2, data = dat, mods = ~ blind, method = "ML")
cases[["baskerville2012_beta_blind"]] <- run(res, dat$smd, dat$se^2, X = model.matrix(~ blind, data = dat),
                                             type = "beta")
cases[["baskerville2012_3psm_blind"]] <- run(res, dat$smd, dat$se^2, X = model.matrix(~ blind, data = dat),
                                             type = "stepfun", steps = .025)

# Preston et al. (2004) / Hahn et al. (2001): equal-effects model, alternative = "less"
dat <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hahn2001, drop00 = TRUE)
dat <- dat[!is.na(dat$yi), ]
res <- suppressWarnings(rma(yi, vi, data = dat, method = "EE"))
for (type in c("halfnorm", "negexp", "logistic", "power")) {
  cases[[paste0("hahn2001_EE_", type)]] <- run(res, dat$yi, dat$vi, type = type, alternative = "less")
}
res_re <- rma(yi, vi, data = dat, method = "ML")
cases[["hahn2001_3psm_less"]] <- run(res_re, dat$yi, dat$vi, type = "stepfun", steps = .025,
                                     alternative = "less")

# Vevea & Woods (2005) / Cohen (1981): step functions with a priori fixed weights
dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.cohen1981[c(1, 4, 5)])
res <- rma(yi, vi, data = dat, method = "ML")
steps <- c(0.005, 0.01, 0.05, 0.10, 0.25, 0.35, 0.50, 0.65, 0.75, 0.90, 0.95, 0.99, 0.995, 1)
cases[["cohen1981_mod1_fixed"]] <- run(res, dat$yi, dat$vi, type = "stepfun", steps = steps,
  delta = c(1, 0.99, 0.95, 0.80, 0.75, 0.65, 0.60, 0.55, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50))
cases[["cohen1981_sev2_fixed"]] <- run(res, dat$yi, dat$vi, type = "stepfun", steps = steps,
  delta = c(1, 0.99, 0.90, 0.75, 0.60, 0.50, 0.25, 0.25, 0.50, 0.60, 0.75, 0.90, 0.99, 1.00))

# prec= (metafor's measure of precision) and the undocumented '2' variants of the weight functions
dat <- dat.hackshaw1998
res <- rma(yi, vi, data = dat, method = "ML")
for (type in c("halfnorm", "negexp", "logistic", "power", "negexppow")) {
  cases[[paste0("hackshaw1998_", type, "_prec_sei")]] <- run(res, dat$yi, dat$vi, type = type, prec = "sei")
}
cases[["hackshaw1998_power_prec_vi"]] <- run(res, dat$yi, dat$vi, type = "power", prec = "vi")
for (type in c("halfnorm2", "negexp2", "logistic2", "power2")) {
  cases[[paste0("hackshaw1998_", type)]] <- run(res, dat$yi, dat$vi, type = type)
}
cases[["hackshaw1998_negexp2_prec_sei"]] <- run(res, dat$yi, dat$vi, type = "negexp2", prec = "sei")
dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.cohen1981[c(1, 4, 5)])
res <- rma(yi, vi, data = dat, method = "ML")
cases[["cohen1981_negexp_prec_ninv"]] <- run(res, dat$yi, dat$vi, type = "negexp", prec = "ninv")
cases[["cohen1981_halfnorm_prec_sqrtninv"]] <- run(res, dat$yi, dat$vi, type = "halfnorm", prec = "sqrtninv")

doc <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                  metadat = as.character(packageVersion("metadat")),
                  numDeriv = as.character(packageVersion("numDeriv")),
                  jsonlite = as.character(packageVersion("jsonlite")),
                  platform = R.version$platform),
  note = "selmodel() with metafor defaults; null = NA. Generated by selmodel_reference.R.",
  cases = cases)
writeLines(toJSON(doc, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "selmodel_reference.json")
