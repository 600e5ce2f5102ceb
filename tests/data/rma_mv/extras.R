# Reference values for rma.mv's fixed variance components and dfs = "contain", and vcalc's
# rvars= (tests/models/test_multivariate_extras.py). Run from this folder: Rscript extras.R
suppressMessages({library(metafor); library(jsonlite)})
source("helpers.R")
ddf_out <- function(res) c(fit_out(res), list(ddf = unname(res$ddf)))

## Konstantopoulos (2011): schools within districts
kon <- dat.konstantopoulos2011
kon$x <- kon$year - 1990
kon$dgrp <- as.numeric(kon$district) %% 3
fx1 <- mv(yi, vi, random = ~ 1 | district/school, data = kon, sigma2 = c(NA, 0.03))
# the influence refits at metafor's default tolerance (at rel.tol 1e-11 some refits stop
# with a convergence error, which metafor reports as NA)
fx1_loose <- rma.mv(yi, vi, random = ~ 1 | district/school, data = kon, sigma2 = c(NA, 0.03))
fx2 <- mv(yi, vi, mods = ~ x, random = ~ 1 | district/school, data = kon, method = "ML",
          sigma2 = c(0.05, NA))
fx3 <- mv(yi, vi, random = ~ 1 | district/school, data = kon, sigma2 = c(0.05, 0.02))
ct1 <- mv(yi, vi, mods = ~ x, random = ~ 1 | district/school, data = kon, dfs = "contain")
ct2 <- mv(yi, vi, mods = ~ x + factor(dgrp), random = ~ 1 | district/school, data = kon,
          dfs = "contain")
pr2 <- predict(ct2, newmods = c(3, 0, 0))
an2 <- anova(ct2, X = rbind(c(0, 1, 0, 0), c(1, 0, 0, 0)))

## Berkey et al. (1998): bivariate outcomes, UN / CS with fixed correlation or variance
ber <- dat.berkey1998
V <- bldiag(lapply(split(ber[, c("v1i", "v2i")], ber$trial), as.matrix))
un_rho <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
             data = ber, rho = 0.5)
un_tau <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
             data = ber, tau2 = c(NA, 0.01))
cs_rho <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "CS",
             data = ber, rho = 0)
two <- mv(yi, V, mods = ~ outcome - 1, random = list(~ outcome | trial, ~ outcome | author),
          struct = c("CS", "CS"), data = ber, gamma2 = 0.005, phi = 0.5)
ct_un <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
            data = ber, dfs = "contain")

## CAR with its correlation held at 0 (the power 0^0 = 1 on the diagonal)
long <- fromJSON("longitudinal_simulated.json")$data
car0 <- mv(yi, vi, mods = ~ factor(time) - 1, random = ~ months | study, struct = "CAR",
           data = long, rho = 0)

save("extras", list(
  konstantopoulos = kon[, c("district", "school", "year", "x", "dgrp", "yi", "vi")],
  berkey = ber[, c("trial", "author", "outcome", "yi", "v1i", "v2i")], berkey_V = mat(V),
  fixed_school = c(fit_out(fx1), list(confint = confint_out(fx1), influence = infl_out(fx1_loose))),
  fixed_district_ml = fit_out(fx2), fixed_both = fit_out(fx3),
  un_rho = c(fit_out(un_rho), list(confint = confint_out(un_rho))),
  un_tau = fit_out(un_tau), cs_rho0 = fit_out(cs_rho), two_terms_fixed = fit_out(two),
  contain = ddf_out(ct1), contain_groups = ddf_out(ct2), contain_un = ddf_out(ct_un),
  contain_predict = list(pred = pr2$pred, se = pr2$se, ci.lb = pr2$ci.lb, ci.ub = pr2$ci.ub,
                         pi.lb = pr2$pi.lb, pi.ub = pr2$pi.ub),
  contain_anova = list(QM = an2$QM, QMdf = an2$QMdf, QMp = an2$QMp, zval = an2$zval,
                       pval = an2$pval, ddf = unname(an2$ddf)),
  contain_ranef = ranef_out(ct2), car_rho0 = fit_out(car0)))

## profile(): the likelihood profiles of single components (each refit with the component
## fixed, the others estimated), at metafor's default range or a given one
prof_out <- function(res, ...) {
  pr <- profile(res, ..., progbar = FALSE, plot = FALSE)
  list(x = unname(pr[[1]]), ll = pr$ll, beta = unname(as.matrix(pr$beta)),
       ci.lb = unname(as.matrix(pr$ci.lb)), ci.ub = unname(as.matrix(pr$ci.ub)),
       vc = pr$vc, maxll = as.numeric(pr$maxll))
}
three <- rma.mv(yi, vi, mods = ~ x, random = ~ 1 | district/school, data = kon)
un <- rma.mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN", data = ber)
save("mv_profile", list(
  three_sigma2_1 = prof_out(three, sigma2 = 1, steps = 7),
  three_sigma2_2 = prof_out(three, sigma2 = 2, steps = 5, xlim = c(0, 0.08)),
  three_fixed_sigma2_1 = prof_out(fx1_loose, sigma2 = 1, steps = 5),
  un_rho = prof_out(un, rho = 1, steps = 6),
  un_tau2_2 = prof_out(un, tau2 = 2, steps = 5, xlim = c(0, 0.05)),
  un_ml_tau2_1 = prof_out(update(un, method = "ML"), tau2 = 1, steps = 5)))

## vcalc(rvars=): Berkey et al.'s 2 x 2 covariance blocks (vi = 1), and the layout of
## metafor's help page (clusters of 2, 1 and 4 rows; made-up values), also split by subgroup
rv <- data.frame(study = c(1, 1, 2, 3, 3, 3, 3), sub = c("a", "a", "a", "a", "a", "b", "b"),
                 vi = c(0.10, 0.20, 0.30, 0.10, 0.20, 0.30, 0.40),
                 r1 = c(1, 0.6, 1, 1, 0.8, 0.5, 0.5), r2 = c(NA, 1, NA, NA, 1, 0.5, 0.5),
                 r3 = c(NA, NA, NA, NA, NA, 1, 0.8), r4 = c(NA, NA, NA, NA, NA, NA, 1))
rv_sub <- rv
rv_sub[6:7, c("r1", "r2", "r3", "r4")] <- rbind(c(1, NA, NA, NA), c(0.3, 1, NA, NA))
save("vcalc_rvars", list(
  berkey = ber[, c("trial", "author", "v1i", "v2i")], berkey_V = mat(V),
  berkey_rvars = mat(vcalc(vi = 1, cluster = author, rvars = c(v1i, v2i), data = ber)),
  layout = rv, layout_V = mat(vcalc(vi, cluster = study, rvars = c(r1:r4), data = rv)),
  layout_sub = rv_sub,
  layout_sub_V = mat(vcalc(vi, cluster = study, subgroup = sub, rvars = c(r1:r2),
                           data = rv_sub))))
