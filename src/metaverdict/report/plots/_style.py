"""Layout helpers shared by the plots: figures, fonts, text measurement, labels, number format.

Nothing here fits a model. The few display quantities the plots need (a study's Wald interval,
a normal quantile for a pseudo-confidence region) are the textbook one-liners documented where
they are defined, so that every plot draws them the same way.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import Bbox
from scipy.stats import norm

from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult

FloatArray = npt.NDArray[np.float64]
Transform = Callable[[Any], Any]

FONT_SIZE = 9.0
SMALL_FONT_SIZE = 8.0
ROW_HEIGHT_IN = 0.21          # one forest-plot row: 9 pt text plus ~6 pt leading
INK = "#1a1a1a"               # text, CI lines, pooled diamond
STUDY_COLOR = "#2f4b7c"       # study squares and points
SUBGROUP_COLOR = "#6b7fa3"    # subgroup diamonds
PI_COLOR = "#c0392b"          # prediction intervals
FILLED_COLOR = "#c0392b"      # trim-and-fill imputed studies
GUIDE_COLOR = "#808080"       # reference and pseudo-confidence lines
MINUS = "\u2212"

_MEASURE = RendererAgg(16, 16, 72)   # 72 dpi: measured pixels are points


#: The parameters and return value that the single-panel plots share, put in place of the
#: line ``%(axes)s`` of their docstrings by :func:`axes_docstring`.
AXES_DOC = """\
title : str, optional
    Axes title.
ax : Axes, optional
    Draw into this axes instead of a new figure.
save : str or path-like, optional
    Save the figure there (PNG, SVG or PDF by suffix).

