"""L'Abbé plots (report.plots.labbe) against metafor 3.8-1 ``labbe()``.

Reference: tests/data/labbe/labbe_reference.json, written by labbe_reference.R in the same
folder (BCG RR/OR/RD/AS, RR and OR with ``transf=`` exp / inverse logit, Yusuf 1985 table 6
with zero cells, Hart 1999 IRR/IRD). The fit is
metaverdict's own REML fit of the same counts; its estimate is checked against metafor's too.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.report.plots import labbe_plot, labbe_points

matplotlib.use("Agg")
CASES = json.loads((Path(__file__).parent.parent / "data" / "labbe"
                    / "labbe_reference.json").read_text())["cases"]
TRANSF = {None: None, "exp": np.exp, "transf.ilogit": lambda x: 1 / (1 + np.exp(-x))}


def _inputs(case):
    rows = np.asarray(case["ids"]) - 1              # metafor's ids: 1-based, NA studies out
    counts = {k: np.array([np.nan if x == "NA" else x for x in v], dtype=float)[rows]
              for k, v in case["counts"].items()}
    es = mv.effect_sizes(case["measure"], **counts)
    return mv.meta_analysis(es.yi, es.vi), counts


@pytest.mark.parametrize("name", sorted(CASES))
def test_points_match_metafor(name):
    case = CASES[name]
    res, counts = _inputs(case)
    assert res.estimate == pytest.approx(case["estimate"], rel=1e-4, abs=1e-6)
    pts = labbe_points(res, case["measure"], **counts, transf=TRANSF[case.get("transf")])
    assert len(pts) == len(case["x"]) > 0
    np.testing.assert_allclose(pts["x"], case["x"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pts["y"], case["y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pts["size"], case["cex"], rtol=1e-10)


def test_plot_draws_points_and_lines():
    case = CASES["bcg_RR"]
    res, counts = _inputs(case)
    fig = labbe_plot(res, "RR", **counts)
    ax = fig.axes[0]
    markers = next(c for c in ax.collections if c.get_gid() == "study-markers")
    assert len(markers.get_offsets()) == 13
    line = next(ln for ln in ax.lines if ln.get_gid() == "estimate-line")
    x, y = line.get_data()
    np.testing.assert_allclose(np.asarray(y) - np.asarray(x), res.estimate)
    assert "Log Proportion (Group 1)" == ax.get_ylabel()
    rd = labbe_plot(*_inputs(CASES["bcg_RD"])[:1], "RD", **_inputs(CASES["bcg_RD"])[1])
    _, y = next(ln for ln in rd.axes[0].lines if ln.get_gid() == "estimate-line").get_data()
    assert np.all((np.asarray(y) >= 0) & (np.asarray(y) <= 1))


def test_transformed_plot_lines():
    """With transf, the points, the line of no effect and the estimate's line are drawn on
    the transformed scale: the estimate's line is transf(x + b) against transf(x)."""
    case = CASES["bcg_OR_transf"]
    res, counts = _inputs(case)
    ilogit = TRANSF["transf.ilogit"]
    fig = labbe_plot(res, "OR", **counts, transf=ilogit)
    ax = fig.axes[0]
    markers = next(c for c in ax.collections if c.get_gid() == "study-markers")
    np.testing.assert_allclose(np.sort(markers.get_offsets()[:, 0]), np.sort(case["x"]),
                               rtol=1e-12)
    x, y = (np.asarray(v) for v in next(
        ln for ln in ax.lines if ln.get_gid() == "estimate-line").get_data())
    logit = np.log(x / (1 - x))
    np.testing.assert_allclose(y, ilogit(logit + res.estimate), rtol=1e-10)
    assert 0 < ax.get_xlim()[0] < ax.get_xlim()[1] < 1
    assert ax.get_ylabel() == "Transformed log odds (Group 1)"
    with pytest.raises(InputError, match="transf"):
        labbe_points(res, "OR", **counts, transf=np.log)        # log of negative log odds
    with pytest.raises(InputError, match="a function expected"):
        labbe_points(res, "OR", **counts, transf="exp")


def test_bad_input():
    case = CASES["bcg_RR"]
    res, counts = _inputs(case)
    with pytest.raises(InputError, match="measure"):
        labbe_points(res, "SMD", **counts)
    with pytest.raises(InputError, match="needs ai, bi, ci, di"):
        labbe_points(res, "RR", ai=counts["ai"])
    with pytest.raises(InputError, match="13 studies expected"):
        labbe_points(res, "RR", **{k: v[:5] for k, v in counts.items()})
    reg = mv.meta_analysis(res.yi, res.vi, mods=np.arange(13.0))
    with pytest.raises(InputError, match="without moderators"):
        labbe_points(reg, "RR", **counts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=st.lists(st.tuples(*[st.integers(-2, 60)] * 4), min_size=1, max_size=8),
       measure=st.sampled_from(["RR", "OR", "RD", "AS", "IRR", "IRD", "IRSD", "MD"]))
def test_malformed_counts_give_points_or_a_clear_error(counts, measure):
    """Any counts: points, or an InputError (negative counts, a study without either arm)."""
    a = np.array(counts, dtype=float).T
    res = mv.meta_analysis(np.zeros(len(counts)), np.ones(len(counts)))
    names = ("x1i", "t1i", "x2i", "t2i") if measure.startswith("IR") else ("ai", "bi", "ci", "di")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pts = labbe_points(res, measure, **dict(zip(names, a)))
        except InputError:
            return
    assert np.isfinite(pts[["x", "y", "size"]].to_numpy()).all()
