# Reference values for metaverdict.models.glmm (metafor rma.glmm).
# Run from this directory:  Rscript make_glmm_reference.R   -> writes glmm_reference.json
suppressPackageStartupMessages({library(metafor); library(metadat); library(jsonlite)})

num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

fit_case <- function(id, data_name, args, data) {
  fit <- tryCatch(suppressWarnings(do.call(rma.glmm, c(args, list(data = data)))),
                  error = function(e) e)
  call_txt <- paste0("rma.glmm(", paste(names(args), sapply(args, function(a)
    paste(deparse(a), collapse = "")), sep = "=", collapse = ", "), ", data=", data_name, ")")
  if (inherits(fit, "error")) return(list(id = id, dataset = data_name, call = call_txt,
                                          error = conditionMessage(fit)))
  fs <- fit$fit.stats
  list(id = id, dataset = data_name, call = call_txt,
       measure = fit$measure, model = fit$model, k = fit$k, p = fit$p,
       terms = I(rownames(fit$beta)),
       b = I(num(fit$beta)), se = I(num(fit$se)), zval = I(num(fit$zval)), pval = I(num(fit$pval)),
       ci.lb = I(num(fit$ci.lb)), ci.ub = I(num(fit$ci.ub)), vb = I(unname(as.matrix(fit$vb))),
       tau2 = num(fit$tau2), se.tau2 = num(fit$se.tau2), sigma2 = num(fit$sigma2),
       rho = num(fit$rho), I2 = num(fit$I2), H2 = num(fit$H2), vt = num(fit$vt),
       QE.Wld = num(fit$QE.Wld), QEp.Wld = num(fit$QEp.Wld),
       QE.LRT = num(fit$QE.LRT), QEp.LRT = num(fit$QEp.LRT), QE.df = num(fit$QE.df),
       QM = num(fit$QM), QMp = num(fit$QMp), QMdf = I(num(fit$QMdf)),
       fit.stats = list(ll = num(fs["ll", "ML"]), dev = num(fs["dev", "ML"]),
                        AIC = num(fs["AIC", "ML"]), BIC = num(fs["BIC", "ML"]),
                        AICc = num(fs["AICc", "ML"])))
}

bcg <- dat.bcg
niel <- dat.nielweise2007
hart <- dat.hart1999
pritz <- dat.pritz1997
or_bcg <- list(measure = "OR", ai = quote(tpos), bi = quote(tneg), ci = quote(cpos), di = quote(cneg))
or_niel <- list(measure = "OR", ai = quote(ai), n1i = quote(n1i), ci = quote(ci), n2i = quote(n2i))
irr_hart <- list(measure = "IRR", x1i = quote(x1i), t1i = quote(t1i), x2i = quote(x2i), t2i = quote(t2i))

cases <- list(
  fit_case("bcg_OR_UMFS", "dat.bcg", c(or_bcg, model = "UM.FS"), bcg),
  fit_case("bcg_OR_UMFS_nAGQ1", "dat.bcg", c(or_bcg, model = "UM.FS", nAGQ = 1), bcg),
  fit_case("bcg_OR_UMFS_ablat", "dat.bcg", c(or_bcg, model = "UM.FS", mods = quote(~ ablat)), bcg),
  fit_case("bcg_OR_UMFS_EE", "dat.bcg", c(or_bcg, model = "UM.FS", method = "EE"), bcg),
  fit_case("bcg_OR_UMRS", "dat.bcg", c(or_bcg, model = "UM.RS"), bcg),
  fit_case("bcg_OR_UMRS_cor", "dat.bcg", c(or_bcg, model = "UM.RS", cor = TRUE), bcg),
  fit_case("bcg_OR_CMEL", "dat.bcg", c(or_bcg, model = "CM.EL"), bcg),
  fit_case("bcg_OR_CMEL_ablat", "dat.bcg", c(or_bcg, model = "CM.EL", mods = quote(~ ablat)), bcg),
  fit_case("bcg_OR_CMEL_EE", "dat.bcg", c(or_bcg, model = "CM.EL", method = "EE"), bcg),
  fit_case("bcg_OR_CMAL", "dat.bcg", c(or_bcg, model = "CM.AL"), bcg),
  fit_case("bcg_OR_CMAL_ablat", "dat.bcg", c(or_bcg, model = "CM.AL", mods = quote(~ ablat)), bcg),
  fit_case("niel_OR_UMFS", "dat.nielweise2007", c(or_niel, model = "UM.FS"), niel),
  fit_case("niel_OR_UMRS", "dat.nielweise2007", c(or_niel, model = "UM.RS"), niel),
  fit_case("niel_OR_CMEL", "dat.nielweise2007", c(or_niel, model = "CM.EL"), niel),
  fit_case("niel_OR_CMAL", "dat.nielweise2007", c(or_niel, model = "CM.AL"), niel),
  fit_case("hart_IRR_UMFS", "dat.hart1999", c(irr_hart, model = "UM.FS"), hart),
  fit_case("hart_IRR_UMRS", "dat.hart1999", c(irr_hart, model = "UM.RS"), hart),
  fit_case("niel_OR_UMFS_coding1", "dat.nielweise2007", c(or_niel, model = "UM.FS", coding = 1), niel),
  fit_case("pritz_PLO_EE", "dat.pritz1997", list(measure = "PLO", xi = quote(xi), ni = quote(ni), method = "EE"), pritz),
  fit_case("hart_IRR_CMEL", "dat.hart1999", c(irr_hart, model = "CM.EL"), hart),
  fit_case("hart_IRLN", "dat.hart1999", list(measure = "IRLN", xi = quote(x1i), ti = quote(t1i)), hart),
  fit_case("pritz_PLO", "dat.pritz1997", list(measure = "PLO", xi = quote(xi), ni = quote(ni)), pritz),
  fit_case("pritz_PLO_nAGQ1", "dat.pritz1997", list(measure = "PLO", xi = quote(xi), ni = quote(ni), nAGQ = 1), pritz)
)
names(cases) <- sapply(cases, `[[`, "id")

