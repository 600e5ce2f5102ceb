"""Stijnen, Hamza & Ozdemir (2010): GLMMs for event outcomes, on sparse catheter-infection data.

Stijnen T, Hamza TH, Ozdemir P (2010). Random effects meta-analysis of event outcome in the
framework of the generalized linear mixed model with applications in sparse data.
*Statistics in Medicine* 29:3046-3067.

Published values as printed in Table II (p. 3050), Table III (p. 3052), Table VII (p. 3054)
and Table VIII (p. 3055); located via metafor's analysis-example tests
(tests/testthat/test_analysis_example_stijnen2010.r in wviechtb/metafor), which record where
the paper prints a number other than metafor's (the paper's number is used here).

Data: dat.nielweise2007 (catheter-related bloodstream infections, 2x2 tables) and
dat.nielweise2008 (infections per 1000 catheter days), raw counts only, from the data sets
saved with tests/data/glmm/glmm_reference.json. Compared: the binomial-normal model for the
infection risk of each group (PLO), the conditional hypergeometric-normal (CM.EL) and
binomial-normal (CM.AL) models for the odds ratio, the Poisson-normal model for each group's
rate (IRLN) and the conditional Poisson-normal model for the rate ratio (IRR, CM.EL).
"""
from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _data import printed, published
from scipy import special

from metaverdict.models.glmm import GLMMResult, meta_analysis_glmm

DATA = Path(__file__).resolve().parent.parent / "data" / "glmm" / "glmm_reference.json"


@cache
def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(json.loads(DATA.read_text())["datasets"][name])


@cache
def fits() -> dict[str, GLMMResult]:
    d7 = _data("dat.nielweise2007")
    d8 = _data("dat.nielweise2008").assign(t1i=lambda d: d["t1i"] / 1000,
                                           t2i=lambda d: d["t2i"] / 1000)
    tables = dict(ai="ai", n1i="n1i", ci="ci", n2i="n2i")
    return {
        "plo_control": meta_analysis_glmm("PLO", data=d7, xi="ci", ni="n2i"),
        "plo_treated": meta_analysis_glmm("PLO", data=d7, xi="ai", ni="n1i"),
        "cmel": meta_analysis_glmm("OR", data=d7, model="CM.EL", **tables),
        "cmal": meta_analysis_glmm("OR", data=d7, model="CM.AL", **tables),
        "irln_control": meta_analysis_glmm("IRLN", data=d8, xi="x2i", ti="t2i"),
        "irln_treated": meta_analysis_glmm("IRLN", data=d8, xi="x1i", ti="t1i"),
        "irr": meta_analysis_glmm("IRR", data=d8, x1i="x1i", t1i="t1i", x2i="x2i", t2i="t2i",
                                  model="CM.EL"),
    }


def _ilogit(name: str, what: str) -> Any:
    return lambda: float(special.expit(getattr(fits()[name], what)))


def _exp(name: str, what: str) -> Any:
    return lambda: math.exp(getattr(fits()[name], what))


def _get(name: str, what: str) -> Any:
    return lambda: getattr(fits()[name], what)


def _tau(name: str) -> Any:
    return lambda: math.sqrt(fits()[name].tau2)


