"""The result objects as objects: immutable in fact (read-only arrays, tables handed out as
copies), comparable without raising, serialised in full by ``to_dict()``, string states that
are enums but still compare as strings, ``confidence_interval(level)`` at any level (against
metafor's 95% intervals and an independent scipy.stats formula at other levels), and single
fits that load neither numba nor the batch engine, with no import loop between results and
the Q-profile CI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.models import InferenceTest, Interval, Method
from metaverdict.models.multilevel import multilevel
from metaverdict.models.robust import robust

from conftest import case_data, case_yi_vi, load_case

BCG = load_case("dat.bcg__RR")


def _fit(**kwargs: object) -> mv.MetaAnalysisResult:
    y, v = case_yi_vi(BCG)
    return mv.meta_analysis(y, v, labels=[f"s{i}" for i in range(len(y))], **kwargs)


# ----------------------------------------------------------------------------- immutability

def test_arrays_are_read_only_and_the_callers_arrays_are_not() -> None:
    y, v = case_yi_vi(BCG)
    res = mv.meta_analysis(y, v, method="REML")
    for name in ("yi", "vi", "vcov", "weights", "beta"):
        arr = getattr(res, name)
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0
    y[0] = 99.0                                   # the caller's data stay theirs
    assert res.yi[0] != 99.0


def test_meta_regression_design_and_user_weights_are_read_only() -> None:
    df = case_data(BCG)
    res = mv.meta_analysis("yi", "vi", data=df, mods="ablat", weights=1 / df["vi"].to_numpy())
    for arr in (res.design, res.user_weights):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0.0


def test_changing_the_coefficient_table_does_not_change_the_fit() -> None:
    res = _fit(method="REML")
    table = res.coefficients
    table.loc["intrcpt", "estimate"] = 123.0
    table["se"] = 0.0
    assert res.coefficients.loc["intrcpt", "estimate"] == res.estimate != 123.0
    assert res.coefficients.loc["intrcpt", "se"] == res.se > 0
    assert list(res.coefficients.columns) == ["estimate", "se", "statistic", "pvalue",
                                              "ci_lower", "ci_upper"]
    assert res.coefficient("statistic")[0] == res.statistic


def test_labels_are_the_fits_own() -> None:
    labels = ["a", "b", "c"]
    res = mv.meta_analysis([0.1, 0.3, 0.2], [0.01, 0.02, 0.03], labels=labels)
    labels[0] = "changed"
    assert res.labels == ["a", "b", "c"]


def test_diagnostic_tables_handed_out_are_copies() -> None:
    res = _fit(method="REML")
    loo = mv.leave_one_out(res)
    loo["estimate"] = 0.0
    infl = mv.influence(res)                    # shares the leave-one-out refits
    infl["tau2_deleted"] = -1.0
    again = mv.leave_one_out(res)
    assert (again["estimate"] != 0).all() and (mv.influence(res)["tau2_deleted"] >= 0).all()
    tf = mv.trim_and_fill(res)
    with pytest.raises(ValueError, match="read-only"):
        tf.yi_augmented[0] = 0.0


def test_other_results_hand_out_copies() -> None:
    df = case_data(BCG)
    res = mv.meta_analysis("yi", "vi", data=df, mods="ablat")
    rob = robust(res, cluster=df["alloc"])
    table = rob.coefficients
    table.loc["intrcpt", "estimate"] = 5.0
    assert rob.coefficients.loc["intrcpt", "estimate"] == rob.estimate != 5.0
    sub = mv.subgroup_analysis("yi", "vi", groups="alloc", data=df)
    table = sub.table
    table["k"] = 0
    assert (sub.table["k"] > 0).all()
    with pytest.raises(TypeError):
        sub.fits["x"] = res                                # type: ignore[index]
    perm = mv.permutation_test(res, iterations=20, seed=1)
    table = perm.coefficients
    table["permutation_pvalue"] = 2.0
    assert (perm.coefficients["permutation_pvalue"] <= 1).all()
    with pytest.raises(ValueError, match="read-only"):
        perm.statistics[0, 0] = 0.0


def test_comparing_and_hashing_fits_do_not_raise() -> None:
    a, b = _fit(method="REML"), _fit(method="REML")
    assert a == a and a != b and len({a, b}) == 2        # identity, as for any fitted object
    assert mv.leave_one_out(a).equals(mv.leave_one_out(b))


# ----------------------------------------------------------------------------- to_dict

def test_to_dict_serialises_every_field_and_the_table() -> None:
    df = case_data(BCG)
    res = mv.meta_analysis("yi", "vi", data=df, mods="ablat", method="REML", test="knha")
    d = json.loads(json.dumps(res.to_dict()))
    for key in ("yi", "vi", "labels", "design", "user_weights", "typical_vi", "terms",
                "coefficients", "fit_statistics", "vcov", "weights"):
        assert key in d, key
    assert not any(key.startswith("_") for key in d)
    assert d["yi"] == pytest.approx(list(res.yi)) and d["terms"] == ["intrcpt", "ablat"]
    assert d["coefficients"]["estimate"] == pytest.approx(list(res.beta))
    assert d["method"] == "REML" and d["test"] == "knha" and type(d["method"]) is str


def test_to_dict_of_nested_results() -> None:
    res = _fit(method="REML")
    d = json.loads(json.dumps(mv.trim_and_fill(res).to_dict()))
    assert d["filled"]["yi"] == pytest.approx(d["yi_augmented"])
    ml = multilevel("yi", "vi", groups="alloc", data=case_data(BCG))
    assert json.loads(json.dumps(ml.to_dict()))["coefficients"]["estimate"] == \
        pytest.approx([ml.estimate])


# ----------------------------------------------------------------------------- enums

def test_states_are_enums_that_compare_as_strings() -> None:
    res = _fit(method="reml", test="HKSJ")
    assert res.method == "REML" and res.method is Method.REML
    assert res.test == "knha" and res.test is InferenceTest.KNHA
    assert isinstance(res.method, str) and f"{res.method}" == "REML"
    assert "method='REML'" in repr(res)
    tf = mv.trim_and_fill(res, estimator="r0", side="LEFT")
    assert tf.estimator == "R0" and tf.side == "left"


# ----------------------------------------------------------------------------- confidence_interval

@pytest.mark.parametrize("method, test", [("EE", "z"), ("DL", "z"), ("REML", "z"), ("PM", "z"),
                                          ("DL", "knha"), ("REML", "knha"), ("PM", "knha")])
def test_confidence_interval_at_95_is_metafors(method: str, test: str) -> None:
    want = BCG["models" if test == "z" else "models_knha"][method]
    ci = _fit(method=method, test=test).confidence_interval(0.95)
    assert isinstance(ci, Interval)
    assert ci.estimate == pytest.approx(want["b"], rel=1e-6, abs=1e-9)
    assert ci.ci_lower == pytest.approx(want["ci.lb"], rel=1e-6, abs=1e-9)
    assert ci.ci_upper == pytest.approx(want["ci.ub"], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_confidence_interval_at_other_levels_is_estimate_plus_minus_crit_se(
        level: float, test: str) -> None:
    res = _fit(method="REML", test=test)
    crit = (stats.norm.ppf((1 + level) / 2) if test == "z"
            else stats.t.ppf((1 + level) / 2, res.k - 1))
    ci = res.confidence_interval(level)
    assert ci.ci_lower == pytest.approx(res.estimate - crit * res.se, rel=1e-12)
    assert ci.ci_upper == pytest.approx(res.estimate + crit * res.se, rel=1e-12)
    refit = _fit(method="REML", test=test, level=level)   # the same as fitting at that level
    assert (ci.ci_lower, ci.ci_upper) == pytest.approx((refit.ci_lower, refit.ci_upper),
                                                       rel=1e-12)


def test_confidence_interval_of_the_other_models() -> None:
    df = case_data(BCG)
    for res in (multilevel("yi", "vi", groups="alloc", data=df, test="t"),
                robust(mv.meta_analysis("yi", "vi", data=df), cluster=df["alloc"]),
                mv.mantel_haenszel("OR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg"),
                mv.peto(data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")):
        assert res.confidence_interval(res.level).ci_lower == pytest.approx(res.ci_lower,
                                                                             rel=1e-12)
        ci = res.confidence_interval(0.9)
        crit = (stats.norm.ppf(0.95) if np.isnan(res.df) else stats.t.ppf(0.95, res.df))
        assert ci.ci_upper == pytest.approx(res.estimate + crit * res.se, rel=1e-12)


@pytest.mark.parametrize("level", [0, 1, 95, -0.1, "0.9", True, None, float("nan")])
def test_confidence_interval_level_is_checked(level: object) -> None:
    with pytest.raises(InputError, match="field 'level'"):
        _fit().confidence_interval(level)             # type: ignore[arg-type]


# ----------------------------------------------------------------------------- structure

def _modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def test_single_fits_and_diagnostics_load_neither_numba_nor_the_batch_engine() -> None:
    loaded = _modules_after(
        "import metaverdict as mv\n"
        "r = mv.meta_analysis([0.1, 0.4, 0.2, 0.6], [0.02, 0.03, 0.01, 0.04])\n"
        "r.summary(); r.tau2_ci(); mv.leave_one_out(r); mv.influence(r); mv.egger_test(r)\n"
        "mv.trim_and_fill(r)")
    assert "numba" not in loaded and "metaverdict.batch" not in loaded


def _imports(module: str) -> tuple[set[str], set[str]]:
    """The modules ``module`` imports at its top level, and those imported inside functions."""
    import ast
    import importlib.util
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(open(spec.origin).read())
    top, local = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            (top if node in tree.body else local).add(node.module)
    return top, local


def test_no_import_loop_between_results_and_the_q_profile_ci() -> None:
    confint_top, confint_local = _imports("metaverdict.models.confint")
    results_top, results_local = _imports("metaverdict.models.results")
    assert "metaverdict.models.results" not in confint_top | confint_local
    assert "metaverdict.models.confint" in results_top and not results_local
    assert not confint_local


def test_result_frames_are_built_on_demand() -> None:
    res = _fit(method="DL")
    assert isinstance(res.coefficients, pd.DataFrame)
    assert res.coefficients is not res.coefficients
