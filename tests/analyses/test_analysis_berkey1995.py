"""Berkey, Hoaglin, Mosteller & Colditz (1995): random-effects meta-regression of the BCG trials.

Berkey CS, Hoaglin DC, Mosteller F, Colditz GA (1995). A random-effects regression model for
meta-analysis. *Statistics in Medicine* 14:395-411.

Published values as printed in Berkey et al. (1995), page 408; located via metafor's
analysis-example tests (tests/testthat/test_analysis_example_berkey1995.r in wviechtb/metafor).

Data: dat.bcg (fixture ``dat.bcg__RR``: the 13 trials' 2x2 counts). Log risk ratios with the
paper's "smoothed" sampling variances (the same variance formula for every trial, built from the
pooled within-group odds of being TB-negative); tau² by the empirical Bayes (EB) estimator;
absolute latitude centred at 33.46.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv

LAST_DIGIT = ("Berkey et al. print {paper}; metafor's own test (which records the article's value "
              "in a comment) and metaverdict both give {ours}: the article's last digit differs, "
              "most likely from rounding of intermediate results")


@cache
def fits() -> dict:
    df = load_data("dat.bcg__RR")
    k = len(df)
    df["yi"] = mv.effect_sizes("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg").yi
    df["vi"] = (np.sum(df.tneg / df.tpos) / (k * (df.tneg + df.tpos))
                + np.sum(df.cneg / df.cpos) / (k * (df.cneg + df.cpos)))
    df["ablat_c"] = df.ablat - 33.46
    out = {
        "re": mv.meta_analysis("yi", "vi", data=df, method="EB"),
        "me": mv.meta_analysis("yi", "vi", data=df, method="EB", mods="ablat_c"),
        "fe": mv.meta_analysis("yi", "vi", data=df, method="EE", mods="ablat_c"),
    }
    at = [[33.46 - 33.46], [42 - 33.46]]          # latitudes 33.46 and 42 degrees
    out["me_rr"] = np.exp(mv.predict(out["me"], newmods=at)["pred"].to_numpy())
    out["fe_rr"] = np.exp(mv.predict(out["fe"], newmods=at)["pred"].to_numpy())
    return out


def coef(model: str, term: int, column: str = "estimate") -> float:
    return float(fits()[model].coefficients[column].iloc[term])


CHECKS = [
    # random-effects model (EB), page 408
    published("RE mu p408", lambda: fits()["re"].estimate, -0.5429, 4),
    published("RE se p408", lambda: fits()["re"].se, 0.1842, 4),
    published("RE tau2 p408", lambda: fits()["re"].tau2, 0.268, 3),
    # mixed-effects model with latitude (EB), page 408
    published("ME intercept p408", lambda: coef("me", 0), -0.6304, 4,
              xfail=LAST_DIGIT.format(paper="-0.6304", ours="-0.6303")),
    published("ME slope p408", lambda: coef("me", 1), -0.0268, 4),
    published("ME se intercept p408", lambda: coef("me", 0, "se"), 0.1591, 4),
    published("ME se slope p408", lambda: coef("me", 1, "se"), 0.0110, 4),
    published("ME tau2 p408", lambda: fits()["me"].tau2, 0.157, 3),
    published("ME R2 percent p408", lambda: fits()["me"].r2, 41, 0),
    published("ME RR at 33.46 p408", lambda: fits()["me_rr"][0], 0.53, 2),
    published("ME RR at 42 p408", lambda: fits()["me_rr"][1], 0.42, 2),
    # fixed-effects meta-regression, page 408
    published("FE intercept p408", lambda: coef("fe", 0), -0.5950, 4,
              xfail=LAST_DIGIT.format(paper="-0.5950", ours="-0.5949")),
    published("FE slope p408", lambda: coef("fe", 1), -0.0282, 4),
    published("FE se intercept p408", lambda: coef("fe", 0, "se"), 0.0696, 4),
    published("FE se slope p408", lambda: coef("fe", 1, "se"), 0.0039, 4,
              xfail=LAST_DIGIT.format(paper="0.0039", ours="0.0040")),
    published("FE RR at 33.46 p408", lambda: fits()["fe_rr"][0], 0.55, 2),
    published("FE RR at 42 p408", lambda: fits()["fe_rr"][1], 0.43, 2),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
