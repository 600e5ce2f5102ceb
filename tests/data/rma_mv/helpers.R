# Helpers shared by generate.R and extras.R (sourced from this folder).
ctrl <- list(rel.tol = 1e-11, iter.max = 5000, eval.max = 10000)
# tight nlminb tolerance where it converges; metafor's defaults otherwise (recorded per fit)
mv <- function(...) {
  cl <- match.call()
  cl[[1]] <- quote(rma.mv)
  cl$control <- ctrl
  res <- tryCatch(eval(cl, parent.frame()), error = function(e) NULL)
  tight <- !is.null(res)
  if (!tight) { cl$control <- NULL; res <- eval(cl, parent.frame()) }
  attr(res, "tight") <- tight
  res
}
versions <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")))
mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))

fit_out <- function(res) {
  out <- list(b = as.vector(res$beta), se = res$se, zval = res$zval, pval = res$pval,
              ci.lb = res$ci.lb, ci.ub = res$ci.ub, vb = mat(res$vb), terms = rownames(res$beta),
              sigma2 = res$sigma2, tau2 = res$tau2, rho = res$rho, gamma2 = res$gamma2,
              phi = res$phi, QE = res$QE, QEp = res$QEp, QM = res$QM, QMp = res$QMp,
              QMdf = res$QMdf, k = res$k, p = res$p, tight = attr(res, "tight"), method = res$method, test = res$test,
              ll = as.numeric(logLik(res)),
              fit.stats = list(ML = as.list(res$fit.stats[, "ML"]),
                               REML = as.list(res$fit.stats[, "REML"])))
  out$fit.stats <- lapply(out$fit.stats, function(s) setNames(s, c("ll", "dev", "AIC", "BIC", "AICc")))
  out[!sapply(out, is.null)]
}
ranef_out <- function(res) lapply(ranef(res), function(r) list(names = rownames(r),
                                  intrcpt = r$intrcpt, se = r$se))
infl_out <- function(res, cluster = NULL) {
  if (is.null(cluster)) {
    rs <- rstudent(res)
    list(cooks = as.vector(cooks.distance(res)), hat = as.vector(hatvalues(res)),
         dfbetas = mat(as.matrix(dfbetas(res))), rstudent = as.vector(rs$z),
         resid_deleted = as.vector(rs$resid), se_deleted = as.vector(rs$se))
  } else {
    list(cooks = as.vector(cooks.distance(res, cluster = cluster)),
         dfbetas = mat(as.matrix(dfbetas(res, cluster = cluster))))
  }
}
cr2_out <- function(res, cluster, constraints = NULL) {
  ct <- coef_test(res, vcov = "CR2", cluster = cluster, test = "Satterthwaite")
  out <- list(beta = ct$beta, SE = ct$SE, tstat = ct$tstat, df = ct$df_Satt, p = ct$p_Satt,
              vcov = mat(as.matrix(vcovCR(res, cluster = cluster, type = "CR2"))))
  if (!is.null(constraints)) {
    w <- Wald_test(res, constraints = constraints, vcov = "CR2", cluster = cluster, test = "HTZ")
    out$wald <- list(Fstat = w$Fstat, df_num = w$df_num, df_denom = w$df_denom, p = w$p_val)
  }
  out
}
confint_out <- function(res) {
  res$control <- list()            # profile refits at metafor's default tolerance
  ci <- confint(res)
  if (!is.null(ci$random)) ci <- list(ci)
  ci <- Filter(function(x) is.list(x) && !is.null(x$random), ci)
  lapply(unname(ci), function(x) list(names = rownames(x$random), estimate = x$random[, 1],
                                      ci.lb = x$random[, 2], ci.ub = x$random[, 3]))
}
save <- function(name, x) writeLines(toJSON(c(list(versions = versions), x), digits = NA,
                                            auto_unbox = TRUE, null = "null", na = "null"),
                                     paste0(name, ".json"))
