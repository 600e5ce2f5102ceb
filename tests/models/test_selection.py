"""Selection models (metaverdict.models.selection) against R metafor 3.8-1 ``selmodel``.

Reference values: tests/data/selmodel/selmodel_reference.json, written by
selmodel_reference.R in the same folder (metafor's defaults).

Tolerances. Step-function models have closed-form likelihoods and metafor's BFGS reaches their
maximum: every number is compared at 1e-4 (relative). For the continuous weight functions
metafor integrates each study's density with ``integrate()`` at a relative tolerance of 1.2e-4
and stops BFGS at a relative change of 1e-8 in the log-likelihood, so on these flat
likelihoods its estimates stop up to ~3e-3 (relative) short of the maximum, and its numerical
Hessian (second differences of noisy integrals) is off by up to ~7%. metaverdict integrates to
~1e-12 and converges tightly: its log-likelihood must be at least metafor's (up to 1e-4, the
error of metafor's integrals) and within 1e-3 of it; estimates are compared at 5e-3 and
standard errors at 10%. (The same holds for one step-function case whose tau² is near 0.)
"""
from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.models.selection import selection_adjusted, selection_model
from metaverdict.models.univariate import fit

REFERENCE = json.loads((Path(__file__).parent.parent / "data" / "selmodel"
                        / "selmodel_reference.json").read_text())
CASES = REFERENCE["cases"]


