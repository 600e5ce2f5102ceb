"""Diagnostics of Mantel-Haenszel and Peto poolings, MH incidence-rate differences, all-zero
tables and cumulative analysis with tied order values, against R metafor 3.8-1
(tests/data/metafor_extras/make_extras.R); and the error contract: every diagnostic called on
a result type it does not support raises InputError naming the function and the type."""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import metaverdict as mv
from metaverdict.diagnostics import hat_values
from metaverdict.diagnostics.tables import TABLE_COLUMNS
from metaverdict.errors import InputError
from metaverdict.models.confint import profile_likelihood, q_profile
from metaverdict.models.permutation import permutation_test

from conftest import assert_close, case_data, load_case

EXTRAS = json.loads((Path(__file__).parents[1] / "data" / "metafor_extras" / "extras.json")
                    .read_text())
DATA = EXTRAS["data"]
R_COLUMNS = ("estimate", "se", "zval", "pval", "ci.lb", "ci.ub", "Q", "Qp", "I2", "H2")


def _pooling(key: str) -> tuple[Any, Any]:
    """The MH / Peto pooling of fixture ``key`` and the order used for its cumul()."""
    data, measure = key.split("_")
    if data == "bcg":
        d = DATA["bcg_tables"]
        kw = {f: d[f] for f in ("ai", "bi", "ci", "di")}
        order = d["year"]
    elif data == "li2007":
        d = DATA["li2007"]
        kw = {f: d[f] for f in ("ai", "n1i", "ci", "n2i")}
        order = None
    else:
        d = DATA["hart1999"]
        kw = {f: d[f] for f in ("x1i", "t1i", "x2i", "t2i")}
        order = None
    res = mv.peto(**kw) if measure == "peto" else mv.mantel_haenszel(measure, **kw)
    return res, order


def _check_table(got: pd.DataFrame, want: dict[str, Any], what: str) -> None:
    assert list(got.columns) == list(TABLE_COLUMNS)
    for ours, theirs in zip(TABLE_COLUMNS, R_COLUMNS):
        assert_close(got[ours].to_numpy(), want[theirs], f"{what} {ours}")


@pytest.mark.parametrize("key", sorted(EXTRAS["mh"]))
def test_leave_one_out_of_tables(key: str) -> None:
    res, _ = _pooling(key)
    _check_table(mv.leave_one_out(res), EXTRAS["mh"][key]["leave1out"], f"{key} leave1out")


@pytest.mark.parametrize("key", sorted(EXTRAS["mh"]))
def test_cumulative_of_tables(key: str) -> None:
    res, order = _pooling(key)
    _check_table(mv.cumulative(res, order=order), EXTRAS["mh"][key]["cumul"], f"{key} cumul")


@pytest.mark.parametrize("key", sorted(EXTRAS["mh"]))
def test_rstandard_of_tables(key: str) -> None:
    res, _ = _pooling(key)
    got = mv.rstandard(res)
    for col in ("resid", "se", "z"):
        assert_close(got[col].to_numpy(), EXTRAS["mh"][key]["rstandard"][col], f"{key} {col}")


def test_mh_incidence_rate_difference() -> None:
    res, _ = _pooling("hart_IRD")
    want = EXTRAS["mh"]["hart_IRD"]["fit"]
    got = {"b": res.estimate, "se": res.se, "zval": res.statistic, "pval": res.pvalue,
           "ci.lb": res.ci_lower, "ci.ub": res.ci_upper, "QE": res.q, "QEp": res.q_pvalue,
           "I2": res.i2, "H2": res.h2, "k.yi": res.k_yi, "yi": res.yi, "vi": res.vi}
    for name, value in got.items():
        assert_close(value, want[name], f"hart IRD {name}")
    assert res.cmh is None and not res.is_ratio and res.exp_estimate == res.estimate
    assert "incidence-rate difference" in res.summary()


def test_all_zero_tables() -> None:
    d = DATA["zero"]
    kw = {f: d[f] for f in ("ai", "n1i", "ci", "n2i")}
    rd = mv.mantel_haenszel("RD", **kw)
    want = EXTRAS["zero"]["mh_RD"]
    got = {"b": rd.estimate, "se": rd.se, "zval": rd.statistic, "pval": rd.pvalue,
           "ci.lb": rd.ci_lower, "ci.ub": rd.ci_upper, "QE": rd.q, "QEp": rd.q_pvalue,
           "I2": rd.i2, "H2": rd.h2, "k.yi": rd.k_yi}
    for name, value in got.items():
        assert_close(value, want[name], f"all-zero RD {name}")
    # metafor: NA for the OR and the RR of tables without events, an error for Peto
    assert EXTRAS["zero"]["mh_OR"]["b"] is None and EXTRAS["zero"]["mh_RR"]["b"] is None
    assert "never occurred" in EXTRAS["zero"]["peto"]["error"]
    for measure in ("OR", "RR"):
        with pytest.raises(InputError, match="no events"):
            mv.mantel_haenszel(measure, **kw)
    with pytest.raises(InputError, match="no events"):
        mv.peto(**kw)


