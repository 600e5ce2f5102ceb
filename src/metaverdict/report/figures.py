"""The report's figures as inline SVG: stored estimates per condition, forest plots for
bodies pooled here from primary trials, and time courses of a trial measured on several days.

Nothing here computes a statistic: every number drawn is one a verdict, a store row or a
fitted :class:`~metaverdict.MetaAnalysisResult` already holds. The only display arithmetic is
re-orienting an effect so that one side of a plot always means "favours the treatment"
(:meth:`metaverdict.grade.Body.benefit`) and signing a stored |SMD| bound by the direction
the source reports.
"""
from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure as MplFigure

from metaverdict.grade.body import is_ratio
from metaverdict.grade.mcid import MCIDTable
from metaverdict.report.document import Figure, TimeCourseSection, finding
from metaverdict.report.plots import _style as st
from metaverdict.report.plots import forest_plot, time_course_plot
from metaverdict.verdict import Verdict, time_course

#: Dot colour per verdict category (the HTML badges' colours).
CATEGORY_COLOR: dict[str, str] = {
    "important benefit": "#1b7a3e", "benefit below the MCID": "#6aa84f",
    "no important difference": "#5b6b7d", "harm below the MCID": "#e69138",
    "important harm": "#c0392b", "inconclusive": "#9a8c5a",
    "no trial evidence (opinion only)": "#7b4f9d"}


def figure_svg(fig: MplFigure, salt: str) -> str:
    """The figure as inline SVG markup (no XML prolog), scaled to its container's width.

    ``svg.hashsalt`` makes the ids matplotlib writes (clip paths, glyphs) distinct per figure,
    so several figures can share one HTML page, and the output deterministic.
    """
    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    head_end = svg.index(">")
    head = svg[:head_end]
    width = re.search(r'\swidth="([\d.]+)pt"', head)
    head = re.sub(r'\s(width|height)="[\d.]+pt"', "", head)
    style = f"width:100%;max-width:{float(width.group(1)):.0f}pt;height:auto" if width else \
        "width:100%;height:auto"
    head += f' class="figure-svg" style="{style}" role="img" aria-label="{salt}"'
    return head + svg[head_end:]


def _panel_key(v: Verdict) -> str:
    """The panel a verdict is drawn in: one per measure (and scale) so that a panel's rows
    share an axis."""
    b = v.body
    assert b is not None and b.measure is not None
    measure = b.measure
    if is_ratio(measure):
        return f"ratio {measure.split(' ')[0].upper()}, inverted where lower is better"
    if measure.upper().startswith("SMD"):
        return "SMD"
    scale = "" if b.outcome_scale in ("unspecified", "") else f", {b.outcome_scale} scale"
    inst = b.outcome_instrument if b.outcome_instrument not in ("unspecified", "") else ""
    return f"{measure}{scale}" + (f" ({inst})" if inst and not scale else "")


def _plottable(v: Verdict) -> bool:
    b = v.body
    if b is None or b.estimate is None or b.measure is None:
        return False
    est, _, _ = b.benefit()
    return est is not None


def _row_label(v: Verdict) -> str:
    return st.truncate_label(f"{v.claim.outcome} vs {v.claim.comparator} \u00b7 {v.timepoint} "
                             f"[{', '.join(v.sources)}]", 90)


def _estimate_text(v: Verdict) -> str:
    """The estimate as the source reports it (not re-oriented), with its CI where stored."""
    b = v.body
    assert b is not None and b.estimate is not None
    if not b.has_ci:
        return st.format_number(b.estimate) + " (no CI)"
    lo, hi = st.format_number(b.ci_lower), st.format_number(b.ci_upper)  # type: ignore[arg-type]
    return f"{st.format_number(b.estimate)} [{lo}, {hi}]"