def _arr(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def _base(case: dict[str, Any]) -> mv.models.MetaAnalysisResult:
    y, v = _arr(case["data"]["yi"]), _arr(case["data"]["vi"])
    X = None if case["data"]["X"] is None else np.asarray(case["data"]["X"], dtype=float)
    terms = list(np.atleast_1d(case["terms"]))
    return fit(y, v, method=case["method"], test="z", level=0.95, X=X, names=terms)


def _fit(case: dict[str, Any]) -> Any:
    return _fit_named(next(n for n, c in CASES.items() if c is case))


@cache
def _fit_named(name: str) -> Any:
    """One fit per reference case, shared by the tests (results are immutable)."""
    case = CASES[name]
    a = case["args"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return selection_model(_base(case), a["type"], alternative=a.get("alternative", "greater"),
                               steps=a.get("steps"), delta=a.get("delta"), prec=a.get("prec"),
                               ni=case["data"]["ni"] if a.get("prec", "").endswith("ninv")
                               else None)


def _close(actual: Any, expected: Any, rtol: float, atol: float, what: str) -> None:
    np.testing.assert_allclose(np.atleast_1d(np.asarray(actual, dtype=float)), _arr(expected),
                               rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


# hahn2001_3psm_less: tau² (8.6e-6) near 0, where metafor's BFGS on log tau² stops early (its
# log-likelihood is 1.6e-4 below the maximum): compared like the continuous types
FLAT = [n for n, c in CASES.items() if c["args"]["type"] != "stepfun"] + ["hahn2001_3psm_less"]
STEP = [n for n in CASES if n not in FLAT]


@pytest.mark.parametrize("name", STEP)
def test_step_function_models_match_metafor(name: str) -> None:
    case = CASES[name]
    sel = _fit(case)
    coef = sel.coefficients
    for col, key in (("estimate", "beta"), ("se", "se"), ("statistic", "zval"),
                     ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub")):
        _close(coef[col], case[key], 1e-4, 1e-6, f"{name} {key}")
    _close(coef["pvalue"], case["pval"], 1e-3, 1e-7, f"{name} pval")
    _close(sel.tau2, case["tau2"], 1e-4, 1e-7, "tau2")
    _close(sel.tau2_se, case["se_tau2"], 1e-4, 1e-7, "se.tau2")
    _close([sel.tau2_ci_lower, sel.tau2_ci_upper], [case["ci_lb_tau2"], case["ci_ub_tau2"]],
           1e-4, 1e-7, "tau2 CI")
    par = sel.selection_parameters
    for col, key in (("estimate", "delta"), ("se", "se_delta"), ("ci_lower", "ci_lb_delta"),
                     ("ci_upper", "ci_ub_delta")):
        _close(par[col], case[key], 1e-4, 1e-6, f"{name} {key}")
    _close(par["statistic"], case["zval_delta"], 1e-4, 1e-4, f"{name} zval_delta")
    _close(sel.lrt, case["LRT"], 1e-4, 1e-6, "LRT")
    assert sel.lrt_df == case["LRTdf"]
    _close(sel.lrt_pvalue, case["LRTp"], 1e-4, 1e-8, "LRTp")
    _close(sel.lrt_tau2, case["LRT_tau2"], 1e-4, 1e-6, "LRT.tau2")
    _close(sel.loglik, case["ll"], 0, 1e-6, "ll")
    # (metafor's ML fit stops at a tau² change of 1e-5: its log-likelihood is ~3e-7 short)
    _close(sel.loglik_unadjusted, case["ll0"], 0, 1e-6, "ll0")
    fs = sel.fit_statistics
    _close([fs.ll_ml, fs.deviance_ml, fs.aic_ml, fs.bic_ml, fs.aicc_ml], case["fit_stats_ML"],
           0, 1e-5, "fit.stats")
    assert sel.p_table == tuple(case["ptable"])
    _close(sel.steps, case["steps"], 0, 0, "steps")
    _close(sel.p_values, case["pvals"], 1e-12, 0, "pvals")
    if len(sel.terms) > 1:      # (metafor's QM of an intercept-only model is z², not reported)
        _close(sel.qm, case["QM"], 1e-4, 1e-6, "QM")
        _close(sel.qm_pvalue, case["QMp"], 1e-3, 1e-8, "QMp")


@pytest.mark.parametrize("name", FLAT)
def test_flat_likelihoods_match_metafor(name: str) -> None:
    case = CASES[name]
    sel = _fit(case)
    if case["ptable"] is not None:
        assert sel.p_table == tuple(case["ptable"])
    # at least metafor's maximum, up to the error of its integrals (5e-5 in the log-likelihood
    # of hackshaw1998_halfnorm_step05, whose weight has a kink at p = 0.05: checked against
    # scipy.integrate.quad at both tolerances)
    assert sel.loglik >= case["ll"] - 1e-4
    _close(sel.loglik, case["ll"], 0, 1e-3, "ll")
    # where metafor cannot invert its Hessian (negexp2: a ridge in (delta_1, delta_2)), the
    # parameters are ill-determined: metaverdict's maximum is higher than its likelihood at
    # metafor's estimates, and the estimates are compared at 2e-2 / 1e-3
    ridge = "Error when trying to invert Hessian." in np.atleast_1d(case["warnings"])
    rtol, atol = (2e-2, 1e-3) if ridge else (5e-3, 1e-4)
    _close(sel.coefficients["estimate"], case["beta"], rtol, 1e-3, "beta")
    _close(sel.tau2, case["tau2"], rtol, atol, "tau2")
    _close(sel.delta, case["delta"], rtol, atol, "delta")
    _close(sel.lrt, case["LRT"], 0, 2e-3, "LRT")
    assert sel.lrt_df == case["LRTdf"]
    if all(v is not None for v in np.atleast_1d(case["se_delta"])):
        _close(sel.coefficients["se"], case["se"], 0.1, 0, "se")
        _close(sel.selection_parameters["se"], case["se_delta"], 0.1, 0, "se.delta")
        if case["tau2"] > 1e-4:     # below, numDeriv's absolute step 1e-4 crosses tau2 = 0
            _close(sel.tau2_se, case["se_tau2"], 0.1, 0, "se.tau2")


RIDGE = [n for n, c in CASES.items()
         if "Error when trying to invert Hessian." in np.atleast_1d(c["warnings"])]


@pytest.mark.parametrize("name", RIDGE)
def test_ridge_maximum_is_above_metafors_estimates(name: str) -> None:
    """On the ridge cases metafor's estimates, put into metaverdict's likelihood (integrated to
    ~1e-12), give less than metaverdict's maximum."""
    from metaverdict.models.selection import _Likelihood, _precision
    case = CASES[name]
    a = case["args"]
    assert case["terms"] == "intrcpt" and a.get("alternative", "greater") == "greater"
    y, v = _arr(case["data"]["yi"]), _arr(case["data"]["vi"])
    lik = _Likelihood(a["type"], y, v, np.ones((len(y), 1)), "greater", np.array([0.0, 1.0]),
                      0.0, _precision(a.get("prec"), None, v, a["type"]))
    at_metafor = lik(_arr(case["beta"]), case["tau2"], _arr(case["delta"]))
    assert np.isfinite(at_metafor) and _fit(case).loglik > at_metafor


def test_refits_random_effects_input_by_ml() -> None:
    case = CASES["hackshaw1998_stepfun_reml_input"]
    assert case["method"] == "REML"
    base = _base(case)
    assert base.method == "REML"
    sel = selection_model(base, "stepfun", steps=case["args"]["steps"])
    _close(sel.loglik_unadjusted, case["ll0"], 0, 1e-6, "ML log-likelihood of the refit")


def test_common_effect_input_keeps_tau2_zero() -> None:
    sel = _fit(CASES["hahn2001_EE_negexp"])
    assert sel.tau2 == 0 and np.isnan(sel.tau2_se) and np.isnan(sel.lrt_tau2)


def test_fixed_deltas_give_no_selection_test() -> None:
    sel = _fit(CASES["cohen1981_mod1_fixed"])
    assert sel.lrt_df == 0 and np.isnan(sel.lrt_pvalue)
    assert sel.selection_parameters["fixed"].all()
    assert np.isnan(sel.selection_parameters["se"]).all()


def test_weight_function() -> None:
    sel = _fit(CASES["hackshaw1998_stepfun"])
    wf = sel.weight_function([0.01, 0.025, 0.05, 0.3, 0.9])
    np.testing.assert_allclose(wf["weight"], sel.delta[[0, 0, 1, 2, 3]])
    beta = _fit(CASES["hackshaw1998_beta"])
    a, b = beta.delta
    w = beta.weight_function([0.5])["weight"].iloc[0]
    assert w == pytest.approx(0.5 ** (a - 1) * 0.5 ** (b - 1))


def test_summary_and_to_dict() -> None:
    sel = _fit(CASES["baskerville2012_3psm_blind"])
    text = sel.summary()
    assert "Selection model (k = 23; type = stepfun" in text and "blind" in text
    d = sel.to_dict()
    assert d["selection_parameters"]["fixed"] == [True, False]
    assert d["coefficients"]["estimate"][1] == pytest.approx(sel.coefficients["estimate"].iloc[1])
    json.dumps(d)


def test_precision_cases_are_in_the_reference() -> None:
    """The prec= and '2'-variant cases are compared above (FLAT); make sure they exist, so the
    comparison cannot silently shrink."""
    precs = {c["args"]["prec"] for c in CASES.values() if "prec" in c["args"]}
    assert precs == {"sei", "vi", "ninv", "sqrtninv"}
    assert {"halfnorm2", "negexp2", "logistic2", "power2"} <= {
        c["args"]["type"] for c in CASES.values()}
    sel = _fit(CASES["hackshaw1998_negexp_prec_sei"])
    assert sel.prec == "sei" and "prec" in sel.to_dict()
    plain = _fit(CASES["hackshaw1998_negexp"])
    assert plain.prec is None and sel.loglik != pytest.approx(plain.loglik)


def test_precision_bad_input() -> None:
    base = _base(CASES["hackshaw1998_negexp"])
    with pytest.raises(InputError, match="prec"):
        selection_model(base, "negexp", prec="se")
    for type_, steps in (("beta", None), ("stepfun", 0.025)):
        with pytest.raises(InputError, match="not '" + type_):
            selection_model(base, type_, steps=steps, prec="sei")
    with pytest.raises(InputError, match="needs the studies' sample sizes"):
        selection_model(base, "negexp", prec="ninv")
    with pytest.raises(InputError, match="not used"):
        selection_model(base, "negexp", prec="sei", ni=np.full(base.k, 50))
    with pytest.raises(InputError, match="used only with"):
        selection_model(base, "negexp", ni=np.full(base.k, 50))
    with pytest.raises(InputError, match="sample sizes expected"):
        selection_model(base, "negexp", prec="ninv", ni=[10, 20])
    ni = np.full(base.k, 50.0)
    ni[3] = 0
    with pytest.raises(InputError, match="row 4, field 'ni'"):
        selection_model(base, "negexp", prec="sqrtninv", ni=ni)


def test_bad_input() -> None:
    base = _base(CASES["hackshaw1998_3psm"])
    with pytest.raises(InputError, match="steps"):
        selection_model(base, "stepfun")
    with pytest.raises(InputError, match="type"):
        selection_model(base, "gamma")
    with pytest.raises(InputError, match="no observed p-value in the interval"):
        selection_model(base, "stepfun", steps=[0.025, 0.0251])
    with pytest.raises(InputError, match="single cut-point"):
        selection_model(base, "halfnorm", steps=[0.05, 0.5])
    with pytest.raises(InputError, match="delta"):
        selection_model(base, "stepfun", steps=0.025, delta=[1, 1, 1])
    small = mv.meta_analysis([0.2, 0.5, 0.1], [0.01, 0.02, 0.03], method="ML")
    with pytest.raises(InputError, match="too few to fit"):
        selection_model(small, "beta")
    weighted = mv.meta_analysis(base.yi, base.vi, weights=np.ones(base.k), method="ML")
    with pytest.raises(InputError, match="weights"):
        selection_model(weighted, "beta")


def test_selection_adjusted_is_the_three_parameter_model() -> None:
    case = CASES["hackshaw1998_3psm"]
    adj = selection_adjusted(_base(case))
    assert adj.estimable and adj.reason is None and adj.alternative == "greater"
    _close(adj.estimate, case["beta"], 1e-4, 1e-6, "3PSM estimate")
    _close([adj.ci_lower, adj.ci_upper], [case["ci_lb"], case["ci_ub"]], 1e-4, 1e-6, "CI")
    _close(adj.weight_nonsignificant, case["delta"][1], 1e-4, 1e-6, "delta")
    assert (adj.n_significant, adj.n_nonsignificant) == tuple(case["ptable"])
    assert "adjusted estimate" in adj.summary()


def test_selection_adjusted_flags_what_it_cannot_estimate() -> None:
    y = np.array([0.8, 0.9, 0.7, 1.1, 0.6])
    adj = selection_adjusted(mv.meta_analysis(y, np.full(5, 0.01)))
    assert not adj.estimable and np.isnan(adj.estimate) and adj.model is None
    assert adj.n_nonsignificant == 0 and "p > 0.025" in adj.reason
    assert "Not estimable" in adj.summary()
    # a negative pooled effect is tested in the "less" direction
    neg = selection_adjusted(mv.meta_analysis(-y, np.full(5, 0.01)))
    assert neg.alternative == "less" and neg.n_significant == 5
    case = CASES["hahn2001_3psm_less"]
    less = selection_adjusted(_base(case))
    assert less.estimable and less.alternative == "less"
    _close(less.estimate, case["beta"], 1e-4, 1e-6, "3PSM estimate, alternative less")
    few = selection_adjusted(_base(CASES["hackshaw1998_3psm"]), min_per_side=8)
    assert not few.estimable and "at least 8" in few.reason
