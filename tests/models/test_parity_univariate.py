"""Univariate models against R metafor (rma.uni, predict, confint, fit.stats) on every
public reference case of both reference sets, metafor 3.8-1 (tests/data/metafor) and 5.0-1
(tests/data/metafor5), every field, to 1e-6 (tests/data/metafor/README.md).

The sets differ here only where the data's yi / vi differ (ROM, ZPCOR: every test uses the
fixture's own yi / vi, so both sets are compared as they are) and in what 3.8-1 could not
compute for want of CompQuadForm: the median-unbiased generalised Q estimator GENQM and the
generalised Q-profile CI of GENQ / GENQM fits, which 5.0-1 has. metafor computed that CI with
``uniroot``'s default tolerance (``.Machine$double.eps^0.25`` = 1.22e-4 absolute;
confint.rma.uni passes its ``control$tol`` to the Q-profile search but not to the GENQ one),
so its bounds are compared on the tau² scale at that absolute tolerance, and ours are checked
to solve the generalised Q equation to 1e-10.

Every key of each fixture block is accounted for (``FixtureBlock`` in tests/conftest.py): a
numeric field is compared strictly (NA must be NA, a number a number; the documented
exemptions are ``EXEMPTIONS`` in tests/conftest.py), a label exactly, and a key the test does
not know fails it. Each test also asserts it compared at least the number of fields the schema
promises (``MODEL_FIELDS`` / ``CONFINT_FIELDS``).
"""
from __future__ import annotations

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.models.quadform import generalised_q_weights, weighted_chi2_sf

from conftest import FixtureBlock, case_ids, case_yi_vi, load_case, versioned_case_ids

SCALARS = {"b": "estimate", "se": "se", "zval": "statistic", "pval": "pvalue", "ci.lb": "ci_lower",
           "ci.ub": "ci_upper", "tau2": "tau2", "se.tau2": "tau2_se", "I2": "i2", "H2": "h2",
           "QE": "q", "QEp": "q_pvalue", "QE.df": "q_df", "k": "k", "p": "p", "s2w": "s2w"}
FIT_STATS = {"ll": "ll", "dev": "deviance", "AIC": "aic", "BIC": "bic", "AICc": "aicc"}
PREDICT = {"pred": "estimate", "se": "se", "ci.lb": "ci_lower", "ci.ub": "ci_upper",
           "pi.lb": "pi_lower", "pi.ub": "pi_upper"}
#: fields the schema promises per fit: the scalars (+ dfs with test="knha"), method and test,
#: weights_pct, 2 x 5 fit statistics, 6 predict fields
MODEL_FIELDS = {"z": len(SCALARS) + 2 + 1 + 10 + len(PREDICT)}
MODEL_FIELDS["knha"] = MODEL_FIELDS["z"] + 1
#: confint: estimate, ci.lb, ci.ub of tau2, tau, I2 and H2 (lb.sign / ub.sign say how)
CONFINT_FIELDS = 4 * 3
#: the generalised Q estimators (fitted by metafor with weights = 1/vi)
GENERALISED_Q = ("GENQ", "GENQM")
#: R's uniroot default tolerance, with which metafor searched the GENQ CI bounds
UNIROOT_TOL = float(np.finfo(float).eps) ** 0.25


def _fits():
    for version, cid in versioned_case_ids():
        case = load_case(cid, version)
        for block, test in (("models", "z"), ("models_knha", "knha")):
            for method, ref in case[block].items():
                if "error" not in ref:   # no reference: test_fits_metafor_could_not_make
                    yield pytest.param(version, cid, block, test, method,
                                       id=f"{version}-{cid}-{block}-{method}")


def _fit(yi: np.ndarray, vi: np.ndarray, method: str, **kw: str) -> mv.MetaAnalysisResult:
    # GENQ and GENQM weigh by 1/vi by default, as metafor's calls did
    # (test_genqm_default_weights_are_inverse_variances)
    return mv.meta_analysis(yi, vi, method=method, **kw)


@pytest.mark.parametrize("version, cid, block, test, method", list(_fits()))
def test_model_matches_metafor(version: str, cid: str, block: str, test: str,
                               method: str) -> None:
    case = load_case(cid, version)
    ref = case[block][method]
    yi, vi = case_yi_vi(case)
    res = _fit(yi, vi, method, test=test)
    fields = FixtureBlock(ref, f"{cid} {block}/{method}")
    fields.equal("method", res.method)
    fields.equal("test", res.test)
    for field, attr in SCALARS.items():
        fields.close(field, getattr(res, attr))
    if test == "knha":
        fields.close("dfs", res.df)
    else:
        assert "dfs" not in ref    # schema: dfs only for test="knha"
    fields.close("weights_pct", res.weights)
    stats = fields.block("fit.stats")
    for crit in ("ML", "REML"):
        per_crit = stats.block(crit)
        for field, attr in FIT_STATS.items():
            per_crit.close(field, getattr(res.fit_statistics, f"{attr}_{crit.lower()}"))
    pred = fields.block("predict")
    for field, attr in PREDICT.items():
        pred.close(field, getattr(res, attr))
    if "confint" in ref:
        fields.note("confint", "compared by test_q_profile_ci_matches_metafor")
    if "weights_spec" in ref:
        # GENQ, GENQM: metafor was run with weights = 1/vi, metaverdict's default for GENQ
        assert method in GENERALISED_Q
        assert fields.note("weights_spec", "how metafor's GENQ fit was called") == \
            "weights = 1/vi (also used for the model estimate)"
    warnings = ref.get("warnings", [])
    if "warnings" in ref:
        fields.note("warnings", "R warnings: the local-maximum one is checked below")
    fields.done(MODEL_FIELDS[test])
    assert res.converged
    if any("local maximum" in w for w in warnings):
        assert res.tau2 == 0


