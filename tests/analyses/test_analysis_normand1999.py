"""Normand (1999): the stroke-unit trials (length of hospital stay), fixed- and random-effects.

Normand S-LT (1999). Meta-analysis: formulating, evaluating, combining, and reporting.
*Statistics in Medicine* 18:321-359.

Published values as printed in Normand (1999), Table VIII (page 351) and Table IX (page 352);
located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_normand1999.r in wviechtb/metafor).

Data: dat.normand1999 (fixture ``dat.normand1999__MD``; 9 trials). As in the paper, the mean
differences use the pooled within-trial SD for both groups. Compared: each trial's mean
difference and variance (Table VIII) and the fixed-effects, DerSimonian-Laird and REML pooled
estimates with 95% CIs and tau² (Table IX). The paper's first example (dat.hine1989) is not among
the available datasets.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from _data import load_data, printed, published

import metaverdict as mv

# Table VIII, page 351: mean difference (days) and its variance, per trial in data order
TABLE_VIII_YI = [-20, -2, -55, -71, -4, 1, 11, -10, 7]
TABLE_VIII_VI = [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03, 20.69]


@cache
def fits() -> dict:
    df = load_data("dat.normand1999__MD")
    df["sdp"] = np.sqrt(((df.n1i - 1) * df.sd1i ** 2 + (df.n2i - 1) * df.sd2i ** 2)
                        / (df.n1i + df.n2i - 2))
    es = mv.effect_sizes("MD", data=df, m1i="m1i", sd1i="sdp", n1i="n1i",
                         m2i="m2i", sd2i="sdp", n2i="n2i")
    return {"es": es, **{m: mv.meta_analysis(es, method=m) for m in ("EE", "DL", "REML")}}


def _es(field: str, i: int):
    return lambda: float(getattr(fits()["es"], field)[i])


def _fit(method: str, field: str):
    return lambda: float(getattr(fits()[method], field))


CHECKS = [
    *[published(f"yi trial {i + 1} TableVIII p351", _es("yi", i), y, 2)
      for i, y in enumerate(TABLE_VIII_YI)],
    *[published(f"vi trial {i + 1} TableVIII p351", _es("vi", i), v, 2)
      for i, v in enumerate(TABLE_VIII_VI)],
    # Table IX, page 352
    published("FE mu TableIX p352", _fit("EE", "estimate"), -3.49, 2),
    published("FE ci lower TableIX p352", _fit("EE", "ci_lower"), -5.03, 2),
    published("FE ci upper TableIX p352", _fit("EE", "ci_upper"), -1.96, 2),
    published("DL mu TableIX p352", _fit("DL", "estimate"), -14.10, 2),
    published("DL ci lower TableIX p352", _fit("DL", "ci_lower"), -24.45, 2),
    published("DL ci upper TableIX p352", _fit("DL", "ci_upper"), -3.75, 2),
    published("DL tau2 TableIX p352", _fit("DL", "tau2"), 218.72, 2),
    published("REML mu TableIX p352", _fit("REML", "estimate"), -15.12, 2),
    published("REML ci lower TableIX p352", _fit("REML", "ci_lower"), -32.67, 2),
    published("REML ci upper TableIX p352", _fit("REML", "ci_upper"), 2.43, 2),
    published("REML tau2 TableIX p352", _fit("REML", "tau2"), 685.20, 2),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
