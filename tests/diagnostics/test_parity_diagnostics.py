"""Diagnostics against R metafor 3.8 on every public reference case, every field of the
fixtures' ``diagnostics`` block (tests/data/metafor/README.md), to 1e-6: leave1out, cumul,
influence (+ rstandard), blup, ranef, ranktest, regtest, trimfill, hc for the EE, DL and REML
fits, plus the classical Egger test (regtest_lm) and fail-safe N (fsn).

Documented deviations (each names its cause):

* ``trimfill`` of REML fits: metafor 3.8's ``trimfill`` refits with its default convergence
  settings (Fisher scoring stops when tau² changes by < 1e-5) whatever ``control`` the model
  had (so the README's tight control did not reach them), and its REML numbers there are off
  the exact solution by up to ~1e-5 in tau² (5e-3 relative in I²). metaverdict solves exactly
  by default; the test refits with the same stopping rule
  (``SolverControl(tol=1e-5, global_search=False, scale_free=False)``: steps below
  1e-5 (1 + tau²), close to metafor's absolute 1e-5) and compares these fields at rtol 1e-4.
* ``ranef`` where metafor's REML tau² stopped at ~1e-14 instead of 0: the se of a random
  effect is about sqrt(tau²) ~ 1e-7 there; compared with atol 1e-6.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import metaverdict as mv
from metaverdict.diagnostics import (
    blup,
    cumulative,
    egger_test,
    fail_safe_n,
    henmi_copas,
    influence,
    leave_one_out,
    ranef,
    rank_test,
    rstandard,
    trim_and_fill,
)
from metaverdict.models import SolverControl

from conftest import assert_close, case_ids, case_yi_vi, load_case

METHODS = ("EE", "DL", "REML")
# metafor's default threshold (the unit stopping rule, not the scale-free one)
METAFOR_DEFAULT = SolverControl(tol=1e-5, global_search=False, scale_free=False)
TABLE = {"estimate": "estimate", "se": "se", "zval": "statistic", "pval": "pvalue",
         "ci.lb": "ci_lower", "ci.ub": "ci_upper", "Q": "q", "Qp": "q_pvalue", "tau2": "tau2",
         "I2": "i2", "H2": "h2"}
INFLUENCE = {"rstudent": "rstudent", "dffits": "dffits", "cook.d": "cooks_distance",
             "cov.r": "cov_ratio", "tau2.del": "tau2_deleted", "QE.del": "q_deleted", "hat": "hat",
             "weight_pct": "weight"}
BLUP = {"pred": "pred", "se": "se", "pi.lb": "pi_lower", "pi.ub": "pi_upper"}
REGTEST = {"zval": "statistic", "pval": "pvalue", "dfs": "df", "limit_est": "limit_estimate",
           "limit_ci.lb": "limit_ci_lower", "limit_ci.ub": "limit_ci_upper"}
TRIMFILL_FIT = {"k": "k", "b": "estimate", "se": "se", "zval": "statistic", "pval": "pvalue",
                "ci.lb": "ci_lower", "ci.ub": "ci_upper", "tau2": "tau2", "QE": "q",
                "QEp": "q_pvalue", "I2": "i2"}
HC = {"b": "estimate", "se": "se", "ci.lb": "ci_lower", "ci.ub": "ci_upper", "tau2": "tau2"}
FSN = {"fsnum": "n", "alpha": "alpha", "pval": "pvalue", "meanes": "mean_effect",
       "target": "target"}
DIAGNOSTICS = ("leave1out", "cumul", "influence", "blup", "ranef", "ranktest", "regtest",
               "trimfill", "hc")


def _params():
    for cid in case_ids():
        diag = load_case(cid)["diagnostics"]
        for method in METHODS:
            for name in DIAGNOSTICS:
                if name in diag[method]:
                    yield pytest.param(cid, method, name, id=f"{cid}-{method}-{name}")


def _fit(cid: str, method: str) -> tuple[dict[str, Any], mv.MetaAnalysisResult]:
    case = load_case(cid)
    ref = case["diagnostics"][method]
    yi, vi = case_yi_vi(case)
    return ref, mv.meta_analysis(yi, vi, method=method)


def _present(value: Any) -> bool:
    return value is not None and value != []


def _columns(frame, ref: dict[str, Any], mapping: dict[str, str], what: str, **tol: float) -> None:
    for field, col in mapping.items():
        if _present(ref.get(field)):
            assert_close(frame[col].to_numpy(), ref[field], f"{what} {field}", **tol)


def _attrs(obj, ref: dict[str, Any], mapping: dict[str, str], what: str, **tol: float) -> None:
    for field, attr in mapping.items():
        if field in ref:
            assert_close(getattr(obj, attr), ref[field], f"{what} {field}", **tol)


@pytest.mark.parametrize("cid, method, name", list(_params()))
def test_diagnostic_matches_metafor(cid: str, method: str, name: str) -> None:
    ref_all, res = _fit(cid, method)
    ref = ref_all[name]
    what = f"{cid} {method} {name}"
    if "error" in ref:
        pytest.skip(f"metafor itself failed: {ref['error']}")
    if name in ("leave1out", "cumul"):
        out = leave_one_out(res) if name == "leave1out" else cumulative(res)
        assert len(out) == res.k
        _columns(out, ref, TABLE, what)
        assert [str(s) for s in out.index] == [str(s) for s in ref["slab"]]
    elif name == "influence":
        out = influence(res)
        _columns(out, ref, INFLUENCE, what)
        for coef, values in ref["dfbs"].items():
            assert_close(out[f"dfbs_{coef}"].to_numpy(), values, f"{what} dfbs {coef}")
        want = np.array([np.nan if x is None else float(x) for x in ref["is.infl"]])
        keep = ~np.isnan(want)
        assert (out["is_influential"].to_numpy()[keep] == want[keep].astype(bool)).all(), what
        _columns(rstandard(res), ref["rstandard"], {"resid": "resid", "se": "se", "z": "z"}, what)
    elif name in ("blup", "ranef"):
        out = blup(res) if name == "blup" else ranef(res)
        tau2_ref = load_case(cid)["models"][method]["tau2"]
        creeping = name == "ranef" and 0 < tau2_ref < 1e-10   # metafor stopped near, not at, 0
        _columns(out, ref, BLUP, what, **({"atol": 1e-6} if creeping else {}))
    elif name == "ranktest":
        out = rank_test(res)
        assert_close(out.statistic, ref["tau"], f"{what} tau")
        assert_close(out.pvalue, ref["pval"], f"{what} pval")
    elif name == "regtest":
        assert ref["model"] == "rma" and ref["predictor"] == "sei"
        _attrs(egger_test(res, predictor="sei", model="rma"), ref, REGTEST, what)
    elif name == "trimfill":
        loose = method not in ("EE", "DL")
        out = trim_and_fill(res, estimator=ref["estimator"],
                            control=METAFOR_DEFAULT if loose else None)
        assert out.side == ref["side"]
        assert out.k0 == ref["k0"]
        assert_close(out.se_k0, ref["se.k0"], f"{what} se.k0")
        assert_close(out.p_k0, ref["p.k0"], f"{what} p.k0")
        assert out.is_filled.tolist() == ref["filled"]
        tol = {"rtol": 1e-4, "atol": 1e-6} if loose else {}
        assert_close(out.yi_augmented, ref["yi_augmented"], f"{what} yi_augmented", **tol)
        assert_close(out.vi_augmented, ref["vi_augmented"], f"{what} vi_augmented")
        _attrs(out.filled, ref, TRIMFILL_FIT, what, **tol)
    elif name == "hc":
        _attrs(henmi_copas(res), ref, HC, what)


def _case_params(key: str):
    for cid in case_ids():
        diag = load_case(cid)["diagnostics"]
        if key == "fsn":
            for kind in diag.get("fsn", {}):
                yield pytest.param(cid, kind, id=f"{cid}-fsn-{kind}")
        elif key in diag:
            yield pytest.param(cid, id=f"{cid}-{key}")


@pytest.mark.parametrize("cid", list(_case_params("regtest_lm")))
def test_classical_egger_matches_metafor(cid: str) -> None:
    case = load_case(cid)
    ref = case["diagnostics"]["regtest_lm"]
    if "error" in ref:
        pytest.skip(f"metafor itself failed: {ref['error']}")
    yi, vi = case_yi_vi(case)
    out = egger_test(mv.meta_analysis(yi, vi, method="EE"), predictor="sei", model="lm")
    _attrs(out, ref, REGTEST, f"{cid} regtest lm")


@pytest.mark.parametrize("cid, kind", list(_case_params("fsn")))
def test_fail_safe_n_matches_metafor(cid: str, kind: str) -> None:
    case = load_case(cid)
    ref = case["diagnostics"]["fsn"][kind]
    if "error" in ref:
        pytest.skip(f"metafor itself failed: {ref['error']}")
    yi, vi = case_yi_vi(case)
    _attrs(fail_safe_n(yi, vi, kind=kind), ref, FSN, f"{cid} fsn {kind}")


def _k2_errors():
    for cid in case_ids():
        diag = load_case(cid)["diagnostics"]
        for method in METHODS:
            for name in ("regtest", "trimfill"):
                if "error" in (diag[method].get(name) or {}):
                    yield pytest.param(cid, method, name, id=f"{cid}-{method}-{name}")


@pytest.mark.parametrize("cid, method, name", list(_k2_errors()))
def test_metafor_errors_are_input_errors(cid: str, method: str, name: str) -> None:
    """Where metafor refuses (too few studies for the extra coefficient), so does metaverdict."""
    _, res = _fit(cid, method)
    call = egger_test if name == "regtest" else trim_and_fill
    with pytest.raises(mv.InputError, match="needs at least"):
        call(res)
