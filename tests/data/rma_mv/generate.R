# Reference values for metaverdict's multivariate models (tests/models/test_multivariate*.py).
# Run from this folder:  Rscript generate.R   (writes one JSON file per case)
suppressMessages({library(metafor); library(clubSandwich); library(ape); library(jsonlite)})
source("helpers.R")
versions <- c(versions, list(clubSandwich = as.character(packageVersion("clubSandwich")),
                            ape = as.character(packageVersion("ape"))))

## 1. Berkey et al. (1998): bivariate outcomes, known V, UN between-trial covariance
dat <- dat.berkey1998
V <- bldiag(lapply(split(dat[, c("v1i", "v2i")], dat$trial), as.matrix))
res <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
              data = dat)
res_ml <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN", data = dat, method = "ML")
res_t <- mv(yi, V, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN", data = dat, test = "t")
res_y <- mv(yi, V, mods = ~ outcome + outcome:I(year - 1983) - 1, random = ~ outcome | trial,
                struct = "UN", data = dat)
an <- anova(res, X = rbind(c(1, -1)))
an_t <- anova(res_t, X = rbind(c(1, -1), c(1, 1)))
wb <- anova(res_y, btt = 3:4)
nor <- mv(yi, V, mods = ~ outcome - 1, data = dat)
save("berkey1998", list(
  data = dat[, c("trial", "author", "year", "ni", "outcome", "yi", "vi", "v1i", "v2i")],
  V = mat(V), un = fit_out(res), un_ml = fit_out(res_ml), un_t = fit_out(res_t),
  un_year = fit_out(res_y), no_random = fit_out(nor),
  anova_X = list(QM = an$QM, QMp = an$QMp, hyp_est = as.vector(an$Xb), hyp_se = an$se),
  anova_X_t = list(QM = an_t$QM, QMp = an_t$QMp, QMdf = an_t$QMdf),
  wald_btt = list(QM = wb$QM, QMp = wb$QMp),
  ranef = ranef_out(res), confint = confint_out(res), influence = infl_out(res),
  cr2 = cr2_out(res, dat$trial, constrain_equal(1:2))))

## 2. Assink & Wibbelink (2016): three-level model, vcalc V, CR2
dat <- dat.assink2016
V06 <- vcalc(vi, cluster = study, obs = esid, data = dat, rho = 0.6)
r3 <- mv(yi, vi, random = ~ 1 | study/esid, data = dat)
r3v <- mv(yi, V06, random = ~ 1 | study/esid, data = dat)
r3m <- mv(yi, vi, mods = ~ factor(deltype), random = ~ 1 | study/esid, data = dat)
r3w <- mv(yi, vi, W = diag(1 / dat$vi), random = ~ 1 | study/esid, data = dat)
nor <- mv(yi, V06, mods = ~ factor(deltype), data = dat)
uni <- rma(yi, vi, mods = ~ year, data = dat, method = "REML")
save("assink2016", list(
  data = dat, V06 = mat(V06), three_level = fit_out(r3), three_level_V = fit_out(r3v),
  three_level_mods = fit_out(r3m), three_level_W = fit_out(r3w), no_random = fit_out(nor),
  ranef = ranef_out(r3), confint = confint_out(r3),
  influence_cluster = infl_out(r3, dat$study),
  cr2 = cr2_out(r3, dat$study), cr2_W = cr2_out(r3w, dat$study), cr2_mods = cr2_out(r3m, dat$study, constrain_zero(2:3)),
  cr1_mods = {rb <- robust(r3m, cluster = dat$study)
              list(b = as.vector(rb$beta), se = rb$se, QM = rb$QM, QMp = rb$QMp, dfs = rb$dfs)},
  univariate = fit_out(uni), cr2_univariate = cr2_out(uni, dat$study)))

## 3. Simulated longitudinal meta-analysis (40 studies, up to 4 time points, rows missing at
## random): AR, HAR, CAR, CS, HCS, UN, DIAG, ID structures with an interior optimum
set.seed(20261202)
long <- expand.grid(time = 1:4, study = 1:40)[, c("study", "time")]
tau <- c(0.30, 0.35, 0.40, 0.45)
Rar <- 0.6^abs(outer(1:4, 1:4, "-"))
u <- t(sapply(1:40, function(i) as.vector(t(chol(diag(tau) %*% Rar %*% diag(tau))) %*% rnorm(4))))
long$vi <- runif(nrow(long), 0.02, 0.12)
long$yi <- c(0.2, 0.3, 0.35, 0.4)[long$time] + as.vector(t(u)) + rnorm(nrow(long), 0, sqrt(long$vi))
long <- long[runif(nrow(long)) > 0.2, ]
long$months <- c(1, 3, 6, 12)[long$time]     # an uneven clock for CAR
fits <- list()
for (s in c("CS", "HCS", "AR", "HAR", "ID", "DIAG", "UN"))
  fits[[s]] <- fit_out(mv(yi, vi, mods = ~ factor(time) - 1, random = ~ time | study,
                          struct = s, data = long))
car <- mv(yi, vi, mods = ~ factor(time) - 1, random = ~ months | study, struct = "CAR",
          data = long)
fits[["CAR"]] <- fit_out(car)
ar <- mv(yi, vi, mods = ~ factor(time) - 1, random = ~ time | study, struct = "AR", data = long)
two <- mv(yi, vi, random = list(~ time | study, ~ 1 | time), struct = "AR", data = long)
save("longitudinal_simulated", list(simulated = TRUE, note = "SIMULATED data (seed in generate.R): not from any study", data = long, fits = fits, ar_plus_intercept = fit_out(two),
                          ar_confint = confint_out(ar), ar_ranef = ranef_out(ar),
                          ar_influence = infl_out(ar),
                          ar_cr2 = cr2_out(ar, long$study, constrain_equal(1:4))))

## 4. Lim et al. (2014): phylogenetic correlation (known R) plus species and article effects
dat <- dat.lim2014$o_o_unadj
tree <- compute.brlen(dat.lim2014$o_o_unadj_tree)
A <- vcv(tree, corr = TRUE)
dat <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat)
dat$species.phy <- dat$species
ph <- mv(yi, vi, random = list(~ 1 | article, ~ 1 | species, ~ 1 | species.phy),
             R = list(species.phy = A), data = dat)