CHECKS = [
    # Table II (p. 3050): binomial-normal model, control group
    published("PLO control mu TableII", _get("plo_control", "estimate"), -3.50, 2),
    published("PLO control se TableII", _get("plo_control", "se"), 0.26, 2),
    published("PLO control tau2 TableII", _get("plo_control", "tau2"), 0.81, 2),
    published("PLO control risk TableII", _ilogit("plo_control", "estimate"), 0.029, 3),
    published("PLO control ci.lb TableII", _ilogit("plo_control", "ci_lower"), 0.018, 3),
    published("PLO control ci.ub TableII", _ilogit("plo_control", "ci_upper"), 0.048, 3),
    # Table II (p. 3050): binomial-normal model, treated group
    published("PLO treated mu TableII", _get("plo_treated", "estimate"), -4.81, 2),
    published("PLO treated se TableII", _get("plo_treated", "se"), 0.36, 2),
    published("PLO treated tau2 TableII", _get("plo_treated", "tau2"), 0.83, 2),
    published("PLO treated risk TableII", _ilogit("plo_treated", "estimate"), 0.008, 3),
    published("PLO treated ci.lb TableII", _ilogit("plo_treated", "ci_lower"), 0.004, 3),
    published("PLO treated ci.ub TableII", _ilogit("plo_treated", "ci_upper"), 0.016, 3),
    # Table III (p. 3052): conditional logistic model, exact (hypergeometric) likelihood
    published("CM.EL log OR TableIII", _get("cmel", "estimate"), -1.353, 3),
    published("CM.EL se TableIII", _get("cmel", "se"), 0.351, 3),
    published("CM.EL tau TableIII", _tau("cmel"), 0.83, 2),
    published("CM.EL OR TableIII", _exp("cmel", "estimate"), 0.25, 2,
              xfail="the paper prints 0.25; exp(-1.353) = 0.258 rounds to 0.26 (metafor's "
                    "test records the same)"),
    published("CM.EL ci.lb TableIII", _exp("cmel", "ci_lower"), 0.13, 2),
    published("CM.EL ci.ub TableIII", _exp("cmel", "ci_upper"), 0.51, 2),
    # Table III (p. 3052): conditional logistic model, approximate (binomial) likelihood
    published("CM.AL log OR TableIII", _get("cmal", "estimate"), -1.303, 3),
    published("CM.AL se TableIII", _get("cmal", "se"), 0.339, 3),
    published("CM.AL tau TableIII", _tau("cmal"), 0.77, 2,
              xfail="the paper prints 0.77; tau = 0.7750 (as metafor's 0.78), just past the "
                    "rounding boundary"),
    published("CM.AL OR TableIII", _exp("cmal", "estimate"), 0.27, 2),
    published("CM.AL ci.lb TableIII", _exp("cmal", "ci_lower"), 0.14, 2),
    published("CM.AL ci.ub TableIII", _exp("cmal", "ci_upper"), 0.53, 2),
    # Table VII (p. 3054): Poisson-normal model, control group (rates per 1000 days)
    published("IRLN control mu TableVII", _get("irln_control", "estimate"), 1.401, 3),
    published("IRLN control se TableVII", _get("irln_control", "se"), 0.231, 3),
    published("IRLN control tau2 TableVII", _get("irln_control", "tau2"), 0.316, 3,
              xfail="the paper prints 0.316; tau2 = 0.3165 rounds to 0.317 (metafor: 0.317)"),
    published("IRLN control rate TableVII", _exp("irln_control", "estimate"), 4.06, 2),
    published("IRLN control ci.lb TableVII", _exp("irln_control", "ci_lower"), 2.58, 2),
    published("IRLN control ci.ub TableVII", _exp("irln_control", "ci_upper"), 6.38, 2),
    # Table VII (p. 3054): Poisson-normal model, treated group
    published("IRLN treated mu TableVII", _get("irln_treated", "estimate"), 0.850, 3,
              xfail="the paper prints 0.850; 0.8494 rounds to 0.849 (metafor: 0.849)"),
    published("IRLN treated se TableVII", _get("irln_treated", "se"), 0.330, 3),
    published("IRLN treated tau2 TableVII", _get("irln_treated", "tau2"), 0.654, 3),
    published("IRLN treated rate TableVII", _exp("irln_treated", "estimate"), 2.34, 2),
    published("IRLN treated ci.lb TableVII", _exp("irln_treated", "ci_lower"), 1.23, 2,
              xfail="the paper prints 1.23; 1.2240 rounds to 1.22 (metafor: 1.22)"),
    published("IRLN treated ci.ub TableVII", _exp("irln_treated", "ci_upper"), 4.47, 2),
    # Table VIII (p. 3055): conditional Poisson-normal model for the rate ratio
    published("IRR log IRR TableVIII", _get("irr", "estimate"), -0.476, 3),
    published("IRR se TableVIII", _get("irr", "se"), 0.238, 3),
    published("IRR tau TableVIII", _tau("irr"), 0.35, 2),
    published("IRR rate ratio TableVIII", _exp("irr", "estimate"), 0.62, 2),
    published("IRR ci.lb TableVIII", _exp("irr", "ci_lower"), 0.39, 2),
    published("IRR ci.ub TableVIII", _exp("irr", "ci_upper"), 0.99, 2),
]


@pytest.mark.parametrize(("value", "expected", "decimals"), CHECKS)
def test_published_value(value: Any, expected: float, decimals: int) -> None:
    assert value() == printed(expected, decimals)