def _draw_panel(ax: Axes, verdicts: Sequence[Verdict], *, ratio: bool) -> float | None:
    """Draw one panel's rows as benefit (right favours the treatment) with the estimates as
    reported in a column on the right; returns the MCID threshold all rows share, if any."""
    conv = math.exp if ratio else float
    null = 1.0 if ratio else 0.0
    ys = np.arange(len(verdicts))[::-1]
    xs, thresholds = [null], set()
    for y, v in zip(ys, verdicts):
        b = v.body
        assert b is not None
        est, lo, hi = b.benefit()
        color = CATEGORY_COLOR.get(v.category, st.INK)
        if lo is not None and hi is not None:
            ax.plot([conv(lo), conv(hi)], [y, y], color=color, lw=1.6, solid_capstyle="butt")
            xs += [conv(lo), conv(hi)]
        ax.plot([conv(est)], [y], marker="s" if b.basis == "pooled primary trials" else "o",
                ms=6, color=color, mec="white", mew=0.6, zorder=3)
        xs.append(conv(est))
        thresholds.add(None if v.mcid is None else round(v.mcid.threshold, 9))
        ax.text(1.02, y, _estimate_text(v), transform=ax.get_yaxis_transform(),
                fontsize=st.SMALL_FONT_SIZE + 0.5, va="center", ha="left", color=st.INK)
    ax.axvline(null, color=st.INK, lw=0.8, zorder=1)
    ax.text(1.02, 1.0, "as reported [95% CI]", transform=ax.transAxes, ha="left",
            va="bottom", fontsize=st.SMALL_FONT_SIZE, color=st.GUIDE_COLOR)
    mcid = next(iter(thresholds)) if len(thresholds) == 1 else None
    for m in [] if mcid is None else [conv(mcid), conv(-mcid)]:
        ax.axvline(m, color=st.GUIDE_COLOR, lw=0.9, ls=(0, (4, 3)), zorder=1)
        xs.append(m)
    lo_all, hi_all = st.padded_range([min(xs), max(xs)], 0.08, log=ratio)
    st.set_effect_axis(ax, lo_all, hi_all, log=ratio)
    ax.set_ylim(-0.7, len(verdicts) - 0.3)
    ax.set_yticks(ys)
    ax.set_yticklabels([_row_label(v) for v in verdicts])
    st.style_axes(ax)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("\u2190 favours comparator      favours treatment \u2192",
                  fontsize=st.SMALL_FONT_SIZE, color=st.GUIDE_COLOR, labelpad=2)
    return mcid


