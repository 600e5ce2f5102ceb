# Reference values for metaverdict.effects.effect_sizes: metafor's escalc() for every measure
# and vtype on small data sets (metadat data where metafor's docs use them).
# Run from this folder:  Rscript escalc_reference.R   (writes escalc_reference.json)
library(metafor)
library(metadat)
library(jsonlite)

morris_t <- data.frame(   # Morris (2008), treatment groups, as on metafor's analyses:morris2008 page
  m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
  sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
  ni = c(20, 50, 9, 10, 14), ri = c(0.47, 0.64, 0.77, 0.89, 0.44))
zeros <- data.frame(      # small 2x2 tables with zero cells (continuity corrections)
  ai = c(0, 5, 10, 3, 0), bi = c(10, 5, 0, 7, 12), ci = c(2, 0, 4, 3, 0), di = c(8, 9, 6, 7, 11))
props <- rbind(dat.pritz1997[, c("xi", "ni")], data.frame(xi = c(0, 9), ni = c(10, 9)))
rates1 <- rbind(data.frame(xi = dat.hart1999$x1i, ti = dat.hart1999$t1i),
                data.frame(xi = 0, ti = 120))
bcg <- dat.bcg[, c("tpos", "tneg", "cpos", "cneg")]
smd_d <- data.frame(      # SMDs from a reported d (di) or t statistic (ti), or from means
  di = c(0.5, NA, NA, NA), ti = c(NA, 2.0, NA, 1.2), m1i = c(NA, NA, 1.0, NA),
  m2i = c(NA, NA, 0.5, NA), sd1i = c(NA, NA, 1.0, NA), sd2i = c(NA, NA, 1.2, NA),
  n1i = c(20, 30, 15, 12), n2i = c(20, 30, 15, 14))
genotypes <- data.frame(ai = c(30, 10, 25), bi = c(50, 40, 60), ci = c(20, 50, 15))
# MPORM: the BCG tables read as marginal tables of paired studies, with made-up correlations
bcg_r <- cbind(bcg, ri = round(seq(-0.3, 0.6, length.out = nrow(bcg)), 3))
zeros_r <- cbind(zeros, ri = c(0.2, -0.1, 0.4, 0, 0.3))

datasets <- list(
  bcg = bcg, zeros = zeros, hart1999 = dat.hart1999[, c("x1i", "t1i", "x2i", "t2i")],
  normand1999 = dat.normand1999[, c("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")],
  molloy2014 = dat.molloy2014[, c("ri", "ni")], aloe2013 = dat.aloe2013[, c("tval", "n", "preds", "R2")],
  props = props, rates1 = rates1, morris2008_t = morris_t,
  bonett2010 = dat.bonett2010[, c("ai", "mi", "ni")], smd_d = smd_d, genotypes = genotypes,
  bcg_r = bcg_r, zeros_r = zeros_r)

tab_bcg <- list(ai = "tpos", bi = "tneg", ci = "cpos", di = "cneg")
tab_zero <- list(ai = "ai", bi = "bi", ci = "ci", di = "di")
means <- list(m1i = "m1i", sd1i = "sd1i", n1i = "n1i", m2i = "m2i", sd2i = "sd2i", n2i = "n2i")
single <- list(mi = "m1i", sdi = "sd1i", ni = "n1i")
change <- list(m1i = "m_post", m2i = "m_pre", sd1i = "sd_pre", sd2i = "sd_post", ni = "ni", ri = "ri")

