"""Viechtbauer (2007a): confidence intervals for tau² in the diuretics / pre-eclampsia trials.

Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
*Statistics in Medicine* 26:37-52.

Published values as printed in Viechtbauer (2007a), Table II (page 44); located via metafor's
analysis-example tests (tests/testthat/test_analysis_example_viechtbauer2007a.r in
wviechtb/metafor).

Data: dat.collins1985b, pre-eclampsia outcome (fixture ``dat.collins1985b__OR``; 9 trials, log
odds ratios from ``pre.xti, pre.nti, pre.xci, pre.nci``). Compared, from Table II:

* tau² by the DL, ML, REML and SJ estimators;
* the Q-profile CI (``tau2_ci()``);
* the profile-likelihood CIs from the ML and REML likelihoods (a ``multilevel`` model with one
  random intercept per trial, whose variance component is tau²);
* the Wald-type CIs tau² ± 1.96 SE(tau²) for ML and REML (from metaverdict's tau² and SE);
* the Sidik-Jonkman interval (k - 1) tau²_SJ / chi²_{k-1; 0.975, 0.025} (from metaverdict's SJ
  tau², by the paper's formula).

The Biggerstaff-Tweedie interval and the bootstrap intervals of Table II are not implemented by
metaverdict (the bootstrap ones are also random), so they are not compared.
"""
from __future__ import annotations

from functools import cache

import pytest
from _data import load_data, printed, published
from scipy import stats

import metaverdict as mv


@cache
def fits() -> dict:
    df = load_data("dat.collins1985b__OR")
    out: dict = {m: mv.meta_analysis("yi", "vi", data=df, method=m)
                 for m in ("DL", "ML", "REML", "SJ")}
    out["q_profile"] = out["DL"].tau2_ci()
    for m in ("ML", "REML"):
        table = mv.multilevel("yi", "vi", groups=["id"], data=df, method=m).profile_ci().table
        out[m, "profile"] = (float(table["ci_lower"].iloc[0]), float(table["ci_upper"].iloc[0]))
        res = out[m]
        out[m, "wald"] = (res.tau2 - 1.96 * res.tau2_se, res.tau2 + 1.96 * res.tau2_se)
    sj, k = out["SJ"], out["SJ"].k
    out["sj_ci"] = ((k - 1) * sj.tau2 / stats.chi2.ppf(0.975, k - 1),
                    (k - 1) * sj.tau2 / stats.chi2.ppf(0.025, k - 1))
    return out


def bound(key, side: int):
    return lambda: float(fits()[key][side])


CHECKS = [
    # Table II, page 44: point estimates
    published("DL tau2 TableII p44", lambda: fits()["DL"].tau2, 0.230, 3),
    published("ML tau2 TableII p44", lambda: fits()["ML"].tau2, 0.239, 3),
    published("REML tau2 TableII p44", lambda: fits()["REML"].tau2, 0.301, 3),
    published("SJ tau2 TableII p44", lambda: fits()["SJ"].tau2, 0.456, 3),
    # Table II, page 44: 95% CIs for tau^2
    published("Q-profile lower TableII p44", bound("q_profile", 0), 0.072, 3),
    published("Q-profile upper TableII p44", bound("q_profile", 1), 2.203, 3),
    published("ML profile lower TableII p44", bound(("ML", "profile"), 0), 0.027, 3),
    published("ML profile upper TableII p44", bound(("ML", "profile"), 1), 1.131, 3),
    published("REML profile lower TableII p44", bound(("REML", "profile"), 0), 0.043, 3),
    published("REML profile upper TableII p44", bound(("REML", "profile"), 1), 1.475, 3),
    published("ML Wald lower TableII p44", bound(("ML", "wald"), 0), -0.101, 3),
    published("ML Wald upper TableII p44", bound(("ML", "wald"), 1), 0.578, 3),
    published("REML Wald lower TableII p44", bound(("REML", "wald"), 0), -0.131, 3),
    published("REML Wald upper TableII p44", bound(("REML", "wald"), 1), 0.732, 3),
    published("SJ interval lower TableII p44", bound("sj_ci", 0), 0.208, 3),
    published("SJ interval upper TableII p44", bound("sj_ci", 1), 1.675, 3),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)

