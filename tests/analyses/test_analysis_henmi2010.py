"""Henmi & Copas (2010): robust confidence interval for the acupoint-stimulation trials.

Henmi M, Copas JB (2010). Confidence intervals for random effects meta-analysis and robustness
to publication bias. *Statistics in Medicine* 29:2969-2983.

Published values as printed in Henmi & Copas (2010), page 2978; located via metafor's
analysis-example tests (tests/testthat/test_analysis_example_henmi2010.r in wviechtb/metafor).

Data: dat.lee2004 (fixture ``dat.lee2004__RR``, whose raw counts ``ai, n1i, ci, n2i`` are used
here to compute log odds ratios, as the paper does). Compared: the DerSimonian-Laird
random-effects model (tau², estimate, 95% CI) and the Henmi-Copas estimate and interval.
"""
from __future__ import annotations

from functools import cache

import pytest
from _data import load_data, printed, published

import metaverdict as mv


@cache
def fits() -> dict:
    df = load_data("dat.lee2004__RR")
    es = mv.effect_sizes("OR", data=df, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    res = mv.meta_analysis(es, method="DL")
    return {"dl": res, "hc": mv.henmi_copas(res)}


CHECKS = [
    # DerSimonian-Laird random-effects model, page 2978
    published("DL tau2 p2978", lambda: fits()["dl"].tau2, 0.3325, 4),
    published("DL mu p2978", lambda: fits()["dl"].estimate, -0.6787, 4),
    published("DL ci lower p2978", lambda: fits()["dl"].ci_lower, -1.0664, 4),
    published("DL ci upper p2978", lambda: fits()["dl"].ci_upper, -0.2911, 4),
    # Henmi-Copas method, page 2978
    published("HC estimate p2978", lambda: fits()["hc"].estimate, -0.5145, 4),
    published("HC ci lower p2978", lambda: fits()["hc"].ci_lower, -0.9994, 4),
    published("HC ci upper p2978", lambda: fits()["hc"].ci_upper, -0.0295, 4),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
