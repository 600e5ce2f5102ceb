# Reference values for the univariate extras (fixed tau2, DLIT/SJIT, PL CIs for tau2,
# test="adhoc", permutation tests with stat="coef" and permutation CIs, cumulative analysis with
# tied order values entering together, Mantel-Haenszel / Peto leave-one-out, cumulative and
# standardized residuals, MH IRD, all-zero tables). Run: Rscript make_extras.R (writes extras.json)
suppressMessages({library(metafor); library(jsonlite)})
ctrl <- list(threshold = 1e-13, maxiter = 100000, tol = 1e-13, stepadj = 0.5)
cictrl <- list(tol = 1e-13, maxiter = 100000)
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }
fitout <- function(r) list(b = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval),
  ci.lb = num(r$ci.lb), ci.ub = num(r$ci.ub), tau2 = num(r$tau2), se.tau2 = num(r$se.tau2),
  I2 = num(r$I2), H2 = num(r$H2), QE = num(r$QE), s2w = num(r$s2w), QM = num(r$QM), QMp = num(r$QMp),
  pi.lb = num(predict(r)$pi.lb[1]), pi.ub = num(predict(r)$pi.ub[1]),
  ll.ML = num(r$fit.stats["ll", "ML"]), ll.REML = num(r$fit.stats["ll", "REML"]))
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
hack <- dat.hackshaw1998
molloy <- escalc("ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
  metadat = as.character(packageVersion("metadat")), jsonlite = as.character(packageVersion("jsonlite"))))
data_of <- function(d) list(yi = num(d$yi), vi = num(d$vi))
out$data <- list(bcg = c(data_of(bcg), list(ablat = bcg$ablat, year = bcg$year)), hackshaw = data_of(hack), molloy = data_of(molloy))

