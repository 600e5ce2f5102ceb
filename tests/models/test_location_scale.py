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


# ----------------------------------------------------------------------------- predict()
PREDICT = json.loads((Path(__file__).parent.parent / "data" / "rma_ls"
                      / "rma_ls_predict_reference.json").read_text())
LOCATION = (("pred", "pred"), ("se", "se"), ("ci_lb", "ci_lower"), ("ci_ub", "ci_upper"),
            ("pi_lb", "pi_lower"), ("pi_ub", "pi_upper"))


def _predict_fit(args: dict[str, Any]) -> Any:
    data = pd.DataFrame({k: _arr(v) for k, v in PREDICT["data"].items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return location_scale("yi", "vi", data=data, mods="ni100", scale="ni100",
                              method=args["method"], test=args["test"], link=args["link"])


@pytest.mark.parametrize("name", list(PREDICT["cases"]))
def test_predict_matches_metafor(name: str) -> None:
    case = PREDICT["cases"][name]
    res = _predict_fit(case["args"])
    new = case["newvalues"]
    rtol = 1e-3 if case["args"]["link"] == "identity" else 1e-5
    scale_cols = (("pred", "pred"), ("se", "se"), ("ci_lb", "ci_lower"), ("ci_ub", "ci_upper"))
    tau2_cols = (("pred", "tau2"), ("ci_lb", "tau2_ci_lower"), ("ci_ub", "tau2_ci_upper"))
    kinds = [("fitted", {}, LOCATION), ("newmods", {"newmods": new}, LOCATION),
             ("newscale", {"newscale": new}, scale_cols),
             ("both", {"newmods": new, "newscale": new}, LOCATION),
             ("level90", {"newmods": new, "newscale": new, "level": 0.90}, LOCATION)]
    if case["newscale_transf"] is not None:
        kinds.append(("newscale_transf", {"newscale": new}, tau2_cols))
    compared = 0
    for kind, kwargs, columns in kinds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            frame = res.predict(**kwargs)
        expected = case[kind]
        n = len(expected["pred"])
        assert len(frame) == n, kind
        for key, col in columns:
            values = _arr(expected[key])
            assert len(values) == n, (kind, key)       # a missing field is a failure
            _close(frame[col], values, rtol, 1e-7, f"{name} {kind} {key}")
            compared += n
    k, m = len(PREDICT["data"]["yi"]), len(new)            # every kind and column compared
    assert compared == 6 * k + 3 * 6 * m + 4 * m + (3 * m if case["newscale_transf"] else 0)


def test_predict_pi_only_with_a_tau2() -> None:
    res = _predict_fit({"method": "REML", "test": "z", "link": "log"})
    only_location = res.predict(newmods=[0.5, 1.0])
    assert only_location[["pi_lower", "pi_upper"]].isna().all().all()
    assert only_location[["pred", "se", "ci_lower", "ci_upper"]].notna().all().all()
    one = res.predict(newmods=[1.0], newscale=[0.2, 0.6])          # one location row, repeated
    assert len(one) == 2 and one["pred"].nunique() == 1 and one["pi_lower"].nunique() == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"newmods": [[1.0, 2.0]]}, "1 .*ni100"),
    ({"newscale": [np.nan]}, "finite"),
    ({"newmods": [1.0, 2.0, 3.0], "newscale": [1.0, 2.0]}, "3 rows .* 2"),
    ({"newmods": "high"}, "numbers expected"),
])
def test_predict_bad_input(kwargs: dict[str, Any], message: str) -> None:
    res = _predict_fit({"method": "REML", "test": "z", "link": "log"})
    with pytest.raises(InputError, match=message):
        res.predict(**kwargs)


def test_predict_without_moderators_in_a_part() -> None:
    yi = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15, 0.52, 0.28, 0.90, 0.05]
    vi = [0.02, 0.03, 0.01, 0.04, 0.02, 0.01, 0.03, 0.02, 0.05, 0.01]
    res = location_scale(yi, vi, scale=[0, 1, 0, 1, 1, 0, 1, 0, 1, 0])
    with pytest.raises(InputError, match="no moderators"):
        res.predict(newmods=[1.0])
    both = res.predict(newscale=[0, 1])
    np.testing.assert_allclose(both["tau2"], np.exp(res.scale_coefficients["estimate"].cumsum()))


# ----------------------------------------------------------------------------- profile_ci()
CONFINT = json.loads((Path(__file__).parent.parent / "data" / "rma_ls"
                      / "rma_ls_confint_reference.json").read_text())["cases"]
#: metafor's uniroot stops at .Machine$double.eps^0.25 (about 1.2e-4) on the coefficient
CONFINT_ATOL = 2e-4


def _confint_fit(case: dict[str, Any]) -> Any:
    a = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in case["args"].items()}
    data = pd.DataFrame({k: _arr(v) for k, v in case["data"].items()})
    fit = location_scale("yi", "vi", data=data, mods=a.get("mods") or None, scale=a["scale"],
                         method=a["method"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = fit.profile_ci(level=a["level"]).table
    return fit, table, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", list(CONFINT))
def test_profile_ci_matches_metafor(name: str) -> None:
    case = CONFINT[name]
    fit, table, caught = _confint_fit(case)
    assert list(table.index) == list(fit.scale_terms)
    _close(table["alpha"], case["estimate"], 1e-4, 1e-6, f"{name} estimate")
    compared = beyond = 0
    for side, key, sign_key, outward in (("ci_lower", "ci_lb", "lb_sign", -1.0),
                                         ("ci_upper", "ci_ub", "ub_sign", 1.0)):
        for ours, theirs, sign in zip(table[side], _arr(case[key]), case[sign_key]):
            if np.isnan(theirs):
                continue                  # metafor could not find it ("convergence problems")
            if sign:                      # metafor stopped at its search limit ("<" / ">"):
                # ours lies beyond it, or is not determined (NaN, with the warning)
                assert np.isnan(ours) or outward * (ours - theirs) >= 0, (name, side)
                beyond += 1
            else:
                assert ours == pytest.approx(theirs, abs=CONFINT_ATOL), (name, side)
                compared += 1
    assert compared >= 1
    assert compared + beyond == int(np.sum(~np.isnan(_arr(case["ci_lb"])))
                                    + np.sum(~np.isnan(_arr(case["ci_ub"]))))
    assert table[["ci_lower", "ci_upper"]].isna().any().any() == any(
        "not determined" in m for m in caught)


def test_profile_ci_bounds_lie_where_the_profile_crosses() -> None:
    case = CONFINT["bangertdrowns2004_ni100_REML"]
    fit, table, _ = _confint_fit(case)
    ref = location_scale("yi", "vi", data=pd.DataFrame({k: _arr(v) for k, v in
                                                         case["data"].items()}),
                         mods="ni100", scale="ni100", method="REML")
    assert table.loc["ni100", "ci_lower"] < ref.scale_coefficients.loc["ni100", "estimate"] \
        < table.loc["ni100", "ci_upper"]
    # the profile interval is not the Wald interval (the likelihood is not quadratic)
    wald = ref.scale_coefficients.loc["ni100", ["ci_lower", "ci_upper"]].to_numpy(float)
    assert not np.allclose(table.loc["ni100", ["ci_lower", "ci_upper"]].to_numpy(float), wald,
                           atol=1e-2)


def test_profile_ci_identity_link_is_refused() -> None:
    case = CASES["bangertdrowns2004_ni100_identity"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = _fit(case)
    with pytest.raises(InputError, match="link='log' only"):
        res.profile_ci()
