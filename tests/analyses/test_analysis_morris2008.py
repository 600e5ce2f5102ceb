"""Morris (2008): standardized mean changes for pretest-posttest-control designs.

Morris SB (2008). Estimating effect sizes from pretest-posttest-control group designs.
*Organizational Research Methods* 11(2):364-386.

Data: the five training-effectiveness studies of Carlson & Schmidt (1999) that Morris uses,
typed from Morris (2008), Table 1 (page 368): per group the pre- and post-test means and SDs, the
group size and the pre-post correlation (as on metafor's analyses:morris2008 page). Published
values located via metafor's analysis-example test (tests/testthat/
test_analysis_example_morris2008.r in wviechtb/metafor), which attributes only the differences
below to the paper ("compare with results on page 368 (Table 1)").

Compared: each study's difference of the treatment and control groups' standardized mean
changes with raw-score standardization (Becker 1988; ``measure="SMCR"``: post minus pre over
the pre-test SD, bias-corrected with c(n - 1)), printed with two decimals in Table 1, p. 368.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from _data import printed, published

import metaverdict as mv

# Morris (2008), Table 1, p. 368: treatment (T) and control (C) groups of the five studies
TREATMENT = pd.DataFrame({
    "m_pre": [30.6, 23.5, 0.5, 53.4, 35.6], "m_post": [38.5, 26.8, 0.7, 75.9, 36.0],
    "sd_pre": [15.0, 3.1, 0.1, 14.5, 4.7], "sd_post": [11.6, 4.1, 0.1, 4.4, 4.6],
    "ni": [20, 50, 9, 10, 14], "ri": [0.47, 0.64, 0.77, 0.89, 0.44]})
CONTROL = pd.DataFrame({
    "m_pre": [23.1, 24.9, 0.6, 55.7, 34.8], "m_post": [19.7, 25.3, 0.6, 60.7, 33.4],
    "sd_pre": [13.8, 4.1, 0.2, 17.3, 3.1], "sd_post": [14.8, 3.3, 0.2, 17.9, 6.9],
    "ni": [20, 42, 9, 11, 14], "ri": [0.47, 0.64, 0.77, 0.89, 0.44]})
# Table 1, p. 368: g_T - g_C per study (raw-score standardized mean changes)
TABLE_1_DIFFERENCE = [0.74, 0.95, 1.81, 1.15, 0.51]


@cache
def differences() -> np.ndarray:
    def smcr(df: pd.DataFrame) -> mv.EffectSizes:
        return mv.effect_sizes("SMCR", data=df, m1i="m_post", m2i="m_pre", sd1i="sd_pre",
                               ni="ni", ri="ri")
    return smcr(TREATMENT).yi - smcr(CONTROL).yi


CHECKS = [published(f"g_T - g_C study {i + 1} Table1 p368",
                    lambda i=i: float(differences()[i]), d, 2)
          for i, d in enumerate(TABLE_1_DIFFERENCE)]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value, expected, decimals):
    assert value() == printed(expected, decimals)