spec <- list()
add <- function(measure, data, args, vtypes = "LS", extra = list()) {
  for (v in vtypes) spec[[length(spec) + 1L]] <<- list(measure = measure, data = data, args = args,
                                                        vtype = v, extra = extra)
}
for (d in list(list("bcg", tab_bcg), list("zeros", tab_zero))) {
  add("OR", d[[1]], d[[2]]); add("RR", d[[1]], d[[2]]); add("RD", d[[1]], d[[2]], c("LS", "UB", "AV"))
  add("PETO", d[[1]], d[[2]]); add("AS", d[[1]], d[[2]]); add("PHI", d[[1]], d[[2]], c("LS", "ST", "CS"))
  add("YUQ", d[[1]], d[[2]]); add("YUY", d[[1]], d[[2]]); add("PBIT", d[[1]], d[[2]])
  add("OR2D", d[[1]], d[[2]]); add("OR2DN", d[[1]], d[[2]]); add("OR2DL", d[[1]], d[[2]])
  add("MPRD", d[[1]], d[[2]]); add("MPRR", d[[1]], d[[2]]); add("MPOR", d[[1]], d[[2]])
  add("MPORC", d[[1]], d[[2]]); add("MPPETO", d[[1]], d[[2]])
}
add("RTET", "bcg", tab_bcg)
add("OR", "zeros", tab_zero, extra = list(add = 0.25, to = "all"))
add("RD", "zeros", tab_zero, extra = list(to = "if0all"))
for (m in c("IRR", "IRD", "IRSD")) add(m, "hart1999", list(x1i = "x1i", t1i = "t1i", x2i = "x2i", t2i = "t2i"))
add("MD", "normand1999", means, c("LS", "UB", "HO")); add("SMD", "normand1999", means, c("LS", "UB", "LS2", "AV"))
add("SMDH", "normand1999", means, c("LS", "LS2")); add("SMD1", "normand1999", means, c("LS", "UB", "LS2", "AV"))
add("SMD1H", "normand1999", means); add("ROM", "normand1999", means, c("LS", "HO", "AV", "AVHO"))
add("CVR", "normand1999", means); add("VR", "normand1999", means)
add("RPB", "normand1999", means, c("LS", "ST", "CS")); add("RBIS", "normand1999", means)
add("D2OR", "normand1999", means); add("D2ORN", "normand1999", means); add("D2ORL", "normand1999", means)
add("COR", "molloy2014", list(ri = "ri", ni = "ni"), c("LS", "AV"))
add("UCOR", "molloy2014", list(ri = "ri", ni = "ni"), c("LS", "UB", "AV"))
add("ZCOR", "molloy2014", list(ri = "ri", ni = "ni"))
pc <- list(ti = "tval", ni = "n", mi = "preds")
add("PCOR", "aloe2013", pc, c("LS", "AV")); add("ZPCOR", "aloe2013", pc)
add("SPCOR", "aloe2013", c(pc, list(r2i = "R2")), c("LS", "AV"))
add("PR", "props", list(xi = "xi", ni = "ni"), c("LS", "UB", "AV"))
add("PLN", "props", list(xi = "xi", ni = "ni"), c("LS", "AV")); add("PLO", "props", list(xi = "xi", ni = "ni"), c("LS", "AV"))
add("PAS", "props", list(xi = "xi", ni = "ni")); add("PFT", "props", list(xi = "xi", ni = "ni"))
for (m in c("IR", "IRLN", "IRS", "IRFT")) add(m, "rates1", list(xi = "xi", ti = "ti"))
for (m in c("MN", "MNLN", "CVLN", "SMN")) add(m, "normand1999", single)
add("SDLN", "normand1999", list(sdi = "sd1i", ni = "n1i"))
for (m in c("MC", "SMCRH", "ROMC", "CVRC")) add(m, "morris2008_t", change)
add("SMCC", "morris2008_t", change, c("LS", "LS2")); add("SMCR", "morris2008_t", change[c("m1i", "m2i", "sd1i", "ni", "ri")], c("LS", "LS2"))
add("VRC", "morris2008_t", change[c("sd1i", "sd2i", "ni", "ri")])
add("SMD", "smd_d", list(di = "di", ti = "ti", m1i = "m1i", m2i = "m2i", sd1i = "sd1i",
                         sd2i = "sd2i", n1i = "n1i", n2i = "n2i"), c("LS", "UB", "LS2", "AV"))
add("REH", "genotypes", list(ai = "ai", bi = "bi", ci = "ci"))
for (m in c("ARAW", "AHW", "ABT")) add(m, "bonett2010", list(ai = "ai", mi = "mi", ni = "ni"))
add("MPORM", "bcg_r", c(tab_bcg, list(ri = "ri"))); add("MPORM", "zeros_r", c(tab_zero, list(ri = "ri")))
# one vtype per study (a vector; the averaging vtypes still average over all studies; not OR,
# whose "AV" metafor 3.8-1 computes as "LS")
per_study <- function(kinds, k) list(rep(kinds, length.out = k))
add("RD", "bcg", tab_bcg, per_study(c("UB", "LS", "AV"), 13))
add("SMD", "normand1999", means, per_study(c("LS", "UB", "LS2", "AV"), 9))
add("MD", "normand1999", means, per_study(c("HO", "LS", "UB"), 9))
add("ROM", "normand1999", means, per_study(c("LS", "HO", "AV", "AVHO"), 9))
add("COR", "molloy2014", list(ri = "ri", ni = "ni"), per_study(c("AV", "LS"), 16))
add("PR", "props", list(xi = "xi", ni = "ni"), per_study(c("LS", "UB", "AV"), 16))

num <- function(x) { x <- as.numeric(x); lapply(x, function(v) if (is.na(v)) NULL else v) }
cases <- lapply(spec, function(s) {
  d <- datasets[[s$data]]
  call <- c(list(measure = s$measure, vtype = s$vtype), lapply(s$args, function(col) d[[col]]), s$extra)
  es <- suppressWarnings(do.call(escalc, call))
  list(measure = s$measure, vtype = s$vtype, data = s$data, args = s$args, options = s$extra,
       yi = num(es$yi), vi = num(es$vi))
})
out <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                  metadat = as.character(packageVersion("metadat")),
                  mvtnorm = as.character(packageVersion("mvtnorm")),
                  gsl = as.character(packageVersion("gsl"))),
  generated_by = "escalc_reference.R",
  data = lapply(datasets, function(d) lapply(d, num)),
  cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = FALSE),
           "escalc_reference.json")
cat(length(cases), "cases written\n")