# 1. fixed tau2
fx <- list()
for (m in c("REML", "DL", "ML")) for (tst in c("z", "knha")) {
  fx[[paste(m, tst, "intercept", sep = "_")]] <- fitout(rma(yi, vi, data = bcg, method = m, test = tst, tau2 = 0.1))
  fx[[paste(m, tst, "ablat", sep = "_")]] <- fitout(rma(yi, vi, mods = ~ablat, data = bcg, method = m, test = tst, tau2 = 0.05))
}
out$fixed_tau2 <- fx
# 2. DLIT / SJIT
it <- list()
for (m in c("DLIT", "SJIT")) {
  it[[paste0(m, "_bcg")]] <- fitout(rma(yi, vi, data = bcg, method = m, control = ctrl))
  it[[paste0(m, "_bcg_ablat")]] <- fitout(rma(yi, vi, mods = ~ablat, data = bcg, method = m, control = ctrl))
  it[[paste0(m, "_molloy")]] <- fitout(rma(yi, vi, data = molloy, method = m, control = ctrl))
}
it[["SJIT_hackshaw"]] <- fitout(rma(yi, vi, data = hack, method = "SJIT", control = ctrl))
# the DLIT iteration does not settle for these data (metafor stops with an error)
it[["DLIT_hackshaw"]] <- list(error = as.character(try(rma(yi, vi, data = hack, method = "DLIT", control = ctrl), silent = TRUE)))
out$iterative <- it
# 3. profile-likelihood CIs
pl <- list()
ci_rows <- function(ci) { r <- ci$random; list(tau2 = num(r[1, ]), tau = num(r[2, ]), I2 = num(r[3, ]), H2 = num(r[4, ])) }
for (m in c("ML", "REML")) {
  pl[[paste0(m, "_bcg")]] <- ci_rows(confint(rma(yi, vi, data = bcg, method = m, control = ctrl), type = "PL", control = cictrl))
  pl[[paste0(m, "_bcg_ablat")]] <- ci_rows(confint(rma(yi, vi, mods = ~ablat, data = bcg, method = m, control = ctrl), type = "PL", control = cictrl))
  pl[[paste0(m, "_hackshaw")]] <- ci_rows(confint(rma(yi, vi, data = hack, method = m, control = ctrl), type = "PL", control = cictrl))
  pl[[paste0(m, "_bcg_90")]] <- ci_rows(confint(rma(yi, vi, data = bcg, method = m, control = ctrl, level = 90), type = "PL", control = cictrl))
}
out$profile_ci <- pl
# 4. adhoc
ah <- list()
for (m in c("DL", "REML")) {
  ah[[paste0(m, "_bcg")]] <- fitout(rma(yi, vi, data = bcg, method = m, test = "adhoc", control = ctrl))
  ah[[paste0(m, "_bcg_ablat")]] <- fitout(rma(yi, vi, mods = ~ablat, data = bcg, method = m, test = "adhoc", control = ctrl))
  ah[[paste0(m, "_hackshaw")]] <- fitout(rma(yi, vi, data = hack, method = m, test = "adhoc", control = ctrl))
  ah[[paste0(m, "_hackshaw_knha")]] <- fitout(rma(yi, vi, data = hack, method = m, test = "knha", control = ctrl))
}
out$adhoc <- ah
# 5. permutation tests (exact: k = 6)
b6 <- bcg[1:6, ]
pm <- list()
perm_out <- function(p) list(pval = num(p$pval), QMp = num(p$QMp), ci.lb = num(p$ci.lb), ci.ub = num(p$ci.ub))
pctrl <- function(stat) list(stat = stat, tol = 1e-12, maxiter = 1000)
for (m in c("DL", "REML")) for (stat in c("test", "coef")) {
  r0 <- rma(yi, vi, data = b6, method = m, control = ctrl)
  pm[[paste(m, stat, "intercept", sep = "_")]] <- perm_out(permutest(r0, exact = TRUE, permci = TRUE, progbar = FALSE, control = pctrl(stat)))
  r1 <- rma(yi, vi, mods = ~ablat, data = b6, method = m, control = ctrl)
  pm[[paste(m, stat, "ablat", sep = "_")]] <- perm_out(permutest(r1, exact = TRUE, permci = TRUE, progbar = FALSE, control = pctrl(stat)))
}
r2 <- rma(yi, vi, data = b6, method = "REML", test = "knha", control = ctrl)
pm[["REML_test_intercept_knha"]] <- perm_out(permutest(r2, exact = TRUE, permci = TRUE, progbar = FALSE, control = pctrl("test")))
out$permutation <- pm
# 6. cumulative with ties entering together (order = year; 1973 twice): refit on year <= u
cu <- list()
for (m in c("DL", "REML")) {
  us <- sort(unique(bcg$year)); rows <- list()
  for (u in us) { r <- rma(yi, vi, data = bcg[bcg$year <= u, ], method = m, control = ctrl)
    rows[[length(rows) + 1]] <- c(u, r$beta, r$se, r$ci.lb, r$ci.ub, r$tau2, r$QE, r$I2, r$k) }
  mat <- do.call(rbind, rows)
  cu[[m]] <- list(year = mat[, 1], estimate = mat[, 2], se = mat[, 3], ci.lb = mat[, 4], ci.ub = mat[, 5],
                  tau2 = mat[, 6], Q = mat[, 7], I2 = mat[, 8], k = mat[, 9])
}
out$cumul_collapse <- cu
# 7. MH / Peto leave1out, cumul, rstandard
l1 <- function(x) list(estimate = num(x$estimate), se = num(x$se), zval = num(x$zval), pval = num(x$pval),
  ci.lb = num(x$ci.lb), ci.ub = num(x$ci.ub), Q = num(x$Q), Qp = num(x$Qp), I2 = num(x$I2), H2 = num(x$H2))
