# Reference points of metafor's labbe() (3.8-1), written to labbe_reference.json next to this
# script. Run from this directory:  Rscript labbe_reference.R
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
cases <- list()
add_case <- function(name, res, counts, measure, transf = NULL) {
  # REML to a tau^2 change of 1e-12 (the default 1e-5 leaves IRD's estimate 2e-3 off)
  res <- update(res, control = list(threshold = 1e-12, maxiter = 10000))
  sav <- if (is.null(transf)) labbe(res) else labbe(res, transf = get(transf))
  cases[[name]] <<- list(measure = measure, counts = counts, estimate = as.numeric(res$beta[1]),
                         x = sav$x, y = sav$y, cex = sav$cex, ids = sav$ids, transf = transf)
}
pdf(NULL)
dat <- dat.bcg
for (m in c("RR", "OR", "RD", "AS")) {
  res <- rma(measure = m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat)
  add_case(paste0("bcg_", m), res, list(ai = dat$tpos, bi = dat$tneg, ci = dat$cpos, di = dat$cneg), m)
}
# transf=: the arms as proportions (exp of the log proportion, inverse logit of the log odds)
for (m in c("RR", "OR")) {
  res <- rma(measure = m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat)
  add_case(paste0("bcg_", m, "_transf"), res,
           list(ai = dat$tpos, bi = dat$tneg, ci = dat$cpos, di = dat$cneg), m,
           if (m == "RR") "exp" else "transf.ilogit")
}
# zero cells (the continuity correction of the arms): Yusuf et al. (1985), table 6
dat <- dat.yusuf1985[dat.yusuf1985$table == "6", ]
res <- rma(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat)
add_case("yusuf1985_t6_OR", res, list(ai = dat$ai, bi = dat$n1i - dat$ai, ci = dat$ci, di = dat$n2i - dat$ci), "OR")
# rates: Hart et al. (1999)
dat <- dat.hart1999
res <- rma(measure = "IRR", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = dat)
add_case("hart1999_IRR", res, list(x1i = dat$x1i, t1i = dat$t1i, x2i = dat$x2i, t2i = dat$t2i), "IRR")
res <- rma(measure = "IRD", x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = dat)
add_case("hart1999_IRD", res, list(x1i = dat$x1i, t1i = dat$t1i, x2i = dat$x2i, t2i = dat$t2i), "IRD")
doc <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
            note = "labbe(rma(...)) with defaults (REML, threshold 1e-12); x = group 2, y = group 1, cex = point size.",
            cases = cases)
writeLines(toJSON(doc, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "labbe_reference.json")