def _confints():
    for version, cid in versioned_case_ids():
        for method, ref in load_case(cid, version)["models"].items():
            if "confint" in ref and "error" not in ref["confint"]:
                yield pytest.param(version, cid, method, id=f"{version}-{cid}-{method}")


def _on_tau2_scale(key: str, vt: float):
    """The map of a CI field of ``key`` to the tau² scale (I² in percent, H² = 1/(1 - I²))."""
    return {"tau2": None, "tau": np.square,
            "I2": lambda i2: i2 / (100 - i2) * vt, "H2": lambda h2: (h2 - 1) * vt}[key]


@pytest.mark.parametrize("version, cid, method", list(_confints()))
def test_q_profile_ci_matches_metafor(version: str, cid: str, method: str) -> None:
    case = load_case(cid, version)
    ref = case["models"][method]["confint"]
    yi, vi = case_yi_vi(case)
    res = _fit(yi, vi, method)
    ci = res.heterogeneity_ci()
    generalised = method in GENERALISED_Q
    fields = FixtureBlock(ref, f"{cid} models/{method}/confint")
    assert fields.note("type", "the CI method's label") == \
        "default (Q-profile for tau2; I2/H2 derived)"
    lb_sign = fields.note("lb.sign", "compared below: whether metafor's bound hit its limit")
    ub_sign = fields.note("ub.sign", "compared below: whether metafor's bound hit its limit")
    assert lb_sign == "" and ub_sign in ("", ">"), (lb_sign, ub_sign)
    for key, attr in (("tau2", "tau2"), ("tau", "tau"), ("I2", "i2"), ("H2", "h2")):
        block = fields.block(key)
        for field, part, sign in (("estimate", "estimate", ""),
                                  ("ci.lb", "ci_lower", lb_sign),
                                  ("ci.ub", "ci_upper", ub_sign)):
            got = getattr(getattr(ci, attr), part)
            want = block.ref[field]
            if sign == ">":
                # metafor stopped at the end of its search interval and reports "> bound";
                # metaverdict searches without an upper limit, so its bound lies beyond
                block.note(field, "a lower limit only (compared here)")
                assert want is not None and got > want, f"{cid} {method} {key} {field}: {got}"
                block.compared += 1
            elif generalised and field != "estimate":
                # metafor's uniroot tolerance (module docstring), on the tau² scale
                block.close(field, got, on=_on_tau2_scale(key, res.typical_vi), rtol=0,
                            atol=UNIROOT_TOL)
            elif key == "tau":
                # near tau = 0 the square root amplifies metafor's stopping error (tau2 ~ 1e-14
                # where the exact solution is 0): compare on the tau2 scale it was estimated on
                block.close(field, got, on=np.square)
            else:
                block.close(field, got)
    fields.done(CONFINT_FIELDS)
    if generalised:
        # our bounds are where Pr(Q_a(tau2) > Q_a observed) is alpha/2 and 1 - alpha/2
        q = float(np.sum((yi - res.estimate) ** 2 / vi))   # Q_a, a = 1/vi: b is the EE mean
        for bound, prob in ((ci.tau2.ci_lower, 0.025), (ci.tau2.ci_upper, 0.975)):
            tail = weighted_chi2_sf(q, generalised_q_weights(vi, bound, 1 / vi, None))
            assert tail == pytest.approx(prob, abs=1e-10) if bound > 0 else tail >= prob


def test_fits_metafor_could_not_make() -> None:
    """The fixture entries that hold metafor's error instead of a result are exactly GENQM and
    the confint of GENQ in the 3.8-1 set, both for want of the R package CompQuadForm
    (tests/data/metafor/README.md); the 5.0-1 set was computed with it and has them, and
    test_model_matches_metafor / test_q_profile_ci_matches_metafor compare them."""
    for version in ("3.8", "5.0"):
        failed = set()
        for cid in case_ids(version):
            case = load_case(cid, version)
            for block in ("models", "models_knha"):
                for method, ref in case[block].items():
                    if "error" in ref:
                        failed.add((block, method, "fit"))
                        assert "CompQuadForm" in ref["error"], (cid, method, ref["error"])
                    elif "error" in ref.get("confint", {}):
                        failed.add((block, method, "confint"))
                        assert "CompQuadForm" in ref["confint"]["error"], (cid, method)
        want = {("models", "GENQM", "fit"), ("models", "GENQ", "confint")}
        assert failed == (want if version == "3.8" else set()), version


def test_genqm_default_weights_are_inverse_variances() -> None:
    yi, vi = case_yi_vi(load_case("dat.bcg__RR", "5.0"))
    default = mv.meta_analysis(yi, vi, method="GENQM")
    explicit = mv.meta_analysis(yi, vi, method="GENQM", weights=1 / vi)
    assert default.estimate == pytest.approx(explicit.estimate, rel=1e-12)
    assert default.se == pytest.approx(explicit.se, rel=1e-12)