Returns
-------
matplotlib.figure.Figure"""

_F = TypeVar("_F", bound=Callable[..., Any])


def axes_docstring(fn: _F) -> _F:
    """Put :data:`AXES_DOC` in place of the line ``%(axes)s`` in the docstring of the plot
    ``fn``, indented as that line (whether or not the interpreter dedents docstrings)."""
    doc = fn.__doc__ or ""
    match = re.search(r"^([ \t]*)%\(axes\)s$", doc, flags=re.M)
    if match is None:
        raise ValueError(f"{fn.__name__}: no %(axes)s line in the docstring")
    indent = match.group(1)
    text = "\n".join(indent + line if line else line for line in AXES_DOC.splitlines())
    fn.__doc__ = doc[:match.start()] + text + doc[match.end():]
    return fn


def new_figure(ax: Axes | None, width_in: float, height_in: float) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: ``ax`` and its figure, or a new Agg figure of the given size.

    New figures are not registered with pyplot, so plotting many of them in a server or a loop
    leaks nothing; ``fig.savefig`` works as usual and Jupyter displays them.
    """
    if ax is not None:
        return root_figure(ax), ax
    fig = Figure(figsize=(width_in, height_in), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def root_figure(ax: Axes) -> Figure:
    """The top-level Figure holding ``ax`` (also when ``ax`` lives in a SubFigure)."""
    fig: Any = ax.figure
    while not isinstance(fig, Figure):   # a SubFigure's .figure is its root Figure
        fig = fig.figure
    return fig


def style_axes(ax: Axes, *, left: bool = True) -> None:
    """Journal look: no top/right frame, outward ticks, body font size."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.spines["left"].set_visible(left)
    ax.tick_params(labelsize=SMALL_FONT_SIZE + 0.5, direction="out", length=3, width=0.8,
                   color=INK, labelcolor=INK)
    for side in ("bottom", "left"):
        ax.spines[side].set_position(("outward", 4))   # keeps corner tick labels apart
        ax.spines[side].set_linewidth(0.8)
        ax.spines[side].set_color(INK)
    ax.xaxis.label.set_size(FONT_SIZE)
    ax.yaxis.label.set_size(FONT_SIZE)


def finish(fig: Figure, save: str | os.PathLike[str] | None) -> Figure:
    """Save ``fig`` when a path is given (format from the suffix: .png, .svg, .pdf) and return
    it."""
    if save is not None:
        fig.savefig(save, dpi=200, bbox_inches="tight")
    return fig


def text_width_in(texts: Sequence[str], size: float = FONT_SIZE, weight: str = "normal",
                  style: str = "normal") -> float:
    """Width in inches of the widest of ``texts`` when rendered (0 for none)."""
    prop = FontProperties(size=size, weight=weight, style=style)
    widest = 0.0
    for s in texts:
        if s:
            w, _, _ = _MEASURE.get_text_width_height_descent(s, prop, ismath=False)
            widest = max(widest, w / 72.0)
    return widest


def bboxes_overlap(boxes: Sequence[Bbox], pad: float = 0.0) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of boxes that overlap by more than ``pad`` display units."""
    pairs = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            if (min(a.x1, b.x1) - max(a.x0, b.x0) > pad
                    and min(a.y1, b.y1) - max(a.y0, b.y0) > pad):
                pairs.append((i, j))
    return pairs


# --- labels and numbers --------------------------------------------------------------------

_TAIL = re.compile(r"(\s*[,(]?\s*\d{4}[a-z]?\)?)$")


def study_labels(res: MetaAnalysisResult, labels: Sequence[Any] | None = None) -> list[str]:
    """Display labels: ``labels``, else the result's labels, else ``"Study 1"`` ...
    ``"Study k"``."""
    chosen = labels if labels is not None else res.labels
    if chosen is None:
        return [f"Study {i + 1}" for i in range(res.k)]
    out = [str(lab) for lab in chosen]
    if len(out) != res.k:
        raise InputError(f"field 'labels': {len(out)} labels for {res.k} studies")
    return out


def truncate_label(label: str, max_chars: int) -> str:
    """Shorten ``label`` to at most ``max_chars`` characters with an ellipsis.

    A trailing year (``"Smith et al. (1998)"``, ``"Smith 1998b"``) is kept, since it is what
    tells two studies by the same author apart; the middle of the name is elided instead.
    """
    label = " ".join(label.split())
    if len(label) <= max_chars:
        return label
    tail = _TAIL.search(label)
    keep = tail.group(1) if tail and len(tail.group(1)) < max_chars - 4 else ""
    head = label[: max_chars - 1 - len(keep)]
    cut = head.rfind(" ")
    if cut >= 0.6 * len(head) and label[len(head)] != " ":   # end on a whole word if cheap
        head = head[:cut]
    return f"{head.rstrip(' ,;(')}\u2026{keep}"


def format_number(x: float, digits: int = 2) -> str:
    """Fixed-point with a typographic minus; ``"NA"`` for NaN, ``"∞"`` for infinities."""
    if x is None or not math.isfinite(x):
        if x is not None and math.isinf(x):
            return ("" if x > 0 else MINUS) + "\u221e"
        return "NA"
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0:   # no "-0.00"
        s = s[1:]
    return s.replace("-", MINUS)


def format_p(p: float) -> str:
    """``"p = 0.032"``, ``"p < 0.001"`` (journal style)."""
    if p is None or not math.isfinite(p):
        return "p = NA"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def level_percent(level: float) -> str:
    """``0.95 -> "95%"``."""
    return f"{100 * level:g}%"


# --- display quantities --------------------------------------------------------------------

def normal_quantile(level: float) -> float:
    """Two-sided standard normal critical value ``z_{1-(1-level)/2}`` (1.96 for 0.95)."""
    return float(norm.ppf(0.5 + level / 2))


def study_intervals(res: MetaAnalysisResult,
                    level: float | None = None) -> tuple[FloatArray, FloatArray]:
    """Per-study Wald intervals ``yi ± z·sqrt(vi)`` at ``level`` (default: the fit's level).

    The same interval metafor's ``forest`` and :meth:`EffectSizes.summary` show.
    """
    z = normal_quantile(res.level if level is None else level)
    se = np.sqrt(np.asarray(res.vi, dtype=float))
    yi = np.asarray(res.yi, dtype=float)
    return yi - z * se, yi + z * se


def require_study_data(res: MetaAnalysisResult, what: str) -> None:
    """Raise :class:`InputError` unless ``res`` is an intercept-only fit that kept its data."""
    if res.yi is None or res.vi is None:
        raise InputError(f"{what}: the result holds no study data (yi, vi); refit with "
                         "metaverdict.meta_analysis")
    if res.p != 1:
        raise InputError(f"{what}: needs an intercept-only model (no moderators); this fit has "
                         f"{res.p} coefficients. Fit meta_analysis(yi, vi) without mods= "
                         "to plot it")


def apply_transform(transform: Transform | None, values: Any) -> FloatArray:
    """``transform(values)`` as a float array (identity when ``transform`` is None)."""
    arr = np.asarray(values, dtype=float)
    return arr if transform is None else np.asarray(transform(arr), dtype=float)


def is_log_transform(transform: Transform | None) -> bool:
    """True for ``np.exp`` / ``math.exp``: ratio measures drawn on a log axis."""
    return transform is np.exp or transform is math.exp


def set_effect_axis(ax: Axes, lo: float, hi: float, *, log: bool, axis: str = "x") -> None:
    """Limits and ticks for an effect axis: nice 1-2-5 ticks on a log axis (ratios), else linear.

    ``lo`` and ``hi`` are on the displayed scale (e.g. risk ratios for a log axis).
    """
    target = ax.xaxis if axis == "x" else ax.yaxis
    set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
    if log:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        set_lim(lo, hi)
        decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        ticks: list[float] = []
        for mantissas in ((1, 2, 5), (1, 5), (1,)):   # thin out until at most 7 ticks
            ticks = [m * 10.0 ** d for d in decades for m in mantissas if lo <= m * 10.0 ** d <= hi]
            if len(ticks) <= 7:
                break
        target.set_major_locator(FixedLocator(ticks))
        target.set_minor_locator(NullLocator())
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        set_lim(lo, hi)
        target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        target.set_major_formatter(FuncFormatter(lambda v, _: format_number(v, _tick_digits(v))))


def _tick_digits(v: float) -> int:
    for d in range(0, 4):
        if abs(round(v, d) - v) < 1e-9:
            return d
    return 3


def padded_range(values: Any, pad: float = 0.05, *, log: bool = False) -> tuple[float, float]:
    """``(min, max)`` of the finite ``values`` widened by ``pad`` of the span (in log space if
    ``log``)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr) & ((arr > 0) if log else True)]
    if log:
        arr = np.log(arr)
    lo, hi = float(arr.min()), float(arr.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (math.exp(lo), math.exp(hi)) if log else (lo, hi)


_LABEL_OFFSETS = ((5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
                  (-5, -4, "right", "top"), (7, 0, "left", "center"), (-7, 0, "right", "center"),
                  (0, 7, "center", "bottom"), (0, -7, "center", "top"))


def label_points(ax: Axes, x: Any, y: Any, texts: Sequence[str], *,
                 priority: Any = None, max_labels: int = 12, marker_radius_pt: float = 4.0,
                 fontsize: float = SMALL_FONT_SIZE) -> list[int]:
    """Label scatter points without overlaps; return the indices that got a label.

    Points are visited by decreasing ``priority`` (default: as given), at most ``max_labels``
    of them; each label tries eight positions around its point and is kept at the first one
    that overlaps no other label and no marker and stays inside the axes, else it is dropped.
    Call it after the axes' limits are final.
    """
    fig = root_figure(ax)
    renderer = fig.canvas.get_renderer()
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    r = marker_radius_pt * fig.dpi / 72.0
    markers = [Bbox.from_extents(px - r, py - r, px + r, py + r) for px, py in pts]
    frame = ax.get_window_extent(renderer)
    order = np.argsort(-np.asarray(priority, dtype=float), kind="stable") if priority is not None \
        else np.arange(len(xs))
    placed: list[Bbox] = []
    labelled: list[int] = []
    for i in order[:max_labels]:
        for dx, dy, ha, va in _LABEL_OFFSETS:
            t = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                            ha=ha, va=va, fontsize=fontsize, color=INK, gid="point-label")
            bb = t.get_window_extent(renderer)
            others = placed + [m for j, m in enumerate(markers) if j != i]
            inside = (bb.x0 >= frame.x0 and bb.x1 <= frame.x1 and bb.y0 >= frame.y0
                      and bb.y1 <= frame.y1)
            if inside and not any(bboxes_overlap([bb, o]) for o in others):
                placed.append(bb)
                labelled.append(int(i))
                break
            t.remove()
    return labelled
