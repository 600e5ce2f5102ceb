"""van Houwelingen, Zwinderman & Stijnen (1993): equal- and random-effects conditional logistic
models (hypergeometric likelihood) for 25 trials of H2 antagonists in upper GI bleeding.

van Houwelingen HC, Zwinderman KH, Stijnen T (1993). A bivariate approach to meta-analysis.
*Statistics in Medicine* 12:2273-2284.

Published values as printed on page 2275 (equal-effects model, in the text) and page 2277
(random-effects model, in the text); located via metafor's analysis-example test
(tests/testthat/test_analysis_example_vanhouwelingen1993.r in wviechtb/metafor, "compare with
results on page 2275 / 2277 (in text)"): a secondary source, the article itself was not
available to check. Where that file records the paper's own number ("0.31 in paper", upper CI
limit of the equal-effects model) the paper's number is used.

Not compared: the standard errors and CI bounds other than that upper limit. The two stored
revisions of metafor's test disagree on them (equal effects: SE 0.100 / 0.099, lower limit
-0.074 / -0.073; random effects: SE 0.134 / 0.136, limits -0.088 / -0.092 and 0.437 / 0.441),
so those expected values follow metafor's output of the time rather than a number printed in
the paper, and which (if either) is the paper's cannot be told from the file.

Data: dat.collins1985a (fixture ``dat.collins1985a__OR``, persistent or recurrent bleeding; the
2 trials without this outcome are already dropped, 25 remain, of which the double-zero trial
carries no conditional information). As in the paper, the log odds ratio is control versus
treatment (positive = fewer bleedings on treatment): group 1 is the control arm.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from _data import load_data, printed, published

from metaverdict.models.glmm import GLMMResult, meta_analysis_glmm


@cache
def fit(method: str) -> GLMMResult:
    return meta_analysis_glmm("OR", data=load_data("dat.collins1985a__OR"), ai="b.xci",
                              n1i="nci", ci="b.xti", n2i="nti", model="CM.EL", method=method)


def get(method: str, field: str) -> Any:
    return lambda: float(getattr(fit(method), field))


def loglik(method: str) -> Any:
    return lambda: float(fit(method).fit_statistics.ll_ml)


# The random-effects optimum, checked independently (scipy quad over the normal random effect
# with Nelder-Mead): mu = 0.174406, tau2 = 0.119210, log-likelihood -52.990086; metafor 3.8-1
# gives the same (0.174406, 0.119210, -52.990086). The numbers metafor's test attributes to
# p. 2277 (0.175, -52.989; the same in both stored revisions) lie just off this optimum: an
# approximate integration in the original analysis (or in the metafor version the test was
# written against) would explain it, but the test file cannot tell which.
ML_OPTIMUM = ("not at the ML optimum of the exact model: metaverdict and metafor 3.8-1 both "
              "find {ours}")

CHECKS = [
    # p. 2275 (text): equal-effects conditional logistic model
    published("EE log OR p2275", get("EE", "estimate"), 0.122, 3),
    published("EE logLik p2275", loglik("EE"), -53.679, 3),
    published("EE ci.ub p2275", get("EE", "ci_upper"), 0.31, 2,
              xfail="the paper prints 0.31; the upper limit is 0.3167 (metafor 3.8-1: "
                    "0.3165), which rounds to 0.32 (metafor's test records the same)"),
    # p. 2277 (text): random-effects conditional logistic model (ML)
    published("RE log OR p2277", get("ML", "estimate"), 0.175, 3, xfail=ML_OPTIMUM.format(
        ours="log OR 0.17441, which rounds to 0.174")),
    published("RE tau2 p2277", get("ML", "tau2"), 0.119, 3),
    published("RE logLik p2277", loglik("ML"), -52.989, 3, xfail=ML_OPTIMUM.format(
        ours="log-likelihood -52.99009, which rounds to -52.990")),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value: Any, expected: float, decimals: int) -> None:
    assert value() == printed(expected, decimals)