rs <- function(x) list(resid = num(x$resid), se = num(x$se), z = num(x$z))
mh <- list()
li <- dat.li2007
li <- li[complete.cases(li[, c("ai", "n1i", "ci", "n2i")]), ]
out$data$li2007 <- list(ai = li$ai, n1i = li$n1i, ci = li$ci, n2i = li$n2i)
out$data$bcg_tables <- list(ai = dat.bcg$tpos, bi = dat.bcg$tneg, ci = dat.bcg$cpos, di = dat.bcg$cneg, year = dat.bcg$year)
for (ms in c("OR", "RR", "RD")) {
  r <- rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg, measure = ms)
  mh[[paste0("bcg_", ms)]] <- list(leave1out = l1(leave1out(r)), cumul = l1(cumul(r, order = dat.bcg$year)), rstandard = rs(rstandard(r)))
  r <- rma.mh(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li, measure = ms)
  mh[[paste0("li2007_", ms)]] <- list(leave1out = l1(leave1out(r)), cumul = l1(cumul(r)), rstandard = rs(rstandard(r)))
}
r <- rma.peto(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
mh[["bcg_peto"]] <- list(leave1out = l1(leave1out(r)), cumul = l1(cumul(r, order = dat.bcg$year)), rstandard = rs(rstandard(r)))
r <- rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li)
mh[["li2007_peto"]] <- list(leave1out = l1(leave1out(r)), cumul = l1(cumul(r)), rstandard = rs(rstandard(r)))
hart <- dat.hart1999
out$data$hart1999 <- list(x1i = hart$x1i, t1i = hart$t1i, x2i = hart$x2i, t2i = hart$t2i)
for (ms in c("IRR", "IRD")) {
  r <- rma.mh(x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = hart, measure = ms)
  mh[[paste0("hart_", ms)]] <- list(fit = list(b = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval),
    ci.lb = num(r$ci.lb), ci.ub = num(r$ci.ub), QE = num(r$QE), QEp = num(r$QEp), I2 = num(r$I2), H2 = num(r$H2),
    k.yi = r$k.yi, yi = num(r$yi.f), vi = num(r$vi.f), MH = num(r$MH), MHp = num(r$MHp)),
    leave1out = l1(leave1out(r)), cumul = l1(cumul(r)), rstandard = rs(rstandard(r)))
}
out$mh <- mh
# 9. all-zero tables
z <- data.frame(ai = c(0, 0, 0), n1i = c(10, 20, 15), ci = c(0, 0, 0), n2i = c(12, 18, 16))
out$data$zero <- as.list(z)
zz <- list()
for (ms in c("OR", "RR", "RD")) {
  r <- try(rma.mh(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = z, measure = ms), silent = TRUE)
  zz[[paste0("mh_", ms)]] <- if (inherits(r, "try-error")) list(error = as.character(r)) else
    list(b = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval), ci.lb = num(r$ci.lb), ci.ub = num(r$ci.ub),
         QE = num(r$QE), QEp = num(r$QEp), I2 = num(r$I2), H2 = num(r$H2), k.yi = r$k.yi)
}
r <- try(rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = z), silent = TRUE)
zz[["peto"]] <- if (inherits(r, "try-error")) list(error = as.character(r)) else
    list(b = num(r$beta), se = num(r$se), zval = num(r$zval), pval = num(r$pval), QE = num(r$QE), k.yi = r$k.yi)
out$zero <- zz
# refits keep a fixed tau2 (leave1out / cumul pass tau2 on) and the DLIT estimator
l1u <- function(x) c(l1(x), list(tau2 = num(x$tau2)))
rf <- list()
r <- rma(yi, vi, data = bcg, tau2 = 0.1)
rf$fixed_leave1out <- l1u(leave1out(r))
rf$fixed_cumul <- l1u(cumul(r, order = bcg$year))
r <- rma(yi, vi, data = bcg, method = "DLIT", control = ctrl)
rf$DLIT_leave1out <- l1u(leave1out(r))
rf$SJIT_leave1out <- l1u(leave1out(rma(yi, vi, data = bcg, method = "SJIT", control = ctrl)))
out$refits <- rf
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", null = "null"), "extras.json")
