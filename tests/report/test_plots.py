"""The plots of metaverdict.report.plots, rendered on real datasets (dat.bcg: 13 studies;
dat.landenberger2005: 58; dat.mcdaniel1994: 160 and its first 60), checked as structures:
one marker per study, the diamond on the confidence interval, axis labels, a height that grows
with k, and no two pieces of text overlapping once drawn."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.text import Text

import metaverdict as mv
from metaverdict.errors import InputError
from metaverdict.report.plots import (
    baujat_plot,
    drapery_plot,
    forest_plot,
    funnel_plot,
    gosh_plot,
    profile_plot,
    qqnorm_plot,
    radial_plot,
)
from metaverdict.report.plots._style import bboxes_overlap, truncate_label

from conftest import case_data, case_yi_vi, load_case

diagnostics = pytest.importorskip("metaverdict.diagnostics")


def _fit(case_id: str, n: int | None = None, **kw) -> mv.MetaAnalysisResult:
    case = load_case(case_id)
    data = case_data(case)
    yi, vi = case_yi_vi(case)
    if "author" in data:
        labels = [f"{a}, {y}" for a, y in zip(data["author"], data["year"])]
    else:
        labels = [str(s) for s in data["study"]]
    if n is not None:
        yi, vi, labels = yi[:n], vi[:n], labels[:n]
    return mv.meta_analysis(yi, vi, labels=labels, **kw)


@pytest.fixture(scope="module")
def bcg() -> mv.MetaAnalysisResult:
    return _fit("dat.bcg__RR")


@pytest.fixture(scope="module")
def sizes() -> dict[int, mv.MetaAnalysisResult]:
    return {3: _fit("dat.bcg__RR", 3), 13: _fit("dat.bcg__RR"),
            58: _fit("dat.landenberger2005__OR"), 60: _fit("dat.mcdaniel1994__ZCOR", 60),
            160: _fit("dat.mcdaniel1994__ZCOR")}


def _by_gid(fig: Figure, gid: str) -> list:
    return [a for a in fig.findobj() if getattr(a, "get_gid", lambda: None)() == gid]


def _markers(fig: Figure, gid: str = "study-markers") -> np.ndarray:
    (coll,) = [c for c in _by_gid(fig, gid) if isinstance(c, PathCollection)]
    return np.asarray(coll.get_offsets())


def _overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts whose rendered boxes overlap (1 px tolerance)."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and t.get_figure() is not None]
    boxes = [t.get_window_extent(renderer) for t in texts]
    return [(texts[i].get_text(), texts[j].get_text()) for i, j in bboxes_overlap(boxes, pad=1.0)]


# --- forest ----------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [3, 13, 58, 60, 160])
def test_forest_one_square_per_study_and_no_text_overlap(sizes, k):
    res = sizes[k]
    fig = forest_plot(res, transform=np.exp if k <= 58 else None)
    assert len(_markers(fig)) == k
    assert len(_by_gid(fig, "study-ci")[0].get_segments()) == k
    assert _overlapping_texts(fig) == []
    labels = {t.get_text() for t in fig.findobj(Text)}
    assert {"Study", "Weight", "Prediction interval"} <= labels
    assert any(t.startswith("Heterogeneity: \u03c4\u00b2 =") and "I\u00b2 =" in t and "Q(" in t
               for t in labels)


def test_forest_height_grows_with_rows(sizes):
    heights = [forest_plot(sizes[k]).get_size_inches()[1] for k in (3, 13, 58, 160)]
    assert heights == sorted(heights) and len(set(heights)) == 4
    # the same row height whatever k: labels keep their spacing
    per_row = np.diff(heights) / np.diff([3, 13, 58, 160])
    assert np.allclose(per_row, per_row[0])


def test_forest_diamond_spans_ci_and_pi_bar(bcg):
    fig = forest_plot(bcg, transform=np.exp, xlabel="Risk ratio")
    (diamond,) = _by_gid(fig, "pooled-diamond")
    assert isinstance(diamond, Polygon)
    xs = diamond.get_xy()[:, 0]
    assert xs.min() == pytest.approx(np.exp(bcg.ci_lower))
    assert xs.max() == pytest.approx(np.exp(bcg.ci_upper))
    assert np.exp(bcg.estimate) == pytest.approx(np.median(xs))
    (pi,) = _by_gid(fig, "prediction-interval")
    assert isinstance(pi, Rectangle)
    assert pi.get_x() == pytest.approx(np.exp(bcg.pi_lower))
    assert pi.get_x() + pi.get_width() == pytest.approx(np.exp(bcg.pi_upper))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Risk ratio" and ax.get_xscale() == "log"
    texts = {t.get_text() for t in fig.findobj(Text)}
    assert "Risk ratio [95% CI]" in texts
    assert f"{np.exp(bcg.estimate):.2f}" in texts          # 0.49
    (ref,) = _by_gid(fig, "refline")
    assert ref.get_segments()[0][0][0] == pytest.approx(1.0)   # refline 0 drawn at exp(0)


def test_forest_squares_follow_weights_and_estimates(bcg):
    fig = forest_plot(bcg)
    (coll,) = [c for c in _by_gid(fig, "study-markers")]
    np.testing.assert_allclose(coll.get_offsets()[:, 0], bcg.yi)
    sizes = coll.get_sizes()
    assert np.argmax(sizes) == np.argmax(bcg.weights)
    assert np.argmin(sizes) == np.argmin(bcg.weights)
    # rows top to bottom in data order
    assert np.all(np.diff(coll.get_offsets()[:, 1]) < 0)


def test_forest_subgroups_fit_each_block(bcg):
    alloc = list(case_data(load_case("dat.bcg__RR"))["alloc"])
    fig = forest_plot(bcg, subgroups=alloc, transform=np.exp)
    diamonds = _by_gid(fig, "subgroup-diamond")
    assert len(diamonds) == 3
    for group, diamond in zip(dict.fromkeys(alloc), diamonds):
        idx = [i for i, g in enumerate(alloc) if g == group]
        sub = mv.meta_analysis(bcg.yi[idx], bcg.vi[idx], method="REML")
        xs = diamond.get_xy()[:, 0]
        assert xs.min() == pytest.approx(np.exp(sub.ci_lower))
        assert xs.max() == pytest.approx(np.exp(sub.ci_upper))
    assert len(_markers(fig)) == bcg.k
    texts = {t.get_text() for t in fig.findobj(Text)}
    assert {"random", "alternate", "systematic"} <= texts
    assert _overlapping_texts(fig) == []
    # a mapping label -> group gives the same blocks
    mapping = dict(zip(bcg.labels, alloc))
    fig2 = forest_plot(bcg, subgroups=mapping, transform=np.exp)
    assert [d.get_xy().tolist() for d in _by_gid(fig2, "subgroup-diamond")] == \
        [d.get_xy().tolist() for d in diamonds]


def test_forest_sort_and_long_labels(bcg):
    fig = forest_plot(bcg, sort="estimate")
    ys = _markers(fig)
    order = np.argsort(ys[:, 1])[::-1]                 # top to bottom
    assert np.all(np.diff(ys[order, 0]) >= 0)
    long = [f"{a} and colleagues of the very long multicentre trial group" for a in bcg.labels]
    fig = forest_plot(bcg, labels=long, max_label_chars=30)
    shown = [t.get_text() for t in fig.findobj(Text) if "\u2026" in t.get_text()]
    assert len(shown) == bcg.k and all(len(s) <= 30 for s in shown)
    assert _overlapping_texts(fig) == []


def test_truncate_label_keeps_the_year():
    assert truncate_label("Short (2001)", 20) == "Short (2001)"
    assert truncate_label("Frimodt-Moller and many others et al. (1973)", 24) == \
        "Frimodt-Moller\u2026 (1973)"
    assert truncate_label("Comstock & Webster et al, 1969", 20) == "Comstock &\u2026, 1969"
    assert truncate_label("A very long label without any year in it", 12) == "A very long\u2026"
    assert len(truncate_label("x" * 80, 40)) == 40


def test_forest_into_given_axes_and_errors(bcg):
    fig = Figure(figsize=(9, 5))
    ax = fig.add_axes((0.3, 0.1, 0.35, 0.85))
    assert forest_plot(bcg, ax=ax) is fig
    assert len(_markers(fig)) == bcg.k
    with pytest.raises(InputError, match="sort"):
        forest_plot(bcg, sort="alphabet")
    with pytest.raises(InputError, match="subgroups"):
        forest_plot(bcg, subgroups=["a", "b"])
    data = case_data(load_case("dat.bcg__RR"))
    reg = mv.meta_analysis("yi", "vi", mods="ablat", data=data)
    with pytest.raises(InputError, match="intercept-only"):
        forest_plot(reg)


def test_forest_common_effect_has_no_pi(bcg):
    fe = mv.meta_analysis(bcg.yi, bcg.vi, method="EE", labels=bcg.labels)
    fig = forest_plot(fe)
    assert _by_gid(fig, "prediction-interval") == []
    assert "Common-effect model" in {t.get_text() for t in fig.findobj(Text)}


# --- funnel ----------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [13, 60, 160])
def test_funnel_points_and_axes(sizes, k):
    res = sizes[k]
    fig = funnel_plot(res)
    pts = _markers(fig)
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(res.yi))
    np.testing.assert_allclose(np.sort(pts[:, 1]), np.sort(np.sqrt(res.vi)))
    ax = fig.axes[0]
    assert ax.yaxis_inverted() and ax.get_ylabel() == "Standard error"
    assert len(_by_gid(fig, "contour")) == 4            # background + three bands
    assert _overlapping_texts(fig) == []
    assert _by_gid(funnel_plot(res, contours=None), "contour") == []


def test_funnel_trim_and_fill(sizes):
    res = sizes[58]
    tf = diagnostics.trim_and_fill(res)
    assert tf.k0 > 0
    fig = funnel_plot(res, trim_and_fill=tf)
    assert len(_markers(fig)) == res.k
    filled = _markers(fig, "filled-markers")
    assert len(filled) == tf.k0
    np.testing.assert_allclose(np.sort(filled[:, 0]),
                               np.sort(np.asarray(tf.yi_augmented)[np.asarray(tf.is_filled)]))
    (line,) = _by_gid(fig, "pooled-line")
    assert line.get_segments()[0][0][0] == pytest.approx(tf.filled.estimate)
    (orig,) = _by_gid(fig, "original-line")
    assert orig.get_segments()[0][0][0] == pytest.approx(res.estimate)
    assert _overlapping_texts(fig) == []


# --- baujat, radial, drapery -----------------------------------------------------------------

@pytest.mark.parametrize("k", [3, 13, 58, 160])
def test_baujat_points_are_the_diagnostics(sizes, k):
    res = sizes[k]
    fig = baujat_plot(res)
    data = diagnostics.baujat(res)
    pts = _markers(fig)
    np.testing.assert_allclose(pts[:, 0], data["x"])
    np.testing.assert_allclose(pts[:, 1], data["y"])
    labels = _by_gid(fig, "point-label")
    assert 1 <= len(labels) <= (k if k <= 20 else 10)
    assert _overlapping_texts(fig) == []


@pytest.mark.parametrize("k", [3, 13, 58, 160])
def test_radial_coordinates_and_slope(sizes, k):
    res = sizes[k]
    fig = radial_plot(res, transform=np.exp if k <= 58 else None)
    pts = _markers(fig)
    s = np.sqrt(res.vi + res.tau2)
    np.testing.assert_allclose(pts[:, 0], 1 / s)
    np.testing.assert_allclose(pts[:, 1], res.yi / s)
    (line,) = _by_gid(fig, "pooled-line")
    x, y = line.get_data()
    assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(res.estimate)
    assert len(_by_gid(fig, "arc-label")) >= 2
    assert _overlapping_texts(fig) == []


@pytest.mark.parametrize("k", [13, 160])
def test_drapery_curves(sizes, k):
    res = sizes[k]
    fig = drapery_plot(res)
    (curves,) = _by_gid(fig, "study-curves")
    assert isinstance(curves, LineCollection) and len(curves.get_segments()) == k
    (pooled,) = _by_gid(fig, "pooled-curve")
    x, p = (np.asarray(v, dtype=float) for v in pooled.get_data())
    assert x[np.argmax(p)] == pytest.approx(res.estimate) and p.max() == pytest.approx(1.0)
    # the pooled curve crosses p = 1 - level at the confidence limits
    left, right = x < res.estimate, x > res.estimate
    assert np.interp(1 - res.level, p[left], x[left]) == pytest.approx(res.ci_lower, abs=2e-3)
    assert np.interp(1 - res.level, p[right][::-1], x[right][::-1]) == \
        pytest.approx(res.ci_upper, abs=2e-3)
    assert len(_by_gid(fig, "prediction-interval")) == 1
    ax = fig.axes[0]
    assert ax.get_ylabel() == "p-value"
    assert _overlapping_texts(fig) == []


def test_gosh_points_are_the_fits(sizes):
    res = sizes[13]
    g = mv.gosh(res)
    fig = gosh_plot(g)
    (markers,) = _by_gid(fig, "subset-markers")
    pts = np.asarray(markers.get_offsets(), dtype=float)
    table = g.table
    assert len(pts) == g.n_subsets == 2 ** 13 - 1
    np.testing.assert_allclose(pts[:, 0], table["i2"])
    np.testing.assert_allclose(pts[:, 1], table["estimate"])
    (count,) = _by_gid(fig, "subset-count")
    assert count.get_text() == "8,191 subsets of k = 13"
    assert _overlapping_texts(fig) == []


def test_gosh_plot_meta_regression_and_bad_input(bcg):
    data = case_data(load_case("dat.bcg__RR"))
    yi, vi = case_yi_vi(load_case("dat.bcg__RR"))
    data = data.assign(yi=yi, vi=vi)
    g = mv.gosh(mv.meta_analysis("yi", "vi", data=data, mods="ablat"))
    fig = gosh_plot(g)
    (markers,) = _by_gid(fig, "subset-markers")
    defined = g.table.dropna()
    np.testing.assert_allclose(np.asarray(markers.get_offsets())[:, 1], defined["ablat"])
    assert fig.axes[0].get_ylabel() == "Coefficient of ablat"
    with pytest.raises(InputError, match="column"):
        gosh_plot(g, column="year")
    with pytest.raises(InputError, match="gosh"):
        gosh_plot(bcg)


def test_profile_plot_draws_the_profile(bcg):
    prof = mv.likelihood_profile(bcg)
    fig = profile_plot(prof, cline=True)
    (line,) = _by_gid(fig, "profile-line")
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    np.testing.assert_allclose(x, prof.table["tau2"])
    np.testing.assert_allclose(y, prof.table["ll"])
    (crit,) = _by_gid(fig, "critical-line")
    assert crit.get_ydata()[0] == pytest.approx(prof.ll_max - 3.841458820694124 / 2)
    (vert,) = _by_gid(fig, "estimate-line")
    assert vert.get_xdata()[0] == pytest.approx(bcg.tau2)
    assert fig.axes[0].get_ylabel() == "Restricted log-likelihood"
    assert _overlapping_texts(fig) == []
    with pytest.raises(InputError, match="likelihood_profile"):
        profile_plot(bcg)


QQNORM = json.loads((Path(__file__).parent.parent / "data" / "qqnorm"
                     / "qqnorm_reference.json").read_text())["cases"]


@pytest.mark.parametrize("name", list(QQNORM))
def test_qqnorm_points_match_metafor(name):
    case = QQNORM[name]
    res = mv.meta_analysis(case["yi"], case["vi"], method="REML")
    fig = qqnorm_plot(res, seed=1)
    (markers,) = _by_gid(fig, "residual-markers")
    pts = np.asarray(markers.get_offsets(), dtype=float)
    np.testing.assert_allclose(pts[:, 0], case["x"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pts[:, 1], case["y"], rtol=1e-6, atol=1e-8)
    (lower,) = _by_gid(fig, "envelope-lower")
    (upper,) = _by_gid(fig, "envelope-upper")
    assert np.all(lower.get_ydata() < upper.get_ydata())
    assert _overlapping_texts(fig) == []


def test_qqnorm_envelope():
    from metaverdict.report.plots.qqnorm import simulated_envelope
    res = mv.meta_analysis(QQNORM["all"]["yi"], QQNORM["all"]["vi"], method="REML")
    lo, hi = simulated_envelope(res, 0.95, reps=4000, seed=3)
    lo2, hi2 = simulated_envelope(res, 0.95, reps=4000, seed=3)
    np.testing.assert_array_equal(lo, lo2)                  # reproducible with a seed
    assert np.all(np.diff(lo) > 0) and np.all(np.diff(hi) > 0)
    blo, bhi = simulated_envelope(res, 0.95, bonferroni=True, reps=4000, seed=3)
    assert np.all(blo < lo) and np.all(bhi > hi)            # Bonferroni: wider
    # the middle order statistic of a symmetric residual distribution: an envelope about 0
    assert lo[6] == pytest.approx(-hi[6], abs=0.1)
    with pytest.raises(InputError, match="reps"):
        qqnorm_plot(res, reps=1)
    with pytest.raises(InputError, match="MetaAnalysisResult"):
        qqnorm_plot(mv.gosh(res))


# --- files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("plot", [forest_plot, funnel_plot, baujat_plot, radial_plot,
                                  drapery_plot])
@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_save_formats(bcg, tmp_path, plot, suffix):
    path = tmp_path / f"{plot.__name__}.{suffix}"
    fig = plot(bcg, save=path)
    assert isinstance(fig, Figure)
    head = path.read_bytes()[:200]
    assert {"png": b"\x89PNG", "pdf": b"%PDF"}.get(suffix, b"<?xml") in head
    if suffix == "svg":
        assert re.search(rb"<svg", path.read_bytes()[:2000])
