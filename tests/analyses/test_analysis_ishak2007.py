"""Ishak et al. (2007): meta-analysis of longitudinal studies (deep-brain stimulation, UPDRS).

Ishak KJ, Platt RW, Joseph L, Hanley JA, Caro JJ (2007). Meta-analysis of longitudinal studies.
*Clinical Trials* 4:525-539.

Published values as printed in Ishak et al. (2007), Table 1, column "Time-specific
(Independence)", first time point; located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_ishak2007.r in wviechtb/metafor).

Data: dat.ishak2007, first measurement occasion only (fixture ``dat.ishak2007__GEN_y1``: the 24
studies with ``y1i``, ``v1i``). The "Time-specific (Independence)" model has a separate mean and
a separate, independent between-study variance for each time point, with diagonal sampling
covariances; its REML likelihood therefore factorises by time point, and the time-1 column is
exactly the univariate REML random-effects model of the time-1 data, which is what is fitted
here. The other columns of Table 1 (random study effects, correlated time effects, the
multivariate model) need all four time points and the within-study correlation, which the
fixture does not hold, so they are not compared.
"""
from __future__ import annotations

from functools import cache

import pytest
from _data import load_data, printed, published

import metaverdict as mv


@cache
def fit():
    return mv.meta_analysis("yi", "vi", data=load_data("dat.ishak2007__GEN_y1"), method="REML")


CHECKS = [
    published("time 1 mean Table1", lambda: fit().estimate, -24.9, 1),
    published("time 1 tau2 Table1", lambda: fit().tau2, 23.1, 1),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
