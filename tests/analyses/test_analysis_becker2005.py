"""Becker (2005): fail-safe N for three example meta-analyses.

Becker BJ (2005). Failsafe N or file-drawer number. In Rothstein HR, Sutton AJ, Borenstein M
(eds.), *Publication Bias in Meta-Analysis: Prevention, Assessment and Adjustments*
(pp. 111-125). Chichester: Wiley.

Published values as printed in Becker (2005), chapter 7; located via metafor's tests
(tests/testthat/test_misc_fsn.r in wviechtb/metafor, revision 041769fa and earlier, whose
comments state Becker's results; the test does not give the page, so none is cited here).

Data: the teacher-expectancy studies (fixture ``dat.raudenbush1985__GEN``), the passive-smoking
studies (``dat.hackshaw1998__GEN``, log odds ratios) and the employment-interview validities
(``dat.mcdaniel1994__ZCOR``, Fisher's z from ``ri``, ``ni``). Compared:

* Orwin's fail-safe N as Becker computes it: k (mu - target) / target with mu the
  inverse-variance (common-effect) estimate, targets 0.05, 0.049 and 0.15. metaverdict's
  ``fail_safe_n(kind="Orwin")`` weights the mean by default as metafor 5 does (``weighted=False``
  for Orwin's unweighted mean, metafor 3.8) and rounds up, so the unrounded number is built here
  from metaverdict's common-effect estimate.
* Rosenthal's fail-safe N. Becker reports N of about 23, 398 and 51226; metafor's test explains
  that Becker used p-values from t tests (23, 51226) and rounded inputs (398), while metaverdict,
  like metafor, uses Stouffer's z (26, 393, 50364): these three checks are expected failures.
"""
from __future__ import annotations

from functools import cache

import pytest
from _data import load_data, printed, published

import metaverdict as mv

CASES = {"expectancy": ("dat.raudenbush1985__GEN", 0.05),
         "passive smoking": ("dat.hackshaw1998__GEN", 0.049),
         "interview": ("dat.mcdaniel1994__ZCOR", 0.15)}


@cache
def fits(name: str) -> dict:
    case_id, target = CASES[name]
    df = load_data(case_id)
    fe = mv.meta_analysis("yi", "vi", data=df, method="EE")
    return {"orwin": fe.k * (fe.estimate - target) / target,
            "rosenthal": mv.fail_safe_n(df.yi, df.vi, kind="Rosenthal").n}


def get(name: str, field: str):
    return lambda: float(fits(name)[field])


T_TESTS = ("Becker used p-values from t tests; metaverdict (like metafor) combines z "
           "statistics (Stouffer) and gets {ours}")

CHECKS = [
    published("expectancy Orwin N", get("expectancy", "orwin"), 4, 0),
    published("passive smoking Orwin N", get("passive smoking", "orwin"), 103, 0),
    published("interview Orwin N", get("interview", "orwin"), 64, 0),
    published("expectancy Rosenthal N", get("expectancy", "rosenthal"), 23, 0,
              xfail=T_TESTS.format(ours="26")),
    published("passive smoking Rosenthal N", get("passive smoking", "rosenthal"), 398, 0,
              xfail="Becker's N of about 398 comes from rounded inputs (metafor's test); "
                    "metaverdict, like metafor, gets 393 from the dataset"),
    published("interview Rosenthal N", get("interview", "rosenthal"), 51226, 0,
              xfail=T_TESTS.format(ours="50364")),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)
