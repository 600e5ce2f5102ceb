"""Forest plot: one row per study (square sized by weight, confidence interval), the pooled
diamond, the prediction interval and a heterogeneity line, with aligned text columns."""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, Polygon, Rectangle
from matplotlib.transforms import ScaledTranslation

import metaverdict.report.plots._style as st
from metaverdict.errors import InputError
from metaverdict.models import meta_analysis
from metaverdict.models.results import MetaAnalysisResult

_GAP_IN = 0.15          # between the plot area and a text column
_COL_GAP_IN = 0.25      # between two text columns
_INDENT_IN = 0.14       # studies inside a subgroup block
_PAD_IN = 0.12          # figure edge
_BOTTOM_IN = 0.55       # x tick labels and x label
_TITLE_IN = 0.35


@dataclass(frozen=True)
class _Row:
    """One line of the plot; ``kind`` decides how it is drawn."""

    kind: str                     # header, group, study, pooled, subpooled, pi, note, blank
    label: str = ""
    index: int | None = None      # study position in the result
    estimate: float = math.nan    # analysis scale
    lower: float = math.nan
    upper: float = math.nan
    weight: float = math.nan      # percent
    indent: bool = False


def forest_plot(res: MetaAnalysisResult, *, labels: Sequence[Any] | None = None,
                transform: st.Transform | None = None, xlabel: str | None = None,
                subgroups: Mapping[Any, Any] | Sequence[Any] | np.ndarray | pd.Series | None = None,
                show_weights: bool = True, show_pi: bool = True, refline: float | None = 0.0,
                sort: str | Sequence[int] | None = None, title: str | None = None,
                digits: int = 2, xlim: tuple[float, float] | None = None,
                max_label_chars: int = 40, plot_width: float = 3.0, ax: Axes | None = None,
                save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a forest plot of a fitted intercept-only meta-analysis.

    Each study is a row: a square with area proportional to its weight in the model and a
    line for its Wald confidence interval ``yi ± z·sqrt(vi)`` at the fit's level. Right-hand
    columns give "estimate [CI]" and the weight in percent. Under the studies the pooled
    estimate is a diamond spanning its confidence interval, the prediction interval a bar,
    followed by the heterogeneity statistics (tau², I², Q and its p-value) and the test of the
    overall effect. The figure's height grows with the number of rows (about 0.21 in each) so
    labels never overlap, whatever the number of studies.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit from :func:`metaverdict.meta_analysis`.
    labels : sequence of str, optional
        Study labels (default: ``res.labels``, else "Study 1" ...). Labels longer than
        ``max_label_chars`` are shortened with an ellipsis, keeping a trailing year.
    transform : callable, optional
        Applied to every effect, bound and reference line before drawing, e.g. ``np.exp`` for
        log ratio measures; ``np.exp`` also selects a logarithmic x axis.
    xlabel : str, optional
        Axis label, e.g. "Risk ratio"; it also heads the "estimate [CI]" column.
    subgroups : mapping or array-like, optional
        A group per study: a mapping label -> group (over the displayed labels) or a sequence
        of length k. Studies are drawn in blocks, each with its own pooled diamond and
        heterogeneity line from :func:`metaverdict.meta_analysis` with the same method, test
        and level as ``res``; the overall diamond of ``res`` closes the plot.
    show_weights : bool
        Show the weight column (percent of the total weight in ``res``).
    show_pi : bool
        Show the prediction interval row (random-effects models with k >= 3).
    refline : float or None
        Position of the line of no effect on the scale of ``yi`` (0; drawn at 1 after
        ``np.exp``); None for none.
    sort : {"estimate", "precision", "weight"} or sequence of int, optional
        Row order: by effect (ascending), by standard error (most precise first), by weight
        (largest first), or an explicit permutation of ``range(k)``. Within subgroup blocks
        the order applies inside each block.
    title : str, optional
        Figure title.
    digits : int
        Decimal places in the text columns.
    xlim : (float, float), optional
        x-axis limits on the displayed scale; intervals beyond them end in an arrow.
    max_label_chars : int
        Longest study label shown in full.
    plot_width : float
        Width of the graphical column in inches (new figures only).
    ax : Axes, optional
        Draw into this axes instead of a new figure; the text columns are placed outside it,
        so leave room on both sides (about the width of the labels and of the columns).
    save : str or path-like, optional
        Save the figure there (PNG, SVG or PDF by suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        A meta-regression result, bad labels, subgroups or sort order.

    Examples
    --------
    >>> import numpy as np, metaverdict as mv
    >>> from metaverdict.report.plots import forest_plot
    >>> res = mv.meta_analysis([-0.9, -1.6, -1.3, -0.2], [0.33, 0.19, 0.42, 0.07])
    >>> fig = forest_plot(res, transform=np.exp, xlabel="Risk ratio")
    """
    st.require_study_data(res, "forest_plot")
    names = [st.truncate_label(s, max_label_chars) for s in st.study_labels(res, labels)]
    order = _order(res, sort)
    blocks = _blocks(res, names, subgroups, order)
    rows = _rows(res, names, blocks, show_pi=show_pi)
    pct = st.level_percent(res.level)
    header_est = f"{xlabel or 'Estimate'} [{pct} CI]"
    cells = [_cells(r, transform, digits) for r in rows]

    # --- column geometry in inches (measured with the same font the text uses) -----------
    label_w = max(st.text_width_in([r.label for r in rows
                                    if r.kind in ("study",) and not r.indent]),
                  st.text_width_in([r.label for r in rows if r.kind == "study" and r.indent])
                  + _INDENT_IN,
                  st.text_width_in([r.label for r in rows if r.kind in ("header", "group", "pooled",
                                                                            "subpooled")],
                                   weight="bold"),
                  st.text_width_in([r.label for r in rows if r.kind == "pi"]))
    note_w = max(st.text_width_in([r.label for r in rows if r.kind == "note"], st.SMALL_FONT_SIZE),
                 0.0) + _INDENT_IN
    space = st.text_width_in(["0"], weight="bold")
    w_est = st.text_width_in([c[0] for c in cells], weight="bold")
    w_lo = st.text_width_in([c[1] for c in cells], weight="bold")
    w_hi = st.text_width_in([c[2] for c in cells], weight="bold")
    x_est = _GAP_IN + w_est
    x_lo = x_est + space + w_lo
    x_hi = x_lo + space + w_hi
    shortfall = st.text_width_in([header_est], weight="bold") - (x_hi - _GAP_IN)
    if shortfall > 0:
        x_est, x_lo, x_hi = x_est + shortfall, x_lo + shortfall, x_hi + shortfall
    x_weight = x_hi
    if show_weights:
        x_weight = x_hi + _COL_GAP_IN + max(st.text_width_in([c[3] for c in cells], weight="bold"),
                                            st.text_width_in(["Weight"], weight="bold"))
    n = len(rows)
    width = _PAD_IN + label_w + _GAP_IN + plot_width + x_weight + _PAD_IN
    width = max(width, 2 * _PAD_IN + note_w)
    height = n * st.ROW_HEIGHT_IN + _BOTTOM_IN + _PAD_IN + (_TITLE_IN if title else 0.0)
    created = ax is None
    fig, ax = st.new_figure(ax, width, height)
    if created:
        ax.set_position(((_PAD_IN + label_w + _GAP_IN) / width, _BOTTOM_IN / height,
                         plot_width / width, n * st.ROW_HEIGHT_IN / height))

    _draw(ax, fig, res, rows, cells, transform=transform, refline=refline, xlim=xlim,
          show_weights=show_weights, label_x=-(_GAP_IN + label_w),
          columns=(x_est, x_lo, x_hi, x_weight), header_est=header_est)
    st.style_axes(ax, left=False)
    ax.set_xlabel(xlabel or ("Effect size" if transform is None else "Effect size (transformed)"))
    if title:
        if created:
            fig.suptitle(title, x=_PAD_IN / width, ha="left", y=1 - _PAD_IN / height,
                         va="top", fontsize=st.FONT_SIZE + 2, fontweight="bold")
        else:
            ax.set_title(title, fontsize=st.FONT_SIZE + 2, fontweight="bold")
    return st.finish(fig, save)


# --- rows -----------------------------------------------------------------------------------

def _order(res: MetaAnalysisResult, sort: str | Sequence[int] | None) -> list[int]:
    k = res.k
    if sort is None:
        return list(range(k))
    if isinstance(sort, str):
        keys = {"estimate": np.asarray(res.yi), "precision": np.asarray(res.vi),
                "weight": -np.asarray(res.weights)}
        if sort not in keys:
            raise InputError(f"field 'sort': expected one of {sorted(keys)} or a permutation of "
                             f"range({k}), got {sort!r}")
        return [int(i) for i in np.argsort(keys[sort], kind="stable")]
    perm = [int(i) for i in sort]
    if sorted(perm) != list(range(k)):
        raise InputError(f"field 'sort': expected a permutation of range({k}), got {list(sort)!r}")
    return perm


def _blocks(res: MetaAnalysisResult, names: list[str], subgroups: Any,
            order: list[int]) -> list[tuple[str | None, list[int], MetaAnalysisResult | None]]:
    if subgroups is None:
        return [(None, order, None)]
    if isinstance(subgroups, Mapping):
        missing = [nm for nm in names if nm not in subgroups]
        if missing:
            raise InputError(f"field 'subgroups': no group for study {missing[0]!r}; the mapping "
                             "must cover every displayed label")
        groups = [subgroups[nm] for nm in names]
    else:
        groups = list(subgroups)
        if len(groups) != res.k:
            raise InputError(f"field 'subgroups': {len(groups)} groups for {res.k} studies")
    if isinstance(subgroups, pd.Series) and isinstance(subgroups.dtype, pd.CategoricalDtype):
        levels = [g for g in subgroups.cat.categories if g in set(groups)]
    else:
        levels = list(dict.fromkeys(groups))
    out = []
    for g in levels:
        idx = [i for i in order if groups[i] == g]
        with warnings.catch_warnings():      # a one-study block has no heterogeneity to fit
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = meta_analysis(np.asarray(res.yi)[idx], np.asarray(res.vi)[idx],
                                method=res.method, test=res.test, level=res.level)
        out.append((str(g), idx, fit))
    return out


def _model_name(res: MetaAnalysisResult) -> str:
    return "Common-effect model" if res.is_common_effect else f"Random-effects model ({res.method})"


def _heterogeneity(res: MetaAnalysisResult, *, short: bool = False) -> str:
    tau = "" if res.is_common_effect else f"\u03c4\u00b2 = {st.format_number(res.tau2, 3)}; "
    if short:
        return (f"Heterogeneity: {tau}I\u00b2 = {res.i2:.0f}%; "
                f"{st.format_p(res.q_pvalue)}")
    return (f"Heterogeneity: {tau}I\u00b2 = {res.i2:.1f}%; "
            f"Q({res.q_df}) = {st.format_number(res.q, 2)}, {st.format_p(res.q_pvalue)}")


def _overall_test(res: MetaAnalysisResult) -> str:
    stat = f"t({res.df:g})" if res.test == "knha" else "z"
    return f"Test for overall effect: {stat} = {st.format_number(res.statistic, 2)}, " \
           f"{st.format_p(res.pvalue)}"


def _rows(res: MetaAnalysisResult, names: list[str], blocks: list[Any], *,
          show_pi: bool) -> list[_Row]:
    lo, hi = st.study_intervals(res)
    yi = np.asarray(res.yi, dtype=float)
    w = np.asarray(res.weights, dtype=float)
    rows = [_Row("header", "Study")]
    for group, idx, fit in blocks:
        grouped = group is not None
        if grouped:
            rows.append(_Row("group", group))
        rows += [_Row("study", names[i], i, yi[i], lo[i], hi[i], w[i], indent=grouped)
                 for i in idx]
        if grouped and fit is not None:
            rows.append(_Row("subpooled", "Subtotal" if fit.k > 1 else "Subtotal (1 study)",
                             None, fit.estimate, fit.ci_lower, fit.ci_upper,
                             float(w[idx].sum()), indent=True))
            if fit.k > 1:
                rows.append(_Row("note", _heterogeneity(fit, short=True), indent=True))
            rows.append(_Row("blank"))
    rows.append(_Row("pooled", _model_name(res), None, res.estimate, res.ci_lower, res.ci_upper,
                     float(w.sum())))
    if show_pi and not res.is_common_effect and math.isfinite(res.pi_lower) and res.k >= 3:
        rows.append(_Row("pi", "Prediction interval", None, math.nan, res.pi_lower, res.pi_upper))
    rows.append(_Row("note", _heterogeneity(res)))
    rows.append(_Row("note", _overall_test(res)))
    return rows


def _cells(row: _Row, transform: st.Transform | None, digits: int) -> tuple[str, str, str, str]:
    if row.kind == "header":
        return ("", "", "", "Weight")
    if row.kind not in ("study", "pooled", "subpooled", "pi"):
        return ("", "", "", "")
    est, lo, hi = st.apply_transform(transform, [row.estimate, row.lower, row.upper])
    lo, hi = min(lo, hi), max(lo, hi)          # a decreasing transform swaps the bounds
    f = st.format_number
    weight = "" if math.isnan(row.weight) else f"{row.weight:.1f}%"
    return ("" if row.kind == "pi" else f(float(est), digits), f"[{f(float(lo), digits)},",
            f"{f(float(hi), digits)}]", weight)


# --- drawing --------------------------------------------------------------------------------

def _draw(ax: Axes, fig: Figure, res: MetaAnalysisResult, rows: list[_Row],
          cells: list[tuple[str, str, str, str]], *, transform: st.Transform | None,
          refline: float | None, xlim: tuple[float, float] | None, show_weights: bool,
          label_x: float, columns: tuple[float, float, float, float], header_est: str) -> None:
    log = st.is_log_transform(transform)
    n = len(rows)
    ys = -np.arange(n, dtype=float)
    ax.set_ylim(-(n - 1) - 0.5, 0.5)
    ax.set_yticks([])

    def tx(v: Any) -> np.ndarray:
        return st.apply_transform(transform, v)

    shown = [r for r in rows if r.kind in ("study", "pooled", "subpooled", "pi")]
    bounds = np.concatenate([tx([r.lower for r in shown]), tx([r.upper for r in shown])])
    if refline is not None:
        bounds = np.append(bounds, tx(refline))
    lo_x, hi_x = xlim if xlim is not None else st.padded_range(bounds, 0.04, log=log)
    st.set_effect_axis(ax, lo_x, hi_x, log=log)

    # marker size: the largest square fills ~70% of a row
    pos = ax.get_position()
    row_pt = pos.height * fig.get_size_inches()[1] * 72.0 / (n if n else 1)
    studies = [(y, r) for y, r in zip(ys, rows) if r.kind == "study"]
    if studies:
        sy = np.array([y for y, _ in studies])
        est = tx([r.estimate for _, r in studies])
        lo, hi = tx([r.lower for _, r in studies]), tx([r.upper for _, r in studies])
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        w = np.array([r.weight for _, r in studies])
        side = 0.72 * row_pt * np.sqrt(w / np.nanmax(w))
        side = np.clip(side, 2.5, None)
        segs = [((max(a, lo_x), y), (min(b, hi_x), y)) for a, b, y in zip(lo, hi, sy)]
        ax.add_collection(LineCollection(segs, colors=st.INK, linewidths=0.9, gid="study-ci",
                                         zorder=2))
        left_cut, right_cut = lo < lo_x, hi > hi_x
        if left_cut.any():
            ax.plot(np.full(left_cut.sum(), lo_x), sy[left_cut], marker="<", ls="none",
                    color=st.INK, ms=4, clip_on=False, gid="ci-arrow")
        if right_cut.any():
            ax.plot(np.full(right_cut.sum(), hi_x), sy[right_cut], marker=">", ls="none",
                    color=st.INK, ms=4, clip_on=False, gid="ci-arrow")
        inside = (est >= lo_x) & (est <= hi_x)
        ax.scatter(est[inside], sy[inside], s=side[inside] ** 2, marker="s", color=st.STUDY_COLOR,
                   linewidths=0, zorder=3, gid="study-markers")

    top = -0.5
    bottom = min((y for y, r in zip(ys, rows) if r.kind in ("pooled", "pi")), default=ys[-1]) - 0.5
    if refline is not None:
        ax.vlines(float(tx(refline)), bottom, top, colors=st.GUIDE_COLOR, linewidths=0.8,
                  zorder=1, gid="refline")
    pooled_y = next(y for y, r in zip(ys, rows) if r.kind == "pooled")
    ax.vlines(float(tx(res.estimate)), pooled_y, top, colors=st.GUIDE_COLOR, linewidths=0.7,
              linestyles=(0, (3, 3)), zorder=1, gid="pooled-line")

    for y, r in zip(ys, rows):
        if r.kind in ("pooled", "subpooled"):
            e, a, b = tx([r.estimate, r.lower, r.upper])
            a, b = min(a, b), max(a, b)
            h = 0.34
            ax.add_patch(Polygon([(a, y), (e, y + h), (b, y), (e, y - h)], closed=True,
                                 facecolor=st.INK if r.kind == "pooled" else st.SUBGROUP_COLOR,
                                 edgecolor="none", zorder=3,
                                 gid=("pooled-diamond" if r.kind == "pooled"
                                      else "subgroup-diamond")))
        elif r.kind == "pi":
            a, b = tx([r.lower, r.upper])
            a, b = max(min(a, b), lo_x), min(max(a, b), hi_x)
            ax.add_patch(Rectangle((a, y - 0.11), b - a, 0.22, facecolor=st.PI_COLOR,
                                   edgecolor="none", zorder=3, gid="prediction-interval"))

    _draw_text(ax, fig, rows, cells, ys, show_weights=show_weights, label_x=label_x,
               columns=columns, header_est=header_est)


def _draw_text(ax: Axes, fig: Figure, rows: list[_Row], cells: list[tuple[str, str, str, str]],
               ys: np.ndarray, *, show_weights: bool, label_x: float,
               columns: tuple[float, float, float, float], header_est: str) -> None:
    left = _offset(ax, fig, label_x)
    left_indent = _offset(ax, fig, label_x + _INDENT_IN)
    x_est, x_lo, x_hi, x_weight = columns
    col = {x: _offset(ax, fig, x) for x in (x_est, x_lo, x_hi, x_weight)}
    for y, r, c in zip(ys, rows, cells):
        bold = r.kind in ("header", "group", "pooled")
        kw = dict(va="center", fontsize=st.FONT_SIZE, color=st.INK, clip_on=False, gid="row-text",
                  fontweight="bold" if bold else "normal")
        if r.kind == "note":
            kw.update(fontsize=st.SMALL_FONT_SIZE)
        if r.kind == "blank":
            continue
        if r.label:
            ax.text(0.0, y, r.label, transform=left_indent if r.indent else left, ha="left", **kw)
        if r.kind == "header":
            ax.text(1.0, y, header_est, transform=col[x_hi], ha="right", **kw)
            if show_weights:
                ax.text(1.0, y, "Weight", transform=col[x_weight], ha="right", **kw)
            continue
        for x, s in zip((x_est, x_lo, x_hi), c[:3]):
            if s:
                ax.text(1.0, y, s, transform=col[x], ha="right", **kw)
        if show_weights and c[3]:
            ax.text(1.0, y, c[3], transform=col[x_weight], ha="right", **kw)
    # a rule under the header row, across every column
    rule_y = ys[0] - 0.5
    right = _offset(ax, fig, x_weight if show_weights else x_hi)
    ax.add_artist(ConnectionPatch((0.0, rule_y), (1.0, rule_y), coordsA=left, coordsB=right,
                                  arrowstyle="-", color=st.INK, lw=0.6, clip_on=False,
                                  gid="header-rule"))


def _offset(ax: Axes, fig: Figure, dx_in: float) -> Any:
    """x in axes fraction shifted ``dx_in`` inches (right if positive), y in data units."""
    return ax.get_yaxis_transform() + ScaledTranslation(dx_in, 0, fig.dpi_scale_trans)
