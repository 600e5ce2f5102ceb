"""Raudenbush & Bryk (1985): empirical Bayes meta-analysis of the teacher-expectancy studies.

Raudenbush SW, Bryk AS (1985). Empirical Bayes meta-analysis. *Journal of Educational
Statistics* 10:75-98.

Published values as printed in Raudenbush & Bryk (1985), in the text of pages 83, 85 and 86
(random-effects model) and pages 90 and 92 (model with weeks of prior contact); located via
metafor's analysis-example tests (tests/testthat/test_analysis_example_raudenbush1985.r in
wviechtb/metafor).

Data: dat.raudenbush1985 (fixture ``dat.raudenbush1985__GEN``; 19 studies, standardized mean
differences as given in the dataset). REML estimation; the moderator is weeks of teacher-student
contact before the expectancy induction, capped at 3 (0, 1, 2, 3 or more) as in the paper. The
empirical Bayes estimates shown in the paper's Figure 2 are not compared (a figure, not printed
numbers).
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv

Q_ROUNDED = ("the paper prints Q = {paper}; metafor (whose test records the paper's value) and "
             "metaverdict both give {ours} from the dataset's yi (2 decimals) and vi: the paper "
             "presumably computed Q from unrounded effect sizes")
@cache
def fits() -> dict:
    df = load_data("dat.raudenbush1985__GEN")
    df["weeks_c"] = np.minimum(df.weeks, 3)
    return {"re": mv.meta_analysis("yi", "vi", data=df, method="REML"),
            "me": mv.meta_analysis("yi", "vi", data=df, method="REML", mods="weeks_c")}


def coef(model: str, term: int, column: str = "estimate") -> float:
    return float(fits()[model].coefficients[column].iloc[term])


CHECKS = [
    # random-effects model, pages 83, 85, 86
    published("RE tau2 p83-86", lambda: fits()["re"].tau2, 0.0188, 4),
    published("RE mu p83-86", lambda: fits()["re"].estimate, 0.0837, 4),
    published("RE Q p83-86", lambda: fits()["re"].q, 35.85, 2,
              xfail=Q_ROUNDED.format(paper="35.85", ours="35.83")),
    published("RE z p83-86", lambda: fits()["re"].statistic, 1.6208, 4),
    # mixed-effects model with weeks of prior contact, pages 90 and 92
    published("ME tau2 p90-92", lambda: fits()["me"].tau2, 0.0000, 4),
    published("ME intercept p90-92", lambda: coef("me", 0), 0.4072, 4),
    published("ME slope p90-92", lambda: coef("me", 1), -0.1572, 4),
    published("ME Q p90-92", lambda: fits()["me"].q, 16.58, 2,
              xfail=Q_ROUNDED.format(paper="16.58", ours="16.57")),
    # The z statistics of this model are not compared: the values metafor's test lists for
    # pages 90-92 (4.6782, -4.3884) are its own output truncated to 4 decimals, not numbers
    # recorded as printed in the paper.
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
