"""Konstantopoulos (2011): two- and three-level meta-analysis of the modified school calendar
studies.

Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
meta-analysis. *Research Synthesis Methods* 2:61-76.

Published values as printed in Konstantopoulos (2011), Table 4 (page 70) and Table 5
(page 71); located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_konstantopoulos2011.r in wviechtb/metafor).

Data: dat.konstantopoulos2011 (fixture ``dat.konstantopoulos2011__GEN``; 56 schools in 11
districts). Table 4: two-level random-effects model (REML) without and with publication year
(centred at its mean) as moderator, fitted with ``meta_analysis`` and, for the intercept-only
model, also as a one-level ``multilevel`` model. Table 5: three-level model (schools within
districts, ML), without and with year. The paper's tau² CIs (Satterthwaite approximation) are
not computed by metaverdict and are not compared.
"""
from __future__ import annotations

from functools import cache

import pytest
from _data import load_data, printed, published

import metaverdict as mv


@cache
def fits() -> dict:
    df = load_data("dat.konstantopoulos2011__GEN")
    df["year_c"] = df.year - df.year.mean()
    return {
        "re": mv.meta_analysis("yi", "vi", data=df, method="REML"),
        "me": mv.meta_analysis("yi", "vi", data=df, method="REML", mods="year_c"),
        "re_ml1": mv.multilevel("yi", "vi", groups=["study"], data=df, method="REML"),
        "ml3": mv.multilevel("yi", "vi", groups=["district", "study"], data=df, method="ML"),
        "ml3_year": mv.multilevel("yi", "vi", groups=["district", "study"], data=df, method="ML",
                                  mods="year_c"),
    }


def coef(model: str, term: int, column: str = "estimate") -> float:
    return float(fits()[model].coefficients[column].iloc[term])


CHECKS = [
    # two-level random-effects model, Table 4 (page 70)
    published("2L mu Table4 p70", lambda: fits()["re"].estimate, 0.1279, 4),
    published("2L se Table4 p70", lambda: fits()["re"].se, 0.0439, 4),
    published("2L tau2 Table4 p70", lambda: fits()["re"].tau2, 0.0884, 4),
    published("2L se tau2 Table4 p70", lambda: fits()["re"].tau2_se, 0.0202, 4),
    # the same model as a multilevel model with one random intercept per study
    published("2L multilevel mu Table4 p70", lambda: fits()["re_ml1"].estimate, 0.1279, 4),
    published("2L multilevel se Table4 p70", lambda: fits()["re_ml1"].se, 0.0439, 4),
    published("2L multilevel sigma2 Table4 p70", lambda: fits()["re_ml1"].sigma2[0], 0.0884, 4),
    # two-level mixed-effects model with year, Table 4 (page 70)
    published("2L year intercept Table4 p70", lambda: coef("me", 0), 0.1258, 4),
    published("2L year slope Table4 p70", lambda: coef("me", 1), 0.0052, 4),
    published("2L year se intercept Table4 p70", lambda: coef("me", 0, "se"), 0.043, 3,
              xfail="the paper prints 0.043; metafor (whose test notes the paper's value) and "
                    "metaverdict both give 0.0440, i.e. 0.044: unresolved, probably a rounding "
                    "or typesetting difference in the paper"),
    published("2L year se slope Table4 p70", lambda: coef("me", 1, "se"), 0.0044, 4),
    published("2L year tau2 Table4 p70", lambda: fits()["me"].tau2, 0.088, 3,
              xfail="the paper prints 0.088; metafor (whose test notes the paper's value) and "
                    "metaverdict both give 0.0889, i.e. 0.089: unresolved, probably truncation "
                    "instead of rounding in the paper"),
    published("2L year se tau2 Table4 p70", lambda: fits()["me"].tau2_se, 0.0205, 4),
    # three-level model (ML), Table 5 (page 71)
    published("3L mu Table5 p71", lambda: fits()["ml3"].estimate, 0.1845, 4),
    published("3L se Table5 p71", lambda: fits()["ml3"].se, 0.0805, 4),
    published("3L sigma2 district Table5 p71", lambda: fits()["ml3"].sigma2[0], 0.0577, 4),
    published("3L sigma2 school Table5 p71", lambda: fits()["ml3"].sigma2[1], 0.0329, 4),
    # three-level mixed-effects model with year (ML), Table 5 (page 71)
    published("3L year intercept Table5 p71", lambda: coef("ml3_year", 0), 0.183, 3,
              xfail="the paper prints 0.183; metafor's test calls this a misprint, and metafor "
                    "and metaverdict both give 0.1780"),
    published("3L year slope Table5 p71", lambda: coef("ml3_year", 1), 0.0051, 4),
    published("3L year se intercept Table5 p71", lambda: coef("ml3_year", 0, "se"), 0.0805, 4),
    published("3L year se slope Table5 p71", lambda: coef("ml3_year", 1, "se"), 0.0085, 4),
    published("3L year sigma2 district Table5 p71", lambda: fits()["ml3_year"].sigma2[0],
              0.0565, 4),
    published("3L year sigma2 school Table5 p71", lambda: fits()["ml3_year"].sigma2[1],
              0.0329, 4),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