save("lim2014", list(data = as.data.frame(dat)[, c("article", "species", "species.phy", "yi", "vi")],
                     A = list(names = rownames(A), values = mat(A)),
                     phylo = fit_out(ph)))

## 5. vcalc cases (sampling covariance only)
dat <- dat.assink2016[1:40, ]
dat$type <- rep(c("a", "b"), 20)
dat$time <- rep(c(1, 2, 4, 5), 10)
vc <- list(
  obs = vcalc(vi, cluster = study, obs = esid, data = dat, rho = 0.6),
  type_obs = vcalc(vi, cluster = study, type = type, obs = esid, data = dat, rho = c(0.5, 0.3)),
  time = vcalc(vi, cluster = study, time1 = time, data = dat, phi = 0.9),
  type_time = vcalc(vi, cluster = study, type = type, time1 = time, data = dat, rho = 0.4,
                    phi = 0.8),
  subgroup = vcalc(vi, cluster = study, subgroup = type, obs = esid, data = dat, rho = 0.7))
rt <- matrix(c(1, 0.3, 0.3, 1), 2, dimnames = list(c("a", "b"), c("a", "b")))
vc$type_matrix <- vcalc(vi, cluster = study, type = type, data = dat, rho = rt)
g <- data.frame(study = c(1, 1, 1, 2, 2), grp1 = c("A", "B", "C", "A", "B"),
                grp2 = c("P", "P", "P", "P", "P"), w1 = c(20, 25, 30, 40, 35),
                w2 = c(22, 22, 22, 38, 38), vi = c(0.1, 0.12, 0.09, 0.05, 0.06))
vc$shared <- vcalc(vi, cluster = study, grp1 = grp1, grp2 = grp2, w1 = w1, w2 = w2, data = g)
vc <- lapply(vc, mat)
save("vcalc", list(data = dat[, c("study", "esid", "type", "time", "vi")], groups = g, V = vc))
