"""Univariate models against R metafor 3.8 (rma.uni, predict, confint, fit.stats) on every
public reference case, every field, to 1e-6 (tests/data/metafor/README.md).

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

from conftest import FixtureBlock, case_ids, case_yi_vi, load_case

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


def _fits():
    for cid in case_ids():
        case = load_case(cid)
        for block, test in (("models", "z"), ("models_knha", "knha")):
            for method, ref in case[block].items():
                if "error" not in ref:   # no reference: test_fits_metafor_could_not_make
                    yield pytest.param(cid, block, test, method, id=f"{cid}-{block}-{method}")


@pytest.mark.parametrize("cid, block, test, method", list(_fits()))
def test_model_matches_metafor(cid: str, block: str, test: str, method: str) -> None:
    case = load_case(cid)
    ref = case[block][method]
    yi, vi = case_yi_vi(case)
    res = mv.meta_analysis(yi, vi, method=method, test=test)
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
        # GENQ: metafor was run with weights = 1/vi, metaverdict's default for GENQ
        assert method == "GENQ"
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
    for cid in case_ids():
        for method, ref in load_case(cid)["models"].items():
            if "confint" in ref and "error" not in ref["confint"]:
                yield pytest.param(cid, method, id=f"{cid}-{method}")


@pytest.mark.parametrize("cid, method", list(_confints()))
def test_q_profile_ci_matches_metafor(cid: str, method: str) -> None:
    ref = load_case(cid)["models"][method]["confint"]
    yi, vi = case_yi_vi(load_case(cid))
    ci = mv.meta_analysis(yi, vi, method=method).heterogeneity_ci()
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
            elif key == "tau":
                # near tau = 0 the square root amplifies metafor's stopping error (tau2 ~ 1e-14
                # where the exact solution is 0): compare on the tau2 scale it was estimated on
                block.close(field, got, on=np.square)
            else:
                block.close(field, got)
    fields.done(CONFINT_FIELDS)


def test_fits_metafor_could_not_make() -> None:
    """The fixture entries that hold metafor's error instead of a result are not parity tests
    (there is nothing to compare): they are exactly GENQM and the confint of GENQ, both for want
    of the R package CompQuadForm (tests/data/metafor/README.md), and metaverdict does not
    claim a number there either: it has no GENQM and refuses the Q-profile CI of a GENQ fit."""
    failed = set()
    for cid in case_ids():
        case = load_case(cid)
        for block in ("models", "models_knha"):
            for method, ref in case[block].items():
                if "error" in ref:
                    failed.add((block, method, "fit"))
                    assert "CompQuadForm" in ref["error"], (cid, method, ref["error"])
                elif "error" in ref.get("confint", {}):
                    failed.add((block, method, "confint"))
                    assert "CompQuadForm" in ref["confint"]["error"], (cid, method)
    assert failed == {("models", "GENQM", "fit"), ("models", "GENQ", "confint")}
    yi, vi = case_yi_vi(load_case("dat.bcg__RR"))
    with pytest.raises(mv.InputError, match="GENQM"):
        mv.meta_analysis(yi, vi, method="GENQM")
    with pytest.raises(mv.InputError, match="GENQ"):
        mv.meta_analysis(yi, vi, method="GENQ").heterogeneity_ci()