def test_tables_without_non_events() -> None:
    # every participant has the event: RD and log RR are 0 (metafor: b = 0; its RR se is NaN
    # from rounding, the variance being exactly 0), the OR undefined
    kw = dict(ai=[5, 6], bi=[0, 0], ci=[7, 8], di=[0, 0])
    for measure in ("RD", "RR"):
        res = mv.mantel_haenszel(measure, **kw)
        assert res.estimate == 0 and res.se == 0 and res.k_yi == 0
    with pytest.raises(InputError, match="no non-events"):
        mv.mantel_haenszel("OR", **kw)


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_cumulative_collapse(method: str) -> None:
    d = DATA["bcg"]
    res = mv.meta_analysis(d["yi"], d["vi"], method=method)
    got = mv.cumulative(res, order=d["year"], collapse=True)
    want = EXTRAS["cumul_collapse"][method]
    assert got.index.name == "order"
    assert_close(got.index.to_numpy(dtype=float), want["year"], f"collapse {method} year")
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_lower", "ci.lb"),
                         ("ci_upper", "ci.ub"), ("tau2", "tau2"), ("q", "Q"), ("i2", "I2"),
                         ("k", "k")):
        assert_close(got[ours].to_numpy(dtype=float), want[theirs], f"collapse {method} {ours}")
    assert len(got) == len(set(d["year"])) < res.k          # 1973 twice: one row


def test_collapse_needs_order_and_reverses_with_decreasing() -> None:
    d = DATA["bcg"]
    res = mv.meta_analysis(d["yi"], d["vi"], method="DL")
    with pytest.raises(InputError, match="order"):
        mv.cumulative(res, collapse=True)
    down = mv.cumulative(res, order=d["year"], collapse=True, decreasing=True)
    assert list(down["k"]) == sorted(down["k"]) and down.index[0] == max(d["year"])
    assert down["k"].iloc[-1] == res.k


# ------------------------------------------------------------------------- error contract

@cache
def _results() -> dict[str, Any]:
    d = DATA["bcg"]
    bt = DATA["bcg_tables"]
    tables = {f: bt[f] for f in ("ai", "bi", "ci", "di")}
    ml = case_data(load_case("dat.konstantopoulos2011__GEN"))
    net = pd.DataFrame({"studlab": ["s1", "s2", "s3", "s4", "s4", "s4", "s5"],
                        "treat1": ["A", "A", "B", "A", "A", "B", "A"],
                        "treat2": ["B", "C", "C", "B", "C", "C", "B"],
                        "TE": [-0.5, -0.9, -0.3, -0.4, -0.8, -0.4, -0.1],
                        "seTE": [0.2, 0.25, 0.3, 0.3, 0.3, 0.35, 0.4]})
    from metaverdict.models.bayes import bayesian_meta_analysis
    from metaverdict.network import network_meta_analysis
    return {
        "univariate": mv.meta_analysis(d["yi"], d["vi"]),
        "meta_regression": mv.meta_analysis(d["yi"], d["vi"],
                                            mods=np.array(d["ablat"])[:, None]),
        "mantel_haenszel": mv.mantel_haenszel("OR", **tables),
        "peto": mv.peto(**tables),
        "multilevel": mv.multilevel("yi", "vi", groups=["district", "school"], data=ml),
        "network": network_meta_analysis(net, method_tau="DL"),
        "bayes": bayesian_meta_analysis(d["yi"][:6], d["vi"][:6], tau_prior="half-normal",
                                        tau_scale=0.5, mu_prior=(0.0, 2.0)),
    }


def _tau2_ci(res: Any) -> Any:
    return q_profile(res, 0.95)


DIAGNOSTICS: dict[str, tuple[Callable[[Any], Any], tuple[str, ...]]] = {
    # name: (call, result types it supports)
    "leave_one_out": (mv.leave_one_out, ("univariate", "mantel_haenszel", "peto")),
    "cumulative": (mv.cumulative, ("univariate", "mantel_haenszel", "peto")),
    "rstandard": (mv.rstandard, ("univariate", "meta_regression", "mantel_haenszel", "peto")),
    "influence": (mv.influence, ("univariate", "meta_regression")),
    "hat_values": (hat_values, ("univariate", "meta_regression")),
    "blup": (mv.blup, ("univariate", "meta_regression")),
    "ranef": (mv.ranef, ("univariate", "meta_regression")),
    "baujat": (mv.baujat, ("univariate", "meta_regression")),
    "egger_test": (mv.egger_test, ("univariate", "meta_regression")),
    "rank_test": (mv.rank_test, ("univariate",)),
    "pet_peese": (mv.pet_peese, ("univariate",)),
    "trim_and_fill": (mv.trim_and_fill, ("univariate",)),
    "henmi_copas": (mv.henmi_copas, ("univariate",)),
    "permutation_test": (permutation_test, ("univariate", "meta_regression")),
    "q_profile": (_tau2_ci, ("univariate", "meta_regression")),
    "profile_likelihood": (lambda r: profile_likelihood(r, 0.95),
                           ("univariate", "meta_regression")),
}
RESULT_TYPES = ("univariate", "meta_regression", "mantel_haenszel", "peto", "multilevel",
                "network", "bayes")
CASES = [(name, kind) for name, (_, ok) in DIAGNOSTICS.items() for kind in RESULT_TYPES
         if kind not in ok and not (kind == "meta_regression" and "univariate" in ok)]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_unsupported_result_types_raise_input_error(name: str, kind: str) -> None:
    res = _results()[kind]
    call = DIAGNOSTICS[name][0]
    with pytest.raises(InputError) as err:
        call(res)
    assert name in str(err.value) and type(res).__name__ in str(err.value), str(err.value)


@pytest.mark.parametrize("name", [n for n, (_, ok) in DIAGNOSTICS.items()
                                  if "univariate" in ok and "meta_regression" not in ok])
def test_meta_regression_where_only_intercept_models_apply(name: str) -> None:
    with pytest.raises(InputError, match="moderator"):
        DIAGNOSTICS[name][0](_results()["meta_regression"])