def summary_estimates_figure(verdicts: Sequence[Verdict], *, treatment: str, condition: str,
                             fig_id: str) -> tuple[Figure | None, int]:
    """Draw the stored estimates of one condition, one panel per measure, as benefit.

    Every verdict with an estimate is a row: a dot coloured by its verdict and its 95% CI where
    stored, oriented so that right of zero favours the treatment (lower-is-better outcomes are
    mirrored; ratios are shown as the ratio that favours the treatment above 1, on a log axis).
    Dashed lines mark ±MCID where every row of a panel shares one. Nothing is pooled: this
    shows the reviews' and trials' own numbers side by side.

    Returns
    -------
    (Figure or None, int)
        The figure (None when nothing can be plotted) and the number of verdicts left out
        because they have no estimate (P-values, bounds or directions only).
    """
    rows = [v for v in verdicts if v.body is not None]
    plot = [v for v in rows if _plottable(v)]
    skipped = len(rows) - len(plot)
    if not plot:
        return None, skipped
    panels: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
    for v in plot:        # one panel per measure and MCID, so each panel has one ±MCID pair
        panels[(_panel_key(v), "" if v.mcid is None else v.mcid.describe())].append(v)
    size = st.SMALL_FONT_SIZE + 0.5
    label_w = st.text_width_in([_row_label(v) for v in plot], size=size)
    est_w = st.text_width_in([_estimate_text(v) for v in plot], size=size)
    plot_w, title_h, axis_h, row_h = 3.4, 0.32, 0.5, 0.22
    width = label_w + plot_w + est_w + 0.75
    boxes = [row_h * (len(vs) + 0.6) for vs in panels.values()]
    total = sum(title_h + box + axis_h for box in boxes) + 0.1
    fig = MplFigure(figsize=(width, total), dpi=100)
    top = total - 0.05
    for ((key, mcid_text), vs), box in zip(panels.items(), boxes):
        ax = fig.add_axes(((label_w + 0.2) / width, (top - title_h - box) / total,
                           plot_w / width, box / total))
        top -= title_h + box + axis_h
        mcid = _draw_panel(ax, vs, ratio=key.startswith("ratio "))
        dashed = "" if mcid is None else f" \u00b7 dashed: \u00b1{mcid_text.split(';')[0]}"
        # the title starts at the figure's left edge (above the labels), so it never runs
        # into the estimates column on the right
        fig.text(0.05 / width, ax.get_position().y1 + 0.06 / total, key + dashed, ha="left",
                 va="bottom", fontsize=size, fontweight="bold", color=st.INK)
    caption = (f"Stored estimates for {treatment} in {condition}, as reported (reviews' pooled "
               "results and single trials; nothing is re-pooled here). Right of the line of no "
               "effect favours the treatment. Colours follow the verdict; squares are bodies "
               "pooled here from primary trials.")
    if skipped:
        caption += (f" {skipped} result(s) without an estimate (P-values, bounds or directions "
                    "only) appear in the table but not in the plot.")
    return Figure(fig_id, f"Summary estimates: {condition}", caption,
                  figure_svg(fig, fig_id)), skipped


def forest_figure(v: Verdict, fig_id: str) -> Figure | None:
    """A forest plot for a body pooled here from primary trials (None for other bodies)."""
    body = v.body
    if body is None or body.meta is None:
        return None
    fig = forest_plot(body.meta, transform=np.exp if is_ratio(body.measure) else None,
                      xlabel=f"{body.measure}, {v.claim.treatment} minus {v.claim.comparator}",
                      refline=0.0, title=f"{v.claim.outcome}, {v.timepoint}")
    caption = (f"{v.claim.treatment} vs {v.claim.comparator}, {v.claim.condition}, "
               f"{v.claim.outcome} ({v.timepoint}): {body.label}. {'; '.join(body.notes)}.")
    return Figure(fig_id, f"Forest plot: {v.claim.outcome}, {v.timepoint}", caption,
                  figure_svg(fig, fig_id))


def _signed_bound(v: Verdict) -> float | None:
    """The stored |SMD| bound signed as treatment minus comparator (positive = higher scores)."""
    b = v.body
    if b is None or b.smd_bound is None or b.lower_is_better is None:
        return None
    if b.smd_bound_relation and b.smd_bound_relation.startswith("<"):
        return float(b.smd_bound)
    harm_sign = 1.0 if b.lower_is_better else -1.0
    if v.direction == "harm":
        return harm_sign * b.smd_bound
    if v.direction == "benefit":
        return -harm_sign * b.smd_bound
    return None


def _trial_days(tc: Sequence[Verdict]) -> list[Verdict]:
    """The single-day verdicts of the trial measured on the most days (at least two)."""
    by_trial: dict[tuple[str, ...], list[Verdict]] = defaultdict(list)
    for v in tc:
        if v.body is not None and v.body.basis == "single trial" \
                and v.body.timepoint_days is not None:
            by_trial[v.sources].append(v)
    trials = [vs for vs in by_trial.values()
              if len({v.body.timepoint_days for v in vs}) >= 2]          # type: ignore[union-attr]
    return max(trials, key=len) if trials else []


