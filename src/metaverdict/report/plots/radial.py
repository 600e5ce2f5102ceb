"""Radial (Galbraith) plot: standardized effects against precision, with the pooled estimate as
the slope of a line through the origin and an optional arc scale of effect sizes."""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import metaverdict.report.plots._style as st
from metaverdict.models.results import MetaAnalysisResult


@st.axes_docstring
def radial_plot(res: MetaAnalysisResult, *, band: float = 2.0, arc: bool = True,
                transform: st.Transform | None = None, title: str | None = None,
                ax: Axes | None = None, save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a radial (Galbraith) plot of a fitted intercept-only meta-analysis.

    Each study is a point at ``x = 1 / sqrt(vi + tau2)`` (its precision in the model) and
    ``y = yi / sqrt(vi + tau2)`` (its standardized effect). A line through the origin has the
    pooled estimate as its slope, since the pooled estimate is the least-squares slope of y on
    x through the origin; the dashed lines at ``± band`` around it hold about 95% of studies
    (``band = 2``) when the model fits. The arc on the right reads the effect of a point off the
    ray from the origin through it: a study whose ray hits the arc at 0.5 has ``yi = 0.5``.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit from :func:`metaverdict.meta_analysis` (``tau2 = 0`` for a
        common-effect model).
    band : float
        Half-width of the band around the line, in standardized units (y).
    arc : bool
        Draw the arc scale of effect sizes.
    transform : callable, optional
        Applied to the arc's tick labels, e.g. ``np.exp`` to read ratios off a log scale.
    %(axes)s

    References
    ----------
    Galbraith RF (1988). A note on graphical presentation of estimated odds ratios from several
    clinical trials. Stat Med 7:889-894.
    """
    st.require_study_data(res, "radial_plot")
    yi = np.asarray(res.yi, dtype=float)
    scale = np.sqrt(np.asarray(res.vi, dtype=float) + (0.0 if res.is_common_effect else res.tau2))
    x, y = 1.0 / scale, yi / scale

    created = ax is None
    fig, ax = st.new_figure(ax, 6.0, 4.6)
    if created:
        fig.subplots_adjust(left=0.12, right=0.86 if arc else 0.96, bottom=0.12, top=0.93)
    x_max = float(x.max()) * 1.08
    xs = np.array([0.0, x_max])
    line_y = res.estimate * xs
    y_lo = min(float(y.min()), float((line_y - band).min()))
    y_hi = max(float(y.max()), float((line_y + band).max()))
    pad = 0.06 * (y_hi - y_lo)
    ax.set_xlim(0.0, x_max)
    ax.set_ylim(y_lo - pad, y_hi + pad)

    ax.axhline(0.0, color="#d0d0d0", lw=0.6, zorder=1)
    ax.scatter(x, y, s=24, color=st.STUDY_COLOR, edgecolors="white", linewidths=0.5, zorder=3,
               gid="study-markers")
    st.style_axes(ax)
    ax.set_xlabel(r"Precision  $1/\sqrt{v_i + \tau^2}$")
    ax.set_ylabel(r"Standardized effect  $y_i/\sqrt{v_i + \tau^2}$")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold")
    x_end = _draw_arc(ax, fig, x, y, yi, res.estimate, transform) if arc else None
    xs = np.array([0.0, x_max if x_end is None else x_end])
    line_y = res.estimate * xs
    ax.plot(xs, line_y, color=st.INK, lw=1.0, gid="pooled-line", zorder=2)
    for sign in (-1, 1):
        ax.plot(xs, line_y + sign * band, color=st.GUIDE_COLOR, lw=0.8, ls=(0, (4, 3)),
                gid="band", zorder=2)
    return st.finish(fig, save)


def _draw_arc(ax: Axes, fig: Figure, x: np.ndarray, y: np.ndarray, yi: np.ndarray,
              estimate: float, transform: st.Transform | None) -> float | None:
    """An arc of effect sizes: the tick for effect t sits where the ray y = t·x meets it.

    The arc is a circle in screen space just outside the farthest point, so it looks round
    whatever the axes' scales; each tick lies exactly on its ray. Returns the x where the
    pooled line meets the arc (None when no arc fits).
    """
    bbox = ax.get_position()
    w_in, h_in = bbox.width * fig.get_size_inches()[0], bbox.height * fig.get_size_inches()[1]
    (y0, y1) = ax.get_ylim()
    sy = (y1 - y0) / h_in                                 # data units per inch
    x1 = ax.get_xlim()[1]
    for _ in range(4):   # widen x until the arc and its labels fit; distances shrink as x grows
        sx = x1 / w_in
        radius_in = 1.06 * float(np.max(np.hypot(x / sx, y / sy)))
        x1 = max(x1, radius_in * sx * 1.16)
    ax.set_xlim(0.0, x1)
    sx = x1 / w_in

    def angle(t: float) -> float:
        return math.atan2(t * sx, sy)                     # screen angle of the ray y = t x

    def point(t: float) -> tuple[float, float]:
        phi = angle(t)
        return radius_in * math.cos(phi) * sx, radius_in * math.sin(phi) * sy

    lo, hi = float(yi.min()), float(yi.max())
    span = hi - lo if hi > lo else 1.0
    ts = np.linspace(lo - 0.05 * span, hi + 0.05 * span, 200)
    ts = ts[[y0 <= point(t)[1] <= y1 for t in ts]]        # the part inside the y limits
    if len(ts) < 2:
        return None
    pts = np.array([point(t) for t in ts])
    ax.plot(pts[:, 0], pts[:, 1], color=st.INK, lw=0.8, gid="arc", clip_on=False)
    for t in _arc_ticks(float(ts[0]), float(ts[-1]), transform):
        px, py = point(t)
        phi = angle(t)
        dx, dy = math.cos(phi) * 0.06 * sx, math.sin(phi) * 0.06 * sy   # 0.06 in outwards
        ax.plot([px, px + dx], [py, py + dy], color=st.INK, lw=0.8, clip_on=False, gid="arc-tick")
        label = st.format_number(float(st.apply_transform(transform, t)), _digits(t, transform))
        ax.annotate(label, (px + dx, py + dy), xytext=(3 * math.cos(phi), 3 * math.sin(phi)),
                    textcoords="offset points", ha="left", va="center",
                    fontsize=st.SMALL_FONT_SIZE, color=st.INK, annotation_clip=False,
                    gid="arc-label")
    return point(estimate)[0]


def _arc_ticks(lo: float, hi: float, transform: st.Transform | None) -> list[float]:
    locator = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
    if st.is_log_transform(transform):
        e_lo, e_hi = math.exp(lo), math.exp(hi)
        cands = [m * 10.0 ** d for d in range(math.floor(math.log10(e_lo)) - 1,
                                               math.ceil(math.log10(e_hi)) + 1)
                 for m in (1, 2, 5)]
        ticks = [c for c in cands if e_lo <= c <= e_hi]
        if len(ticks) < 3:                 # a narrow range: evenly spaced ratios instead
            ticks = [float(t) for t in locator.tick_values(e_lo, e_hi)
                     if e_lo <= t <= e_hi and t > 0]
        return [math.log(c) for c in ticks]
    return [float(t) for t in locator.tick_values(lo, hi) if lo <= t <= hi]


def _digits(t: float, transform: Any) -> int:
    v = float(st.apply_transform(transform, t))
    for d in range(0, 4):
        if abs(round(v, d) - v) < 1e-9:
            return d
    return 2
