"""The effect-size measures of metafor's ``escalc()``: one table, one formula per measure.

Every kernel is elementwise, so it works on arrays of any shape (a leading batch axis
included; the ``vtype="AV"``/``"HO"`` variances average over the last axis, the studies).
Kernels take the *prepared* inputs (counts after the continuity correction, 2x2 tables
completed to ``ai, bi, ci, di``, proportions to ``xi, mi``) and :class:`Options`, and return
``(yi, vi)``; input checking lives in :mod:`metaverdict.effects.escalc`. The formulas are in
:mod:`~metaverdict.effects.measures_counts`, :mod:`~metaverdict.effects.measures_continuous` and
:mod:`~metaverdict.effects.measures_correlation`.

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48; the ``escalc`` help page of metafor 3.8-1 and 5.0-1.
"""
from __future__ import annotations

from dataclasses import dataclass

from metaverdict.effects import measures_continuous as cont
from metaverdict.effects import measures_correlation as corr
from metaverdict.effects import measures_counts as counts
from metaverdict.effects._base import (
    Arrays,
    FloatArray,
    Kernel,
    Options,
    hedges_correction,
    pooled_sd_kernel,
)

__all__ = ["D_INPUTS", "FAMILY_FIELDS", "FAMILY_REQUIRED", "MEASURES", "Arrays", "FloatArray",
           "Kernel", "Measure", "Options", "hedges_correction", "pooled_sd_kernel"]

Required = tuple[str | tuple[str, ...], ...]

