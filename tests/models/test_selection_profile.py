"""Selection models on a fit with fixed tau², their likelihood profiles (metafor
``profile.rma.uni.selmodel``) and profile-likelihood CIs (``confint``) against metafor 3.8-1
(tests/data/selmodel/selmodel_extras.json, written by selmodel_extras.R there).

metafor's CI bounds come from ``uniroot`` at its default tolerance (about 1.2e-4); its
profile refits stop BFGS at a relative change of 1e-8, so the log-likelihoods agree to about
1e-6 on the step functions (closed-form integrals) and 1e-4 on the beta model.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.diagnostics.profile import likelihood_profile
from metaverdict.errors import InputError
from metaverdict.models.selection import selection_model

from conftest import assert_close

DATA = Path(__file__).resolve().parent.parent / "data" / "selmodel" / "selmodel_extras.json"


@cache
def ref() -> dict[str, Any]:
    case: dict[str, Any] = json.loads(DATA.read_text())
    assert case["versions"]["metafor"] == "3.8.1"
    return case


@cache
def hackshaw(**kw: Any) -> Any:
    h = ref()["hackshaw"]
    return mv.meta_analysis(h["yi"], h["vi"], **kw)


def step() -> Any:
    return selection_model(hackshaw(method="ML"), "stepfun", steps=[0.05, 0.10, 0.50, 1])


def psm() -> Any:
    return selection_model(hackshaw(method="ML"), "stepfun", steps=0.025)


def test_fixed_tau2_input_keeps_tau2() -> None:
    """A fit with tau² fixed keeps it in the selection model (metafor: ``tau2.fix``): no
    tau² parameter, the LRT against the fixed-tau² fit."""
    want = ref()["psm_fixed_tau2"]
    sel = selection_model(hackshaw(tau2=0.02), "stepfun", steps=0.025)
    assert sel.tau2 == 0.02 and np.isnan(sel.tau2_se)
    assert sel.estimated_parameters == ("delta.2",)
    assert_close(sel.estimate, want["beta"], "beta", rtol=1e-5)
    assert_close(sel.se, want["se"], "se", rtol=1e-4)
    assert_close(sel.delta, want["delta"], "delta", rtol=1e-4)
    assert_close(sel.selection_parameters["se"].to_numpy(), want["se.delta"], "se.delta",
                 rtol=1e-3)
    assert_close(sel.loglik, want["ll"], "ll", rtol=1e-8)
    assert_close(sel.loglik_unadjusted, want["ll0"], "ll0", rtol=1e-10)
    assert_close(sel.lrt, want["LRT"], "LRT", rtol=1e-5)
    fs = sel.fit_statistics
    assert_close([fs.ll_ml, fs.deviance_ml, fs.aic_ml, fs.bic_ml, fs.aicc_ml],
                 want["fit.stats"], "fit.stats", rtol=1e-8)


@pytest.mark.parametrize("key, fit", [("step_confint", step), ("psm_confint", psm)])
def test_profile_ci_matches_metafor(key: str, fit: Any) -> None:
    sel = fit()
    table = sel.profile_ci().table
    want = ref()[key]
    assert list(table.index) == [w["name"].replace("tau^2", "tau2") for w in want]
    for row, w in zip(table.itertuples(), want):
        assert_close(row.estimate, w["estimate"], f"{row.Index} estimate", rtol=1e-5,
                     atol=1e-8)
        assert_close([row.ci_lower, row.ci_upper], [w["ci.lb"], w["ci.ub"]], str(row.Index),
                     rtol=1e-4, atol=1.5e-4)
    assert "95% ci.lb" in sel.profile_ci().summary()


def test_profile_ci_of_fixed_parameters_and_level() -> None:
    """Fixed δ get no CI; a higher level widens every interval."""
    sel = selection_model(hackshaw(method="ML"), "stepfun", steps=[0.05, 0.10, 0.50, 1],
                          delta=[1, np.nan, 1, np.nan])
    narrow = sel.profile_ci(0.8).table
    wide = sel.profile_ci(0.95).table
    assert list(narrow.index) == ["tau2", "delta.2", "delta.4"]
    assert (wide["ci_lower"] <= narrow["ci_lower"]).all()
    assert (wide["ci_upper"] >= narrow["ci_upper"]).all()


@pytest.mark.parametrize("key, fit, component, kw, rtol", [
    ("psm_profile_tau2", psm, "tau2", {"steps": 6}, 1e-5),
    ("psm_profile_delta", psm, "delta.2", {"steps": 6}, 1e-5),
    ("step_profile_delta3", step, "delta.3", {"steps": 5, "xlim": (0.2, 3)}, 1e-4),
    ("beta_profile_delta1", lambda: selection_model(mv.meta_analysis(
        ref()["baskerville"]["yi"], ref()["baskerville"]["vi"], method="ML"), "beta"),
     "delta.1", {"steps": 5}, 3e-3),
])
def test_profile_matches_metafor(key: str, fit: Any, component: str, kw: dict[str, Any],
                                 rtol: float) -> None:
    """metafor's default range (estimate ± 2.576 SE within the bounds) and the profile values
    where metafor's refits succeed (it reports NA at δ = 0 of a step function, where the
    likelihood is 0, and where its Hessian fails). ``rtol``: the agreement metafor's stopping
    rule allows (flat directions of the step functions 1e-4; the beta model, whose SEs come
    from a numerical Hessian of a flat likelihood, 3e-3)."""
    want = ref()[key]
    sel = fit()
    prof = likelihood_profile(sel, component=component, **kw)
    t = prof.table
    assert_close(t[component].to_numpy(), want["x"], "grid", rtol=rtol, atol=1e-6)
    assert_close(prof.value_hat, want["vc"], "vc", rtol=rtol)
    on_grid = likelihood_profile(sel, component=component, steps=len(want["x"]),
                                 xlim=(want["x"][0], want["x"][-1])).table
    columns = [("ll", "ll"), ("estimate", "beta"), ("ci_lower", "ci.lb")]
    if key.startswith("beta"):  # metafor: NA Hessians at 2 of the 5 refits; SEs not compared
        columns = columns[:2]
    for col, theirs in columns:
        w = np.array(want[theirs], dtype=float)
        ok = np.isfinite(w)
        assert ok.sum() >= 3
        assert_close(on_grid[col].to_numpy()[ok], w[ok], theirs, rtol=rtol, atol=rtol)
    assert prof.likelihood == "ML" and component in prof.summary()


def test_profile_bad_input() -> None:
    sel = psm()
    with pytest.raises(InputError, match="name one of \\['tau2', 'delta.2'\\]"):
        likelihood_profile(sel)
    with pytest.raises(InputError, match="'delta.1' is not an estimated parameter"):
        likelihood_profile(sel, component="delta.1")
    with pytest.raises(InputError, match="delta.2 ranges over \\[0, 100\\]"):
        likelihood_profile(sel, component="delta.2", xlim=(0, 200))
    fixed = selection_model(hackshaw(method="EE"), "stepfun", steps=0.025, delta=[1, 0.5])
    with pytest.raises(InputError, match="no estimated tau"):
        likelihood_profile(fixed)
