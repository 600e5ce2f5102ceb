"""van Houwelingen, Arends & Stijnen (2002): the BCG vaccine trials, univariate analyses and
meta-regression.

van Houwelingen HC, Arends LR, Stijnen T (2002). Advanced methods in meta-analysis:
multivariate approach and meta-regression. *Statistics in Medicine* 21:589-624.

Published values as printed in van Houwelingen et al. (2002), in the text of pages 596, 597,
599 and 608-609; located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_vanhouwelingen2002.r in wviechtb/metafor).

Data: the paper's dataset is metadat's dat.colditz1994, which is the same 13 trials as dat.bcg
("same as dat.colditz1994 - included twice for backwards compatibility reasons", metadat's
data-raw/dat.bcg.r); the fixture ``dat.bcg__OR`` is used, with log odds ratios computed from its
counts. Compared: the fixed-effects pooled odds ratio with 95% CI (p. 596); the ML random-effects
pooled odds ratio, CI and tau² (p. 597); the paper's 95% interval for the true log odds ratios,
mu ± 1.96 tau (p. 599; computed from metaverdict's mu and tau² as the paper does); the ML
meta-regression on absolute latitude (coefficients, SEs, residual tau², R², pp. 608-609).
The paper's Satterthwaite CI for tau² and its bivariate (rma.mv, struct="UN") models are not
implemented by metaverdict and are not compared.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv


@cache
def fits() -> dict:
    df = load_data("dat.bcg__OR")
    es = mv.effect_sizes("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    df["yi"], df["vi"] = es.yi, es.vi
    out = {"fe": mv.meta_analysis("yi", "vi", data=df, method="EE"),
           "ml": mv.meta_analysis("yi", "vi", data=df, method="ML"),
           "reg": mv.meta_analysis("yi", "vi", data=df, method="ML", mods="ablat")}
    ml = out["ml"]
    out["interval"] = ml.estimate + np.array([-1.0, 1.0]) * 1.959964 * np.sqrt(ml.tau2)
    return out


def odds_ratio(model: str, field: str):
    return lambda: float(np.exp(getattr(fits()[model], field)))


def coef(term: int, column: str = "estimate"):
    return lambda: float(fits()["reg"].coefficients[column].iloc[term])


CHECKS = [
    # fixed-effects model, page 596
    published("FE OR p596", odds_ratio("fe", "estimate"), 0.647, 3),
    published("FE OR ci lower p596", odds_ratio("fe", "ci_lower"), 0.595, 3),
    published("FE OR ci upper p596", odds_ratio("fe", "ci_upper"), 0.703, 3,
              xfail="the paper prints 0.703; metafor (whose test records the paper's value) and "
                    "metaverdict both give 0.7024, i.e. 0.702: probably rounded up in the paper"),
    # ML random-effects model, page 597
    published("ML OR p597", odds_ratio("ml", "estimate"), 0.476, 3),
    published("ML OR ci lower p597", odds_ratio("ml", "ci_lower"), 0.336, 3),
    published("ML OR ci upper p597", odds_ratio("ml", "ci_upper"), 0.675, 3),
    published("ML tau2 p597", lambda: fits()["ml"].tau2, 0.302, 3),
    # 95% interval of the true log odds ratios, mu +- 1.96 tau, page 599
    published("ML true-effect interval lower p599", lambda: fits()["interval"][0], -1.820, 3),
    published("ML true-effect interval upper p599", lambda: fits()["interval"][1], 0.336, 3),
    # ML meta-regression on absolute latitude, pages 608-609
    published("reg intercept p608", coef(0), 0.371, 3),
    published("reg slope p608", coef(1), -0.033, 3),
    published("reg se intercept p608", coef(0, "se"), 0.106, 3),
    published("reg se slope p608", coef(1, "se"), 0.003, 3),
    published("reg tau2 p608", lambda: fits()["reg"].tau2, 0.004, 3),
    published("reg R2 percent p609", lambda: fits()["reg"].r2, 98.7, 1),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
