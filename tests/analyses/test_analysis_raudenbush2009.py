"""Raudenbush (2009): random-effects analysis of the teacher-expectancy studies (Handbook
chapter 16).

Raudenbush SW (2009). Analyzing effect sizes: Random-effects models. In Cooper H, Hedges LV,
Valentine JC (eds.), *The Handbook of Research Synthesis and Meta-Analysis* (2nd ed.,
pp. 295-315). New York: Russell Sage Foundation.

Published values as printed in Raudenbush (2009), Table 16.2 (page 301) with the text of
page 302, and Table 16.3 (page 309); located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_raudenbush2009.r in wviechtb/metafor).

Data: dat.raudenbush1985 (fixture ``dat.raudenbush1985__GEN``; 19 studies). Compared:

* Table 16.2 / page 302: the fixed-effects model (mu, Q, z), the REML random-effects model (mu,
  z, tau², the 95% plausible-value range of the true effects, the range of the empirical Bayes
  estimates) and the REML model with weeks of prior contact capped at 3 (tau², coefficients, Q,
  z, range of the empirical Bayes estimates).
* Table 16.3: tau², mu, SE, test statistic and 95% CI for the FE, ML, REML, DL and HE fits with
  conventional z tests, with the Knapp-Hartung adjustment, and with Huber-White (cluster-robust,
  one study per cluster, no small-sample factor) standard errors.

The chapter's plausible-value range is mu ± 1.96 tau (it ignores the uncertainty in mu; metafor
notes that its own prediction interval, -0.204 to 0.371, is "computed in a slightly different
way"), so it is computed that way from metaverdict's mu and tau².
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv

METHODS = ("EE", "ML", "REML", "DL", "HE")
# Table 16.3, page 309 (rows FE, ML, REML, DL, HE)
TAU2 = dict(zip(METHODS, (0.000, 0.013, 0.019, 0.026, 0.080)))
MU = dict(zip(METHODS, (0.060, 0.078, 0.084, 0.089, 0.114)))
CONVENTIONAL = {  # se, z, ci lower, ci upper
    "EE": (0.036, 1.655, -0.011, 0.132), "ML": (0.047, 1.637, -0.015, 0.171),
    "REML": (0.052, 1.621, -0.018, 0.185), "DL": (0.056, 1.601, -0.020, 0.199),
    "HE": (0.079, 1.443, -0.041, 0.270)}
KNAPP_HARTUNG = {  # se, t, ci lower, ci upper
    "EE": (0.051, 1.173, -0.048, 0.168), "ML": (0.059, 1.311, -0.047, 0.202),
    "REML": (0.062, 1.359, -0.046, 0.213), "DL": (0.064, 1.405, -0.044, 0.223),
    "HE": (0.071, 1.608, -0.035, 0.264)}
HUBER_WHITE = {  # se, t, ci lower, ci upper
    "EE": (0.040, 1.515, -0.023, 0.144), "ML": (0.047, 1.637, -0.022, 0.178),
    "REML": (0.050, 1.676, -0.021, 0.189), "DL": (0.052, 1.710, -0.020, 0.199),
    "HE": (0.062, 1.850, -0.015, 0.244)}
FIELDS = ("se", "statistic", "ci_lower", "ci_upper")


@cache
def fits() -> dict:
    df = load_data("dat.raudenbush1985__GEN")
    df["weeks_c"] = np.minimum(df.weeks, 3)
    out: dict = {"me": mv.meta_analysis("yi", "vi", data=df, method="REML", mods="weeks_c")}
    for m in METHODS:
        out[m] = mv.meta_analysis("yi", "vi", data=df, method=m)
        out[m, "knha"] = mv.meta_analysis("yi", "vi", data=df, method=m, test="knha")
        out[m, "hw"] = mv.robust(out[m], cluster=df.study, adjust=False)
    re = out["REML"]
    out["plausible"] = re.estimate + np.array([-1.0, 1.0]) * 1.96 * np.sqrt(re.tau2)
    out["blup_re"] = mv.blup(re)["pred"].to_numpy()
    out["blup_me"] = mv.blup(out["me"])["pred"].to_numpy()
    return out


def get(key, field: str):
    return lambda: float(getattr(fits()[key], field))


def coef(term: int, column: str = "estimate"):
    return lambda: float(fits()["me"].coefficients[column].iloc[term])


CHECKS = [
    # Table 16.2 (page 301) and page 302
    published("FE mu Table16.2 p301", get("EE", "estimate"), 0.060, 3),
    published("FE Q Table16.2 p301", get("EE", "q"), 35.83, 2),
    published("FE z Table16.2 p301", get("EE", "statistic"), 1.65, 2,
              xfail="the chapter prints z = 1.65; metafor (whose test records the chapter's value) "
                    "and metaverdict both give 1.6553, i.e. 1.66 (the chapter's Table 16.3 itself "
                    "prints 1.655): probably truncated in Table 16.2"),
    published("RE mu Table16.2 p301", get("REML", "estimate"), 0.083, 3,
              xfail="the chapter prints 0.083 here but 0.084 in Table 16.3 (checked below); "
                    "metafor and metaverdict give 0.0837"),
    published("RE z Table16.2 p301", get("REML", "statistic"), 1.62, 2),
    published("RE tau2 Table16.2 p301", get("REML", "tau2"), 0.019, 3),
    published("RE plausible lower Table16.2 p301", lambda: fits()["plausible"][0], -0.19, 2),
    published("RE plausible upper Table16.2 p301", lambda: fits()["plausible"][1], 0.35, 2),
    published("RE EB min Table16.2 p301", lambda: fits()["blup_re"].min(), -0.03, 2),
    published("RE EB max Table16.2 p301", lambda: fits()["blup_re"].max(), 0.25, 2),
    published("ME tau2 Table16.2 p301", get("me", "tau2"), 0.000, 3),
    published("ME intercept Table16.2 p301", coef(0), 0.407, 3),
    published("ME slope Table16.2 p301", coef(1), -0.157, 3),
    published("ME Q Table16.2 p301", get("me", "q"), 16.57, 2),
    published("ME z intercept Table16.2 p301", coef(0, "statistic"), 4.68, 2),
    published("ME z slope Table16.2 p301", coef(1, "statistic"), -4.39, 2),
    published("ME EB min Table16.2 p301", lambda: fits()["blup_me"].min(), -0.07, 2,
              xfail="the chapter prints -0.07; metafor (whose test records the chapter's value) "
                    "and metaverdict both give -0.0645, i.e. -0.06: unresolved"),
    published("ME EB max Table16.2 p301", lambda: fits()["blup_me"].max(), 0.41, 2),
    # Table 16.3, page 309
    *[published(f"{m} tau2 Table16.3 p309", get(m, "tau2"), TAU2[m], 3) for m in METHODS],
    *[published(f"{m} mu Table16.3 p309", get(m, "estimate"), MU[m], 3) for m in METHODS],
    *[published(f"{m} {f} z-test Table16.3 p309", get(m, f), v, 3)
      for m in METHODS for f, v in zip(FIELDS, CONVENTIONAL[m])],
    *[published(f"{m} {f} Knapp-Hartung Table16.3 p309", get((m, "knha"), f), v, 3)
      for m in METHODS for f, v in zip(FIELDS, KNAPP_HARTUNG[m])],
    *[published(f"{m} mu Huber-White Table16.3 p309", get((m, "hw"), "estimate"), MU[m], 3)
      for m in METHODS],
    *[published(f"{m} {f} Huber-White Table16.3 p309", get((m, "hw"), f), v, 3)
      for m in METHODS for f, v in zip(FIELDS, HUBER_WHITE[m])],
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
