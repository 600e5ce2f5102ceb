"""Selection-model features of metafor 5 that 3.8-1 lacks, against the values metafor's own
test suite asserts for them (wviechtb/metafor, tests/testthat/test_misc_selmodel.r, on
dat.hackshaw1998 with an ML random-effects fit; metafor checks them at a relative 1e-2, here
1e-4 where the value is an interior optimum):

* ``type="trunc"``, the truncated distribution model (cut-point 0): δ 0.3818424 (SE
  0.2235527), LRT 3.054457 on 1 df, tau² 0.02677134; profile CIs tau² (0.001693, 0.099835),
  δ (0.108796, 1.116679);
* ``decreasing=TRUE`` with steps (.05, .10, .50, 1): δ (1, 0.999966, 0.442781, 0.148179);
* ``control=list(delta.max=1)``, our ``delta_max=1``: δ (1, 0.999950, 0.442783, 0.148181),
  with a warning that an estimate is at its bound.

``subset=`` (metafor 5, no value asserted there) is checked against its likelihood computed
here with SciPy.

δ₂ lies on the constraint's boundary (1) in the last two: there the optimiser's stopping
point decides the digits, so δ₂ is compared at 1e-4 absolute.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.models.selection import selection_model

from conftest import assert_close

DATA = Path(__file__).resolve().parent.parent / "data" / "selmodel" / "selmodel_extras.json"


@cache
def hackshaw_ml() -> mv.MetaAnalysisResult:
    h = json.loads(DATA.read_text())["hackshaw"]      # dat.hackshaw1998's yi and vi
    return mv.meta_analysis(h["yi"], h["vi"], method="ML")


def test_truncated_distribution_model() -> None:
    sel = selection_model(hackshaw_ml(), "trunc")
    assert sel.steps == (0.0,) and sel.estimated_parameters == ("tau2", "delta")
    assert_close(sel.delta, [0.3818424], "delta", rtol=1e-4)
    assert_close(sel.selection_parameters["se"].to_numpy(), [0.2235527], "se.delta",
                 rtol=1e-4)
    assert_close(sel.lrt, 3.054457, "LRT", rtol=1e-5)
    assert sel.lrt_df == 1
    assert_close(sel.tau2, 0.02677134, "tau2", rtol=2e-4)
    table = sel.profile_ci().table
    assert_close(table.loc["tau2", ["ci_lower", "ci_upper"]].to_numpy(float),
                 [0.001693, 0.099835], "tau2 CI", rtol=1e-3, atol=1e-5)
    assert_close(table.loc["delta", ["ci_lower", "ci_upper"]].to_numpy(float),
                 [0.108796, 1.116679], "delta CI", rtol=1e-4)


def test_truncated_model_directions_and_cutpoint() -> None:
    """alternative='less' mirrors the selection (negated effects give the same δ); the
    cut-point moves with ``steps``; no selection (δ = 1) gives the model without it."""
    res = hackshaw_ml()
    neg = mv.meta_analysis(-np.asarray(res.yi), res.vi, method="ML")
    a = selection_model(res, "trunc")
    b = selection_model(neg, "trunc", alternative="less")
    assert_close(b.delta, a.delta, "mirrored delta", rtol=1e-5)
    assert_close(b.estimate, -a.estimate, "mirrored estimate", rtol=1e-5)
    none = selection_model(res, "trunc", delta=1.0)
    assert_close(none.loglik, res.fit_statistics.ll_ml, "ll without selection", rtol=1e-9)
    shifted = selection_model(res, "trunc", steps=0.2)
    assert shifted.steps == (0.2,) and not np.isclose(shifted.delta[0], a.delta[0])


def test_truncated_model_bad_input() -> None:
    res = hackshaw_ml()
    with pytest.raises(InputError, match="one-sided"):
        selection_model(res, "trunc", alternative="two.sided")
    with pytest.raises(InputError, match="one finite cut-point"):
        selection_model(res, "trunc", steps=[0.0, 0.5])
    with pytest.raises(InputError, match="precision measure"):
        selection_model(res, "trunc", prec="sei")
    with pytest.raises(InputError, match="effect sizes, not their p-values"):
        selection_model(res, "trunc").weight_function()


def test_decreasing_step_function() -> None:
    sel = selection_model(hackshaw_ml(), "stepfun", steps=[0.05, 0.10, 0.50, 1],
                          decreasing=True)
    assert np.all(np.diff(sel.delta) <= 0)
    assert_close(sel.delta[[0, 2, 3]], [1, 0.442781, 0.148179], "delta", rtol=1e-4)
    assert_close(sel.delta[1], 0.999966, "delta.2 (at the boundary)", rtol=0, atol=1e-4)
    assert list(sel.profile_ci().table.index) == ["tau2"]
    with pytest.raises(InputError, match="cannot be profiled"):
        mv.likelihood_profile(sel, component="delta.2")


def test_delta_max_one() -> None:
    with pytest.warns(UserWarning, match="bound"):
        sel = selection_model(hackshaw_ml(), "stepfun", steps=[0.05, 0.10, 0.50, 1],
                              delta_max=1)
    assert_close(sel.delta[[0, 2, 3]], [1, 0.442783, 0.148181], "delta", rtol=1e-4)
    assert_close(sel.delta[1], 0.999950, "delta.2 (at the bound)", rtol=0, atol=1e-4)


def test_decreasing_bad_input() -> None:
    res = hackshaw_ml()
    with pytest.raises(InputError, match="decreasing"):
        selection_model(res, "beta", decreasing=True)
    with pytest.raises(InputError, match="decreasing"):
        selection_model(res, "stepfun", steps=[0.05, 0.5], delta=[1, 0.5, np.nan],
                        decreasing=True)
    with pytest.raises(InputError, match="True or False"):
        selection_model(res, "stepfun", steps=0.05, decreasing="yes")


def test_subset_likelihood() -> None:
    """With ``subset``, the other studies enter with their plain normal likelihood: the
    maximised log-likelihood is, at the estimates, the sum of the normal log densities of
    those studies and of the selection-weighted ones (computed here with SciPy)."""
    from scipy import stats

    res = hackshaw_ml()
    y, v = np.asarray(res.yi), np.asarray(res.vi)
    subset = np.arange(len(y)) % 3 != 0
    sel = selection_model(res, "stepfun", steps=0.025, subset=subset)
    mu, t2, d2 = sel.estimate, sel.tau2, sel.delta[1]
    sd = np.sqrt(v + t2)
    log_dens = stats.norm.logpdf(y, mu, sd)
    p = stats.norm.sf(y / np.sqrt(v))
    cut = stats.norm.isf(0.025) * np.sqrt(v)            # p <= .025  <=>  y >= cut
    above = stats.norm.sf(cut, mu, sd)
    area = above + d2 * (1 - above)
    weighted = np.where(p <= 0.025, 0.0, np.log(d2)) - np.log(area)
    want = float(np.sum(log_dens) + np.sum(weighted[subset]))
    assert_close(sel.loglik, want, "loglik", rtol=1e-12)
    assert sum(sel.p_table or ()) == int(subset.sum())
    full = selection_model(res, "stepfun", steps=0.025)
    same = selection_model(res, "stepfun", steps=0.025, subset=np.ones(len(y), bool))
    assert same.loglik == full.loglik and same.estimate == full.estimate
    positions = selection_model(res, "stepfun", steps=0.025,
                                subset=np.flatnonzero(subset).tolist())
    assert positions.loglik == sel.loglik


def test_subset_bad_input() -> None:
    res = hackshaw_ml()
    k = res.k
    with pytest.raises(InputError, match="mask of the 37 studies"):
        selection_model(res, "stepfun", steps=0.025, subset=[True, False])
    with pytest.raises(InputError, match="integers in 0..36"):
        selection_model(res, "stepfun", steps=0.025, subset=[0, k])
    with pytest.raises(InputError, match="selects no study"):
        selection_model(res, "stepfun", steps=0.025, subset=np.zeros(k, bool))
    p = np.asarray(res.yi) / np.sqrt(np.asarray(res.vi))
    significant = p > 1.96                  # only studies with p <= .025: no other p-value
    with pytest.raises(InputError, match="no observed p-value"):
        selection_model(res, "stepfun", steps=0.025, subset=significant)


def test_review_fixes() -> None:
    """decreasing= refuses delta bounds; a 0/1 integer subset is ambiguous; duplicated
    positions are refused; profile_ci of a decreasing model gives tau² only; the summary
    names the trunc cut-point and the subset."""
    res = hackshaw_ml()
    with pytest.raises(InputError, match="leave out"):
        selection_model(res, "stepfun", steps=[0.05, 0.5], decreasing=True, delta_max=0.3)
    ones = [1] * 10 + [0] * (res.k - 10)
    with pytest.raises(InputError, match="0/1 indicator"):
        selection_model(res, "stepfun", steps=0.025, subset=ones)
    with pytest.raises(InputError, match="twice"):
        selection_model(res, "stepfun", steps=0.025, subset=[0, 1, 1])
    dec = selection_model(res, "stepfun", steps=[0.05, 0.10, 0.50, 1], decreasing=True)
    assert list(dec.profile_ci().table.index) == ["tau2"]
    text = selection_model(res, "trunc", steps=0.1,
                           subset=np.arange(res.k) < 20).summary()
    assert "cut-point on the effect-size scale: 0.1" in text
    assert "selection applies to 20 of the 37 studies" in text
