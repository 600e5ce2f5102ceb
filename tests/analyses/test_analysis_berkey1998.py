"""Berkey, Hoaglin, Antczak-Bouckoms, Mosteller & Colditz (1998): multivariate meta-regression
of two periodontal outcomes (probing depth PD, attachment level AL) on publication year.

Berkey CS, Hoaglin DC, Antczak-Bouckoms A, Mosteller F, Colditz GA (1998). Meta-analysis of
multiple outcomes by regression with random effects. *Statistics in Medicine* 17:2537-2550.

Published values as printed in Berkey et al. (1998), Table II (page 2545); located via
metafor's analysis-example test (tests/testthat/test_analysis_example_berkey1998.r in
wviechtb/metafor, "compare with results on page 2545 (Table II)"). Values that file marks as
"not given in paper" are not used.

Data: dat.berkey1998 (5 trials, 2 outcomes each, with the within-trial covariance matrices),
stored with the rma_mv fixtures (tests/data/rma_mv/berkey1998.json, ``data`` and ``V``; only
the study data are used here). Model: ML, one intercept and one year slope (year - 1983) per
outcome, an unstructured 2 x 2 between-trial covariance (``struct="UN"``).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _data import printed, published

from metaverdict.models.multivariate import multivariate

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "rma_mv" / "berkey1998.json"


@cache
def fit() -> Any:
    case = json.loads(FIXTURE.read_text())
    df = pd.DataFrame(case["data"])
    return multivariate("yi", np.array(case["V"]), data=df, random="~ outcome | trial",
                        struct="UN", method="ML",
                        mods="C(outcome) + C(outcome):I(year - 1983) - 1")


def coef(term: int, column: str = "estimate") -> float:
    return float(fit().coefficients[column].iloc[term])


# coefficient order: AL intercept, PD intercept, AL slope, PD slope (metafor's ~ 0 + outcome +
# outcome:I(year - 1983)); the paper's rows are the same quantities
CHECKS = [
    published("AL intercept Table2 p2545", lambda: coef(0), -0.3351, 4),
    published("PD intercept Table2 p2545", lambda: coef(1), 0.3479, 4),
    published("AL year slope Table2 p2545", lambda: coef(2), -0.0108, 4),
    published("PD year slope Table2 p2545", lambda: coef(3), 0.0010, 4),
    published("AL intercept se Table2 p2545", lambda: coef(0, "se"), 0.0787, 4),
    published("PD intercept se Table2 p2545", lambda: coef(1, "se"), 0.0520, 4),
    published("AL slope se Table2 p2545", lambda: coef(2, "se"), 0.0243, 4),
    published("PD slope se Table2 p2545", lambda: coef(3, "se"), 0.0154, 4),
    published("tau2 AL Table2 p2545", lambda: float(fit().tau2[0]), 0.0250, 4),
    published("tau2 PD Table2 p2545", lambda: float(fit().tau2[1]), 0.0080, 4),
    published("rho Table2 p2545", lambda: float(fit().rho[0]), 0.6587, 4),
    published("covariance Table2 p2545",
              lambda: float(fit().rho[0] * np.sqrt(fit().tau2[0] * fit().tau2[1])), 0.0093, 4),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value: Any, expected: float, decimals: int) -> None:
    assert value() == printed(expected, decimals)