def _day_points(day_verdicts: Sequence[Verdict]) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Rows for :func:`~metaverdict.report.plots.time_course_plot`: an estimate with its CI,
    else the signed |SMD| bound a P-value implies; plus notes on days that cannot be drawn,
    and whether any row is a bound (so the axis is in SMD)."""
    points, notes, smd = [], [], False
    for v in day_verdicts:
        b = v.body
        assert b is not None
        if b.estimate is not None and b.has_ci:
            points.append({"day": b.timepoint_days, "estimate": b.estimate,
                           "ci_lower": b.ci_lower, "ci_upper": b.ci_upper})
        elif (bound := _signed_bound(v)) is not None:
            smd = True
            label = "" if b.p_number is None else \
                f"p {b.p_relation} {b.p_number:g}".replace("<=", "\u2264").replace(">=", "\u2265")
            points.append({"day": b.timepoint_days, "bound": bound,
                           "bound_relation": b.smd_bound_relation or ">=", "label": label})
        else:
            notes.append(f"day {b.timepoint_days:g}: {v.effect} (not drawn: no estimate or bound)")
    return points, notes, smd


def time_course_section(store: Any, treatment: str, condition: str, outcome: str, *,
                        mcid_table: MCIDTable, fig_id: str) -> TimeCourseSection | None:
    """A time course for ``treatment``/``condition``/``outcome`` when one trial reports a
    result for at least two single days; ``None`` otherwise.

    Days with an estimate and CI are drawn as a band; days with only a P-value bound as an
    arrow from the |SMD| bound the P-value implies; days inside the trial's follow-up after the
    last reported day as "not reported".
    """
    tc = time_course(store, treatment, condition, outcome, mcid_table=mcid_table)
    day_verdicts = _trial_days(tc)
    points, notes, smd = _day_points(day_verdicts)
    if not points:
        return None
    mcids = [v.mcid.value for v in day_verdicts if v.mcid is not None]
    mcid = mcids[-1] if mcids else None
    last = max(v.body.timepoint_days for v in day_verdicts)        # type: ignore[union-attr]
    follow = tc.follow_up_days
    not_reported = tuple(float(d) for d in range(int(math.floor(last)) + 1,
                                                int(math.floor(follow)) + 1)) if follow else ()
    notes += [f"{v.label}: {v.effect}, covers {v.timepoint!r}, so it cannot be placed on a "
              "single day" for v in tc if v.body is not None and v.body.timepoint_days is None]
    first = day_verdicts[0]
    assert first.body is not None
    comparator = first.claim.comparator
    less = first.body.lower_is_better is not False
    ylabel = f"{'SMD' if smd else first.body.measure}, {treatment} \u2212 {comparator}"
    fig = time_course_plot(pd.DataFrame(points), mcid=mcid, ylabel=ylabel,
                           not_reported_days=not_reported, lower_is_better=less,
                           harm_label=f"more {outcome} with {treatment}" if less else
                           f"favours {comparator}",
                           benefit_label=f"less {outcome} with {treatment}" if less else
                           f"favours {treatment}")
    srcs = ", ".join(sorted({s for v in day_verdicts for s in v.sources}))
    caption = (f"{treatment} vs {comparator} in {condition}: {outcome} "
               f"({first.body.outcome_instrument}) by day after treatment [{srcs}]. ")
    if smd:
        caption += ("Where the source reports only a P-value bound (no means or SDs), the arrow "
                    "starts at the smallest |SMD| that P-value implies for the group sizes and "
                    "points away from zero: the true difference is at least that large. ")
    if mcid is not None:
        caption += f"Dashed lines: \u00b1MCID ({mcid:g}{' SD' if smd else ''}). "
    if not_reported:
        caption += (f"Days {not_reported[0]:g}\u2013{not_reported[-1]:g}: not reported (inside "
                    "the follow-up, but the source gives no result for them).")
    title = f"Time course: {outcome} in {condition}"
    figure = Figure(fig_id, title, caption.strip(), figure_svg(fig, fig_id))
    return TimeCourseSection(fig_id.removeprefix("fig-"), condition, title, figure,
                             tuple(finding(v) for v in tc), tuple(tc.gaps), tuple(notes))
