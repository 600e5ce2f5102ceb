"""Location-scale models (metaverdict.models.location_scale) against R metafor 3.8-1
``rma(yi, vi, mods = ~ x, scale = ~ z)``.

Reference values: tests/data/rma_ls/rma_ls_reference.json, written by rma_ls_reference.R in
the same folder (metafor's defaults: nlminb, numDeriv Hessian with r = 8). metaverdict
converges more tightly than nlminb's defaults, so values agree to ~1e-6 in general; scale
coefficients near 0 on a flat likelihood (the BCG trials, k = 13) to ~2e-4, and the identity
link (metafor: constrOptim) to ~1e-4. The tolerances below are those, with a margin.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.models.location_scale import location_scale

REFERENCE = json.loads((Path(__file__).parent.parent / "data" / "rma_ls"
                        / "rma_ls_reference.json").read_text())
CASES = REFERENCE["cases"]
RTOL = {"bcg_ablat_REML": 1e-3, "bcg_scale_only": 1e-3,
        "bangertdrowns2004_ni100_identity": 1e-3}


def _arr(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def _fit(case: dict[str, Any]) -> Any:
    a = case["args"]
    data = pd.DataFrame({k: _arr(v) for k, v in case["data"].items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return location_scale("yi", "vi", data=data, mods=a.get("mods"), scale=a["scale"],
                              method=a["method"], test=a.get("test", "z"), link=case["link"])


def _close(actual: Any, expected: Any, rtol: float, atol: float, what: str) -> None:
    np.testing.assert_allclose(np.atleast_1d(np.asarray(actual, dtype=float)), _arr(expected),
                               rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_metafor(name: str) -> None:
    case = CASES[name]
    res = _fit(case)
    rtol = RTOL.get(name, 1e-5)
    assert list(res.terms) == list(np.atleast_1d(case["beta_terms"]))
    assert list(res.scale_terms) == list(np.atleast_1d(case["alpha_terms"]))
    for table, suffix in ((res.coefficients, ""), (res.scale_coefficients, "_alpha")):
        for col, key in (("estimate", "beta"), ("se", "se"), ("statistic", "zval"),
                         ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub")):
            key = ("alpha" if key == "beta" else key + suffix) if suffix else key
            _close(table[col], case[key], rtol, 1e-6, f"{name} {key}")
        _close(table["pvalue"], case["pval" + suffix], 10 * rtol, 1e-7, f"{name} pval{suffix}")
    _close(res.tau2, case["tau2"], rtol, 1e-8, "tau2")
    _close(res.q, case["QE"], 1e-10, 0, "QE")
    _close(res.q_pvalue, case["QEp"], 1e-8, 1e-12, "QEp")
    if res.qm is not None:
        _close(res.qm, case["QM"], rtol, 1e-8, "QM")
        _close(res.qm_pvalue, case["QMp"], 10 * rtol, 1e-8, "QMp")
        _close(res.qm_df[0], case["QMdf"][0], 0, 0, "QMdf")
    if res.qs is not None:
        _close(res.qs, case["QS"], rtol, 1e-8, "QS")
        _close(res.qs_pvalue, case["QSp"], 10 * rtol, 1e-8, "QSp")
    fs = res.fit_statistics
    ll_tol = 1e-5 if name not in RTOL else 1e-4
    _close([fs.ll_ml, fs.deviance_ml, fs.aic_ml, fs.bic_ml, fs.aicc_ml], case["fit_stats_ML"],
           0, ll_tol, "fit.stats ML")
    _close([fs.ll_reml, fs.deviance_reml, fs.aic_reml, fs.bic_reml, fs.aicc_reml],
           case["fit_stats_REML"], 0, ll_tol, "fit.stats REML")
    if "LRT" in case:
        _close(res.lrt, case["LRT"], 1e-4, 1e-5, "LRT")
        _close(res.lrt_pvalue, case["LRTp"], 1e-3, 1e-5, "LRT p")
        assert res.lrt_df == case["LRT_df"]


def test_single_tau2_equals_the_random_effects_model() -> None:
    import metaverdict as mv
    case = CASES["bangertdrowns2004_scale1"]
    res = _fit(case)
    re = mv.meta_analysis(_arr(case["data"]["yi"]), _arr(case["data"]["vi"]), method="REML")
    assert res.tau2 == pytest.approx(np.full(res.k, re.tau2), rel=1e-5)
    assert res.qs is None and res.lrt is None


def test_t_tests_use_k_minus_p_and_k_minus_q() -> None:
    res = _fit(CASES["bangertdrowns2004_ni100_t"])
    assert res.df == res.k - 2 and res.scale_df == res.k - 2
    assert res.qm_df == (1, res.k - 2)
    assert res.confidence_interval(0.95).ci_lower == pytest.approx(res.ci_lower)


def test_identity_link_on_the_boundary_has_no_scale_se() -> None:
    case = CASES["bangertdrowns2004_ni100_identity"]
    assert all(v is None for v in case["se_alpha"])          # metafor: Hessian not invertible
    with pytest.warns(UserWarning, match="not positive definite"):
        location_scale("yi", "vi", data=pd.DataFrame(case["data"]), mods="ni100",
                       scale="ni100", link="identity")


def test_summary_to_dict_and_bad_input() -> None:
    res = _fit(CASES["bangertdrowns2004_two"])
    text = res.summary()
    assert "Location-scale model (k = 46; REML; log link)" in text and "imag" in text
    d = res.to_dict()
    assert d["scale_coefficients"]["estimate"][2] == pytest.approx(
        res.scale_coefficients["estimate"].iloc[2])
    json.dumps(d)
    data = pd.DataFrame(CASES["bcg_ablat_ML"]["data"])
    with pytest.raises(InputError, match="method"):
        location_scale("yi", "vi", data=data, scale="ablat", method="DL")
    with pytest.raises(InputError, match="link"):
        location_scale("yi", "vi", data=data, scale="ablat", link="logit")
    with pytest.raises(InputError, match="no column"):
        location_scale("yi", "vi", data=data, scale="latitude")
    bad = data.assign(vi=data["vi"].where(data.index != 3, -1.0))
    with pytest.raises(InputError, match="vi"):
        location_scale("yi", "vi", data=bad, scale="ablat")
