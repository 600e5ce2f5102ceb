"""The fail-safe N types of metafor >= 4.0 that the metafor reference fixtures lack (they hold
Rosenthal, Orwin and Rosenberg: tests/diagnostics/test_parity_diagnostics.py): the binomial
(sign test) type, Rosenthal's with Fisher's pooling, and the General (random-effects) type,
against tests/data/fsn/fsn_reference.json, written by the R script next to it (R's
binom.test / pchisq / pnorm and metafor's rma(); the definitions are metafor 5's, see the
script's header)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.diagnostics import fail_safe_n

from conftest import FixtureBlock, case_yi_vi, load_case

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "fsn" /
                        "fsn_reference.json").read_text())
#: reference entry -> fail_safe_n arguments
CALLS = {"Binomial": {"kind": "Binomial"},
         "Rosenthal_fisher": {"kind": "Rosenthal", "pool": "fisher"},
         "General_REML": {"kind": "General"},
         "General_DL_unweighted": {"kind": "General", "method": "DL", "weighted": False},
         "General_REML_target": {"kind": "General"},
         "General_REML_mumiss": {"kind": "General"}}
GENERAL = {"est": "mean_effect", "tau2": "tau2", "pval": "pvalue", "est.fsn": "estimate_after",
           "tau2.fsn": "tau2_after", "pval.fsn": "pvalue_after"}
PARAMS = [(cid, name) for cid in REFERENCE["cases"] for name in CALLS]


def test_reference_versions() -> None:
    assert REFERENCE["versions"]["metafor"].startswith("3.8") and REFERENCE["alpha"] == 0.05
    assert {n for c in REFERENCE["cases"].values() for n in c} == set(CALLS)


@pytest.mark.parametrize("cid, name", PARAMS, ids=[f"{c}-{n}" for c, n in PARAMS])
def test_fail_safe_n_matches_r(cid: str, name: str) -> None:
    ref = REFERENCE["cases"][cid][name]
    yi, vi = case_yi_vi(load_case(cid))
    fields = FixtureBlock(ref, f"{cid} fsn_reference/{name}")
    kw = dict(CALLS[name])
    if "target" in ref:
        kw["target"] = fields.note("target", "the call's target (a third of the estimate)")
    if "mumiss" in ref:
        kw["mumiss"] = fields.note("mumiss", "the call's mean of the missing studies")
    out = fail_safe_n(yi, vi, **kw)
    fields.equal("fsnum", out.n)
    if name.startswith("General"):
        for field, attr in GENERAL.items():
            fields.close(field, getattr(out, attr))
        assert out.method == kw.get("method", "REML")
    else:
        fields.close("pval", out.pvalue)
    fields.done(2)


def test_general_n_is_the_smallest_that_reaches_the_criterion() -> None:
    yi, vi = case_yi_vi(load_case("dat.bcg__RR"))
    out = fail_safe_n(yi, vi, kind="General")
    assert out.pvalue < 0.05 <= out.pvalue_after
    fit = mv.meta_analysis(yi, vi, method="REML")
    assert out.mean_effect == pytest.approx(fit.estimate) and out.tau2 == pytest.approx(fit.tau2)
    assert "General" in out.summary() and out.to_dict()["method"] == "REML"
    # not significant already: no studies needed; a zero target cannot be reached
    assert fail_safe_n(yi[:3], vi[:3] * 50, kind="General").n == 0
    assert np.isinf(fail_safe_n(yi, vi, kind="General", target=0.0).n)


def test_new_types_bad_input() -> None:
    yi, vi = case_yi_vi(load_case("dat.bcg__RR"))
    with pytest.raises(mv.InputError, match="pool"):
        fail_safe_n(yi, vi, pool="tippett")
    with pytest.raises(mv.InputError, match="at least 2"):
        fail_safe_n(yi[:1], vi[:1], kind="General")
    with pytest.raises(mv.InputError, match="method"):
        fail_safe_n(yi, vi, kind="General", method="XYZ")
    with pytest.raises(mv.InputError, match="weighted"):
        fail_safe_n(yi, vi, kind="Orwin", weighted="yes")