# The objective functions themselves, at fixed parameters (no optimiser involved):
# lme4's stage-2 deviance (adaptive Gauss-Hermite, nAGQ = 7) and metafor's CM.EL -log-likelihood.
glmer_dev <- function(formula, data, theta, beta, nAGQ) {
  glmod <- glFormula(formula, data = data, family = binomial)
  f <- do.call(mkGlmerDevfun, glmod)
  opt <- optimizeGlmer(f)
  f <- updateGlmerDevfun(f, glmod$reTrms, nAGQ = nAGQ)
  f(c(theta, beta))
}
suppressPackageStartupMessages(library(lme4))
pr <- data.frame(xi = pritz$xi, mi = pritz$ni - pritz$xi, study = factor(seq_len(nrow(pritz))))
nw <- niel[!(niel$ai == 0 & niel$ci == 0), ]
kn <- nrow(nw)
nwl <- data.frame(xi = c(rbind(nw$ai, nw$ci)), mi = c(rbind(nw$n1i - nw$ai, nw$n2i - nw$ci)),
                  group1 = rep(c(1, 0), kn), group = rep(c(1/2, -1/2), kn),
                  study = factor(rep(seq_len(kn), each = 2)))
niel_alpha <- -3 + 0.1 * seq_len(kn)
objectives <- list(
  pritz_PLO_dev = list(note = "lme4 deviance, cbind(xi, ni - xi) ~ 1 + (1 | study), nAGQ = 7",
    points = lapply(list(c(0.75, 1.37), c(0.8, 1.30), c(0.3, 1.0)), function(x)
      list(theta = x[1], beta = x[2],
           deviance = glmer_dev(cbind(xi, mi) ~ 1 + (1 | study), pr, x[1], x[2], 7)))),
  niel_UMFS_dev = list(note = paste("lme4 deviance, UM.FS: cbind(xi, mi) ~ -1 + group1 + study + (group - 1 | study),",
                                    "nAGQ = 7, studies without events dropped; study intercepts alpha_i = -3 + 0.1 i"),
    points = lapply(list(c(0.5, -1.2), c(1.0, -0.8)), function(x)
      list(theta = x[1], beta = x[2], alpha = niel_alpha,
           deviance = glmer_dev(cbind(xi, mi) ~ -1 + group1 + study + (group - 1 | study), nwl,
                                x[1], c(x[2], niel_alpha), 7)))),
  bcg_CMEL_nll = list(note = "metafor:::.dnchg(random = TRUE): -sum log integral of dFNCHypergeo x dnorm (integrate())",
    points = lapply(list(c(-0.75, 0.3), c(-0.5, 0.1), c(-1, 1)), function(x)
      list(beta = x[1], tau2 = x[2],
           nll = metafor:::.dnchg(c(x[1], log(x[2])), ai = bcg$tpos, bi = bcg$tneg, ci = bcg$cpos,
                                  di = bcg$cneg, X.fit = cbind(rep(1, nrow(bcg))), random = TRUE,
                                  dnchgcalc = "dFNCHypergeo", dnchgprec = 1e-10,
                                  intCtrl = list(lower = -Inf, upper = Inf, subdivisions = 100L,
                                                 rel.tol = .Machine$double.eps^0.25))))))

datasets <- list(dat.bcg = bcg[, c("trial", "tpos", "tneg", "cpos", "cneg", "ablat")],
                 dat.nielweise2007 = niel[, c("study", "ai", "n1i", "ci", "n2i")],
                 dat.hart1999 = hart[, c("trial", "x1i", "t1i", "x2i", "t2i")],
                 dat.pritz1997 = pritz[, c("study", "xi", "ni")],
                 dat.nielweise2008 = dat.nielweise2008[, c("study", "x1i", "t1i", "x2i", "t2i")])
out <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                  metadat = as.character(packageVersion("metadat")),
                  lme4 = as.character(packageVersion("lme4")),
                  BiasedUrn = as.character(packageVersion("BiasedUrn")),
                  numDeriv = as.character(packageVersion("numDeriv")),
                  platform = R.version$platform),
  note = "rma.glmm() with metafor defaults (nAGQ=7, coding=1/2, lme4 defaults) unless the call says otherwise; fit.stats are the ML column",
  datasets = datasets, cases = cases, objectives = objectives)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
           "glmm_reference.json")