#: Inputs each family of measures accepts (alternatives: a 2x2 table may give n1i/n2i instead
#: of bi/di, a proportion ni instead of mi; some measures need only part, see Measure.required).
FAMILY_FIELDS: dict[str, tuple[str, ...]] = {
    "table": ("ai", "bi", "ci", "di", "n1i", "n2i"),
    "rates": ("x1i", "t1i", "x2i", "t2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "cor": ("ri", "ni", "ti", "pi"),
    "pcor": ("ti", "ni", "mi", "r2i"),
    "prop": ("xi", "ni", "mi"),
    "rate1": ("xi", "ti"),
    "mean1": ("mi", "sdi", "ni"),
    "change": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "alpha": ("ai", "mi", "ni"),
    "genotype": ("ai", "bi", "ci"),
    "r2": ("r2i", "mi", "ni"),
}

#: Inputs each family needs by default; a tuple lists alternatives (one of them is needed).
FAMILY_REQUIRED: dict[str, Required] = {
    "table": ("ai", ("bi", "n1i"), "ci", ("di", "n2i")),
    "rates": ("x1i", "t1i", "x2i", "t2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "cor": (("ri", "ti", "pi"), "ni"),
    "pcor": ("ti", "ni", "mi"),
    "prop": ("xi", ("ni", "mi")),
    "rate1": ("xi", "ti"),
    "mean1": ("mi", "sdi", "ni"),
    "change": ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
    "alpha": ("ai", "mi", "ni"),
    "genotype": ("ai", "bi", "ci"),
    "r2": ("r2i", "mi", "ni"),
}

#: Inputs that can stand in for the means and SDs of an SMD: the d itself (``di``), the
#: two-sample t statistic (``ti``, d = t sqrt(1/n1 + 1/n2)), or, as metafor 5 takes them, the
#: signed two-sided p-value of that t test (``pi``) or the signed F statistic t² (``fi``).
D_INPUTS = ("di", "ti", "pi", "fi")


@dataclass(frozen=True)
class Measure:
    """One effect-size measure: its family of inputs, formula and options.

    ``default_add`` is the ``add`` used when the caller gives none (metafor: 1/2 for most count
    measures, 0 for the arcsine, square-root, Freeman-Tukey, phi and tetrachoric ones);
    ``None`` means no continuity correction applies. ``vtypes`` are the accepted ``vtype``
    values (the first, ``"LS"``, is the default); ``required`` overrides the family's inputs
    for measures that need only part of them (e.g. ``VR`` needs no means); ``from_d`` marks
    the measures that also take :data:`D_INPUTS` instead of the means and SDs; ``extra`` are
    inputs beyond the family's that the measure needs (MPORM's correlations ``ri``).
    """

    code: str
    family: str
    description: str
    kernel: Kernel
    default_add: float | None = None
    vtypes: tuple[str, ...] = ("LS",)
    required: Required | None = None
    from_d: bool = False
    extra: tuple[str, ...] = ()

    @property
    def needs(self) -> Required:
        """The required inputs (a tuple entry lists alternatives)."""
        return (self.required if self.required is not None
                else FAMILY_REQUIRED[self.family]) + self.extra

    @property
    def fields(self) -> tuple[str, ...]:
        """The inputs the measure accepts."""
        return FAMILY_FIELDS[self.family] + self.extra + (D_INPUTS if self.from_d else ())


_AV = ("LS", "AV")
_TABLE: tuple[Measure, ...] = (
    # 2x2 tables
    Measure("OR", "table", "log odds ratio ln(ad/bc); vi = 1/a + 1/b + 1/c + 1/d",
            counts.odds_ratio, 0.5, _AV),
    Measure("RR", "table", "log risk ratio ln(p1/p2); vi = 1/a - 1/n1 + 1/c - 1/n2",
            counts.risk_ratio, 0.5, _AV),
    Measure("RD", "table", "risk difference p1 - p2; vi = p1(1-p1)/n1 + p2(1-p2)/n2",
            counts.risk_difference, 0.5, ("LS", "UB", "AV")),
    Measure("PETO", "table", "Peto log odds ratio (a - E)/V; vi = 1/V (hypergeometric E, V)",
            counts.peto, 0.5),
    Measure("AS", "table", "arcsine risk difference asin(sqrt p1) - asin(sqrt p2); "
            "vi = 1/(4 n1) + 1/(4 n2)", counts.arcsine_difference, 0.0),
    Measure("PHI", "table", "phi coefficient (ad - bc)/sqrt(n1 n2 (a+c)(b+d))",
            counts.phi, 0.0, ("LS", "ST", "CS")),
    Measure("ZPHI", "table", "Fisher's z of the phi coefficient", counts.phi_z, 0.0,
            ("LS", "ST", "CS")),
    Measure("YUQ", "table", "Yule's Q (OR - 1)/(OR + 1); vi = (1 - Q^2)^2 (1/a+1/b+1/c+1/d)/4",
            counts.yule_q, 0.5),
    Measure("YUY", "table", "Yule's Y (sqrt OR - 1)/(sqrt OR + 1); "
            "vi = (1 - Y^2)^2 (1/a+1/b+1/c+1/d)/16", counts.yule_y, 0.5),
    Measure("RTET", "table", "tetrachoric correlation (maximum likelihood)",
            counts.tetrachoric, 0.0),
    Measure("ZTET", "table", "Fisher's z of the tetrachoric correlation",
            counts.tetrachoric_z, 0.0),
    Measure("PBIT", "table", "probit difference Phi^-1(p1) - Phi^-1(p2) (an SMD)",
            counts.probit_difference, 0.5),
    Measure("OR2D", "table", "log odds ratio as an SMD: sqrt(3)/pi ln OR", counts.logistic_d, 0.5),
    Measure("OR2DL", "table", "log odds ratio as an SMD: sqrt(3)/pi ln OR (as OR2D)",
            counts.logistic_d, 0.5),
    Measure("OR2DN", "table", "log odds ratio as an SMD: ln OR/1.65 (Cox)", counts.normal_d, 0.5),
    Measure("MPRD", "table", "paired risk difference (a+b)/n - (a+c)/n",
            counts.paired_risk_difference, 0.5),
    Measure("MPRR", "table", "paired log risk ratio ln((a+b)/(a+c))",
            counts.paired_risk_ratio, 0.5),
    Measure("MPOR", "table", "paired log odds ratio (marginal)", counts.paired_odds_ratio, 0.5),
    Measure("MPORM", "table", "paired log odds ratio from the marginal table and the pairs' "
            "correlation ri; vi = 1/a + 1/b + 1/c + 1/d - 2 n ri / sqrt(abcd)",
            counts.marginal_odds_ratio, 0.5, extra=("ri",)),
    Measure("MPORC", "table", "conditional log odds ratio ln(b/c); vi = 1/b + 1/c",
            counts.conditional_odds_ratio, 0.5),
    Measure("MPPETO", "table", "conditional Peto log odds ratio from b, c", counts.paired_peto,
            0.5),
    # two-group person-time
    Measure("IRR", "rates", "log incidence rate ratio ln((x1/t1)/(x2/t2)); vi = 1/x1 + 1/x2",
            counts.rate_ratio, 0.5),
    Measure("IRD", "rates", "incidence rate difference x1/t1 - x2/t2; vi = x1/t1^2 + x2/t2^2",
            counts.rate_difference, 0.5),
    Measure("IRSD", "rates", "square-root rate difference; vi = 1/(4 t1) + 1/(4 t2)",
            counts.sqrt_rate_difference, 0.0),
    # two groups, means and SDs
    Measure("MD", "means", "mean difference m1 - m2; vi = sd1^2/n1 + sd2^2/n2",
            cont.mean_difference, None, ("LS", "UB", "HO")),
    Measure("SMD", "means", "Hedges' g c(m)(m1 - m2)/sd_pooled; "
            "vi = 1/n1 + 1/n2 + g^2/(2(n1+n2))", cont.standardized_mean_difference, None,
            ("LS", "LS2", "UB", "AV"), from_d=True),
    Measure("SMD1", "means", "Glass's delta c(n2-1)(m1 - m2)/sd2; vi = 1/n1 + 1/n2 + g^2/(2 n2)",
            cont.glass_delta, None, ("LS", "LS2", "UB", "AV"),
            ("m1i", "n1i", "m2i", "sd2i", "n2i")),
    Measure("SMDH", "means", "SMD with heteroscedastic variances (sd^2 averaged; Bonett 2008)",
            cont.smd_heteroscedastic, None, ("LS", "LS2", "LS3")),
    Measure("SMD1H", "means", "Glass's delta with heteroscedastic variances (Bonett 2008)",
            cont.glass_delta_heteroscedastic),
    Measure("ROM", "means", "log ratio of means ln(m1/m2) (+ second-order bias correction); "
            "vi = sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2)", cont.ratio_of_means, None,
            ("LS", "HO", "AV", "AVHO")),
    Measure("CVR", "means", "log coefficient-of-variation ratio (Nakagawa et al. 2015)",
            cont.cv_ratio),
    Measure("VR", "means", "log variability ratio ln(sd1/sd2) + 1/(2(n1-1)) - 1/(2(n2-1)); "
            "vi = 1/(2(n1-1)) + 1/(2(n2-1))", cont.variability_ratio, None, ("LS",),
            ("sd1i", "n1i", "sd2i", "n2i")),
    Measure("RPB", "means", "point-biserial correlation from d", cont.point_biserial, None,
            ("LS", "ST", "CS"), from_d=True),
    Measure("ZPB", "means", "Fisher's z of the point-biserial correlation",
            cont.point_biserial_z, None, ("LS", "ST", "CS"), from_d=True),
    Measure("RBIS", "means", "biserial correlation from d (Soper 1914)", cont.biserial,
            from_d=True),
    Measure("ZBIS", "means", "Fisher's z of the biserial correlation", cont.biserial_z,
            from_d=True),
    Measure("D2OR", "means", "d as a log odds ratio: pi/sqrt(3) d", cont.d_to_log_odds_logistic),
    Measure("D2ORL", "means", "d as a log odds ratio: pi/sqrt(3) d (as D2OR)",
            cont.d_to_log_odds_logistic),
    Measure("D2ORN", "means", "d as a log odds ratio: 1.65 d (Cox)", cont.d_to_log_odds_normal),
    # correlations
    Measure("COR", "cor", "raw correlation r; vi = (1 - r^2)^2/(n - 1)", corr.correlation,
            None, _AV),
    Measure("UCOR", "cor", "unbiased correlation r 2F1(1/2,1/2;(n-2)/2;1-r^2) (Olkin & Pratt)",
            corr.unbiased_correlation, None, ("LS", "UB", "AV")),
    Measure("ZCOR", "cor", "Fisher's z atanh(r); vi = 1/(n - 3)", corr.fisher_z_correlation),
    Measure("PCOR", "pcor", "partial correlation t/sqrt(t^2 + n - m - 1); "
            "vi = (1 - r^2)^2/(n - m)", corr.partial_correlation, None, _AV),
    Measure("ZPCOR", "pcor", "Fisher's z of the partial correlation; vi = 1/(n - m - 2)",
            corr.partial_correlation_z),
    Measure("R2", "r2", "coefficient of determination R^2; vi = 4 R^2 (1 - R^2)^2/n",
            corr.r_squared, None, ("LS", "LS2", "AV")),
    Measure("ZR2", "r2", "Fisher's z of R: atanh(sqrt(R^2)); vi = 1/n", corr.r_squared_z),
    Measure("SPCOR", "pcor", "semi-partial correlation t sqrt(1 - R^2)/sqrt(n - m - 1)",
            corr.semipartial_correlation, None, _AV, ("ti", "ni", "mi", "r2i")),
    Measure("ZSPCOR", "pcor", "Fisher's z of the semi-partial correlation",
            corr.semipartial_correlation_z, None, _AV, ("ti", "ni", "mi", "r2i")),
    # single proportions
    Measure("PR", "prop", "raw proportion x/n; vi = p(1-p)/n", counts.proportion, 0.5,
            ("LS", "UB", "AV")),
    Measure("PLN", "prop", "log proportion ln(x/n); vi = 1/x - 1/n", counts.log_proportion,
            0.5, _AV),
    Measure("PLO", "prop", "logit proportion ln(x/(n-x)); vi = 1/x + 1/(n-x)",
            counts.logit_proportion, 0.5, _AV),
    Measure("PRZ", "prop", "probit proportion Phi^-1(x/n)", counts.probit_proportion, 0.5),
    Measure("PAS", "prop", "arcsine proportion asin(sqrt(x/n)); vi = 1/(4n)",
            counts.arcsine_proportion, 0.0),
    Measure("PFT", "prop", "Freeman-Tukey double arcsine; vi = 1/(4n + 2)",
            counts.freeman_tukey_proportion, 0.0),
    # single-group person-time
    Measure("IR", "rate1", "incidence rate x/t; vi = x/t^2", counts.rate, 0.5),
    Measure("IRLN", "rate1", "log incidence rate ln(x/t); vi = 1/x", counts.log_rate, 0.5),
    Measure("IRS", "rate1", "square-root incidence rate sqrt(x/t); vi = 1/(4t)",
            counts.sqrt_rate, 0.0),
    Measure("IRFT", "rate1", "Freeman-Tukey incidence rate (sqrt(x/t) + sqrt((x+1)/t))/2; "
            "vi = 1/(4t)", counts.freeman_tukey_rate, 0.0),
    # one group, mean and SD
    Measure("MN", "mean1", "mean m; vi = sd^2/n", cont.mean, None, ("LS", "HO")),
    Measure("SMN", "mean1", "standardized mean c(n-1) m/sd; vi = 1/n + y^2/(2n)",
            cont.standardized_mean),
    Measure("MNLN", "mean1", "log mean ln(m); vi = sd^2/(n m^2)", cont.log_mean),
    Measure("CVLN", "mean1", "log coefficient of variation ln(sd/m) + 1/(2(n-1)); "
            "vi = 1/(2(n-1)) + sd^2/(n m^2)", cont.log_cv),
    Measure("SDLN", "mean1", "log SD ln(sd) + 1/(2(n-1)); vi = 1/(2(n-1))", cont.log_sd, None,
            ("LS",), ("sdi", "ni")),
    # pre-post or matched designs
    Measure("MC", "change", "mean change m1 - m2; vi = (sd1^2 + sd2^2 - 2 r sd1 sd2)/n",
            cont.mean_change),
    Measure("SMCC", "change", "standardized mean change, change-score SD (Gibbons et al. 1993)",
            cont.smc_change_score, None, ("LS", "LS2", "UB")),
    Measure("SMCR", "change", "standardized mean change, raw-score SD sd1 (Becker 1988)",
            cont.smc_raw_score, None, ("LS", "LS2", "UB"), ("m1i", "m2i", "sd1i", "ni", "ri")),
    Measure("SMCRH", "change", "standardized mean change, raw-score SD, heteroscedastic "
            "(Bonett 2008)", cont.smc_raw_heteroscedastic, None, ("LS", "LS2")),
    Measure("SMCRP", "change", "standardized mean change, pooled raw-score SD "
            "(Cousineau 2020)", cont.smc_raw_pooled),
    Measure("SMCRPH", "change", "standardized mean change, pooled raw-score SD, "
            "heteroscedastic (Bonett 2008)", cont.smc_raw_pooled_heteroscedastic, None,
            ("LS", "LS2")),
    Measure("ROMC", "change", "log ratio of means, dependent (Lajeunesse 2011)",
            cont.ratio_of_means_change),
    Measure("CVRC", "change", "log coefficient-of-variation ratio, dependent",
            cont.cv_ratio_change),
    Measure("VRC", "change", "log variability ratio ln(sd1/sd2), dependent; "
            "vi = (1 - r^2)/(n - 1)", cont.variability_ratio_change, None, ("LS",),
            ("sd1i", "sd2i", "ni", "ri")),
    # Cronbach's alpha
    Measure("ARAW", "alpha", "raw alpha; vi = 2m(1-a)^2/((m-1)(n-2))", cont.alpha_raw),
    Measure("AHW", "alpha", "alpha transformed 1 - (1-a)^(1/3) (Hakstian & Whalen 1976)",
            cont.alpha_hakstian_whalen),
    Measure("ABT", "alpha", "alpha transformed -ln(1-a) (Bonett 2002); "
            "vi = 2m/((m-1)(n-2))", cont.alpha_bonett),
    # genotype counts
    Measure("REH", "genotype", "log relative excess heterozygosity ln(p1/(2 sqrt(p0 p2)))",
            counts.excess_heterozygosity),
)

#: All supported measures, keyed by metafor's code.
MEASURES: dict[str, Measure] = {m.code: m for m in _TABLE}
