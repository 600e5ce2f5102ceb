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

import metaverdict.report.plots._style as st
from metaverdict._results import fmt_p_relation
from metaverdict.grade.body import is_ratio
from metaverdict.grade.levels import Basis, Level
from metaverdict.report.document import (
    CATEGORY_DIRECTION,
    Figure,
    TimeCourseSection,
    finding,
    mark_simulated,
)
from metaverdict.report.plots import forest_plot, time_course_plot
from metaverdict.synthesis.answers import SIMULATED_LABEL, source_name
from metaverdict.synthesis.assess import time_course_from
from metaverdict.synthesis.synthesize import Synthesis
from metaverdict.verdict import Direction, Verdict

#: Colour per direction and certainty (the HTML tones): hue = direction, depth = certainty.
TONE_COLOR: dict[str, dict[str, str]] = {
    "benefit": {"high": "#14532d", "moderate": "#2f7d4a", "low": "#6fae80", "very low": "#a9cdb3"},
    "harm": {"high": "#8f1d1d", "moderate": "#c0392b", "low": "#e07a6f", "very low": "#efb3ab"},
    "none": {"high": "#2c3e50", "moderate": "#4f6478", "low": "#8598aa", "very low": "#b9c5d1"},
    "unknown": {"high": "#8a7a3c", "moderate": "#8a7a3c", "low": "#b5a76e", "very low": "#d3c89c"},
}


def verdict_color(v: Verdict) -> str:
    """The colour of a verdict: its direction's hue at its certainty's depth (very low is
    pale), so a very-low-certainty benefit never looks like a moderate one."""
    d = CATEGORY_DIRECTION.get(v.category, "unknown")
    return TONE_COLOR[d].get(v.level or "very low", TONE_COLOR[d]["very low"])


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


def _row_label(v: Verdict, simulated: frozenset[str] = frozenset()) -> str:
    b = v.body
    inst = "" if b is None or b.outcome_instrument in ("", "unspecified") else \
        f" ({b.outcome_instrument})"
    vs = (b.comparator_name if b is not None and v.claim.comparator == "active"
          and b.comparator_name else v.claim.comparator)
    names = ", ".join(source_name(k, k in simulated) for k in v.sources)
    return st.truncate_label(f"{v.claim.outcome}{inst} vs {vs} \u00b7 {v.timepoint} [{names}]",
                             90 + (len(SIMULATED_LABEL) + 3) * len(simulated & set(v.sources)))


def _estimate_text(v: Verdict) -> str:
    """The estimate as the source reports it (not re-oriented), with its CI where stored."""
    b = v.body
    assert b is not None and b.estimate is not None
    if not b.has_ci:
        return st.format_number(b.estimate) + " (no CI)"
    lo, hi = st.format_number(b.ci_lower), st.format_number(b.ci_upper)  # type: ignore[arg-type]
    return f"{st.format_number(b.estimate)} [{lo}, {hi}]"


def _draw_panel(ax: Axes, verdicts: Sequence[Verdict], *, ratio: bool,
                simulated: frozenset[str] = frozenset()) -> float | None:
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
        color = verdict_color(v)
        if lo is not None and hi is not None:
            ax.plot([conv(lo), conv(hi)], [y, y], color=color, lw=1.6, solid_capstyle="butt")
            xs += [conv(lo), conv(hi)]
        very_low = v.level in (None, Level.VERY_LOW)
        ax.plot([conv(est)], [y], marker="s" if b.basis is Basis.POOLED_TRIALS else "o",
                ms=6, color="white" if very_low else color, mec=color,
                mew=1.4 if very_low else 0.6, zorder=3)
        xs.append(conv(est))
        thresholds.add(None if v.mcid is None else round(v.mcid.threshold, 9))
        ax.text(1.02, y, _estimate_text(v), transform=ax.get_yaxis_transform(),
                fontsize=st.SMALL_FONT_SIZE + 0.5, va="center", ha="left", color=st.INK)
    ax.axvline(null, color=st.INK, lw=0.8, zorder=1)
    ax.text(1.02, 1.0, "treatment minus comparator [95% CI]", transform=ax.transAxes, ha="left",
            va="bottom", fontsize=st.SMALL_FONT_SIZE, color=st.GUIDE_COLOR)
    mcid = next(iter(thresholds)) if len(thresholds) == 1 else None
    for m in [] if mcid is None else [conv(mcid), conv(-mcid)]:
        ax.axvline(m, color=st.GUIDE_COLOR, lw=0.9, ls=(0, (4, 3)), zorder=1)
        xs.append(m)
    lo_all, hi_all = st.padded_range([min(xs), max(xs)], 0.08, log=ratio)
    st.set_effect_axis(ax, lo_all, hi_all, log=ratio)
    ax.set_ylim(-0.7, len(verdicts) - 0.3)
    ax.set_yticks(ys)
    ax.set_yticklabels([_row_label(v, simulated) for v in verdicts])
    st.style_axes(ax)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("benefit, sign aligned: \u2190 favours comparator      favours treatment "
                  "\u2192", fontsize=st.SMALL_FONT_SIZE, color=st.GUIDE_COLOR, labelpad=2)
    return mcid


def summary_estimates_figure(verdicts: Sequence[Verdict], *, treatment: str, condition: str,
                             fig_id: str, simulated: frozenset[str] = frozenset()
                             ) -> tuple[Figure | None, int]:
    """Draw the stored estimates of one condition, one panel per measure, as benefit.

    Every verdict with an estimate is a row: a dot coloured by its verdict and its 95% CI where
    stored, oriented so that right of zero favours the treatment (lower-is-better outcomes are
    mirrored; ratios are shown as the ratio that favours the treatment above 1, on a log axis).
    Dashed lines mark ±MCID where every row of a panel shares one. Nothing is pooled: this
    shows the reviews' and trials' own numbers side by side. Rows of a source in
    ``simulated`` are labelled SIMULATED (and so is the figure's caption).

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
    label_w = st.text_width_in([_row_label(v, simulated) for v in plot], size=size)
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
        mcid = _draw_panel(ax, vs, ratio=key.startswith("ratio "), simulated=simulated)
        dashed = "" if mcid is None else f" \u00b7 dashed: \u00b1{mcid_text.split(';')[0]}"
        # the title starts at the figure's left edge (above the labels), so it never runs
        # into the estimates column on the right
        fig.text(0.05 / width, ax.get_position().y1 + 0.06 / total, key + dashed, ha="left",
                 va="bottom", fontsize=size, fontweight="bold", color=st.INK)
    caption = (f"Stored estimates for {treatment} in {condition} (reviews' pooled results and "
               "single trials side by side; nothing is re-pooled across reviews, which may "
               "share trials). The axis is sign-aligned: right of the line of no effect "
               "favours the treatment, whatever the outcome's direction; the column on the "
               "right gives each estimate as treatment minus comparator. Hue gives the "
               "direction, depth the certainty (hollow markers: very low certainty); squares "
               "are bodies pooled here from primary trials.")
    if skipped:
        caption += (f" {skipped} result(s) without an estimate (P-values, bounds or directions "
                    "only) appear in the table but not in the plot.")
    title = f"Summary estimates: {condition}"
    shown = sorted({k for v in plot for k in v.sources} & simulated)
    if shown:
        caption += _simulated_caption(shown)
        title += f" (includes {SIMULATED_LABEL} data)"
    return Figure(fig_id, title, caption, figure_svg(fig, fig_id)), skipped


def _simulated_caption(keys: Sequence[str]) -> str:
    return (f" {SIMULATED_LABEL}: {', '.join(keys)} hold{'s' if len(keys) == 1 else ''} "
            "numbers computed from simulated data, not from a real trial.")


def forest_figure(v: Verdict, fig_id: str,
                  simulated: frozenset[str] = frozenset()) -> Figure | None:
    """A forest plot for a body pooled here from primary trials (None for other bodies);
    a pool with a source in ``simulated`` says SIMULATED in its title and caption."""
    body = v.body
    if body is None or body.meta is None:
        return None
    shown = sorted(set(v.sources) & simulated)
    label = f" ({SIMULATED_LABEL} data included)" if shown else ""
    fig = forest_plot(body.meta, transform=np.exp if is_ratio(body.measure) else None,
                      xlabel=f"{body.measure}, {v.claim.treatment} minus {v.claim.comparator}",
                      refline=0.0, title=f"{v.claim.outcome}, {v.timepoint}{label}")
    caption = (f"{v.claim.treatment} vs {v.claim.comparator}, {v.claim.condition}, "
               f"{v.claim.outcome} ({v.timepoint}): {mark_simulated(body.label, shown)}. "
               f"{'; '.join(body.notes)}.")
    if shown:
        caption += _simulated_caption(shown)
    return Figure(fig_id, f"Forest plot: {v.claim.outcome}, {v.timepoint}{label}", caption,
                  figure_svg(fig, fig_id))


def _signed_bound(v: Verdict) -> float | None:
    """The stored |SMD| bound signed as treatment minus comparator (positive = higher scores)."""
    b = v.body
    if b is None or b.smd_bound is None or b.lower_is_better is None:
        return None
    if b.smd_bound_relation and b.smd_bound_relation.startswith("<"):
        return float(b.smd_bound)
    harm_sign = 1.0 if b.lower_is_better else -1.0
    if v.direction is Direction.HARM:
        return harm_sign * b.smd_bound
    if v.direction is Direction.BENEFIT:
        return -harm_sign * b.smd_bound
    return None


def _trial_days(tc: Sequence[Verdict]) -> list[Verdict]:
    """The single-day verdicts of the trial measured on the most days (at least two)."""
    by_trial: dict[tuple[str, ...], list[Verdict]] = defaultdict(list)
    for v in tc:
        if v.body is not None and v.body.basis is Basis.SINGLE_TRIAL \
                and v.body.timepoint_days is not None:
            by_trial[v.sources].append(v)
    trials = [vs for vs in by_trial.values()
              if len({v.body.timepoint_days for v in vs}) >= 2]          # type: ignore[union-attr]
    return max(trials, key=len) if trials else []


def _day_points(day_verdicts: Sequence[Verdict]) -> tuple[list[dict[str, Any]], list[float],
                                                          list[str], bool]:
    """Rows for :func:`~metaverdict.report.plots.time_course_plot`: an estimate with its CI,
    else the signed |SMD| bound a P-value implies; the days measured but not reported; notes
    on days that cannot be drawn; and whether any row is a bound (so the axis is in SMD)."""
    points, unreported, notes, smd = [], [], [], False
    for v in day_verdicts:
        b = v.body
        assert b is not None
        if b.estimate is not None and b.has_ci:
            points.append({"day": b.timepoint_days, "estimate": b.estimate,
                           "ci_lower": b.ci_lower, "ci_upper": b.ci_upper})
        elif (bound := _signed_bound(v)) is not None:
            smd = True
            site = re.search(r"\(([^()]*)\)\s*$", b.outcome_instrument or "")
            label = "" if b.p_number is None else fmt_p_relation(b.p_relation, b.p_number)
            label = f"{site.group(1)}: {label}" if site and label else label
            points.append({"day": b.timepoint_days, "bound": bound,
                           "bound_relation": b.smd_bound_relation or ">=", "label": label})
        elif v.effect == "measured, result not reported":
            unreported.append(float(b.timepoint_days))           # type: ignore[arg-type]
        else:
            notes.append(f"day {b.timepoint_days:g}: {v.effect} (not drawn: no estimate or bound)")
    return points, unreported, notes, smd


def _ranges(tc: Sequence[Verdict], sources: set[str]) -> list[dict[str, Any]]:
    """Results of the same trial that cover a range of days (e.g. another muscle, days 1-7)."""
    out = []
    for v in tc:
        b = v.body
        if (b is None or b.timepoint_days is not None or b.timepoint_days_min is None
                or b.timepoint_days_max is None or not sources & set(v.sources)):
            continue
        inst = b.outcome_instrument if b.outcome_instrument != "unspecified" else v.label
        p = fmt_p_relation(b.p_relation, b.p_number) if b.p_number is not None else ""
        bound = b.smd_bound if b.smd_bound_relation == "<" else None
        out.append({"day_min": b.timepoint_days_min, "day_max": b.timepoint_days_max,
                    "bound": bound,
                    "label": f"{inst}: {p} over days {b.timepoint_days_min:g}\u2013"
                             f"{b.timepoint_days_max:g}"
                             + (f" (|SMD| < {bound:.2f}, grey band)" if bound else "")})
    return out


def time_course_section(synth: Synthesis, condition: str, outcome: str, *,
                        fig_id: str, simulated: frozenset[str] = frozenset()
                        ) -> TimeCourseSection | None:
    """A time course for the synthesis' treatment in ``condition``/``outcome`` when one trial
    reports results for at least two single days; ``None`` otherwise.

    Drawn from the verdicts already judged (the same ones the tables show): days with an
    estimate and CI as a band; days with only a P-value bound as an arrow from the |SMD| bound
    the P-value implies; days measured but not reported as hollow markers in a strip above
    the plot (never on the zero line); results covering a range of days (another muscle) as a
    band over those days. Days the trial did not measure are not drawn at all. A trial in
    ``simulated`` is labelled SIMULATED in the title, caption and statements.
    """
    tc = time_course_from(synth.assessment.verdicts, synth.rows, outcome, condition)
    day_verdicts = _trial_days(tc.verdicts)
    points, unreported, notes, smd = _day_points(day_verdicts)
    if not points:
        return None
    treatment = synth.treatment
    mcids = [v.mcid.value for v in day_verdicts if v.mcid is not None]
    mcid = mcids[-1] if mcids else None
    sources = {s for v in day_verdicts for s in v.sources}
    ranges = _ranges(tc.verdicts, sources)
    notes += [f"{v.label}: {v.effect}, covers {v.timepoint!r}, so it cannot be placed on a "
              "single day" for v in tc if v.body is not None and v.body.timepoint_days is None
              and not sources & set(v.sources)]
    first = day_verdicts[0]
    assert first.body is not None
    comparator = first.body.comparator_name or first.claim.comparator
    less = first.body.lower_is_better is not False
    ylabel = f"{'SMD' if smd else first.body.measure}, {treatment} \u2212 {comparator}"
    fig = time_course_plot(pd.DataFrame(points), mcid=mcid, ylabel=ylabel,
                           not_reported_days=tuple(unreported), ranges=ranges,
                           lower_is_better=less,
                           harm_label=f"more {outcome} with {treatment}" if less else
                           f"favours {comparator}",
                           benefit_label=f"less {outcome} with {treatment}" if less else
                           f"favours {treatment}")
    srcs = ", ".join(source_name(k, k in simulated) for k in sorted(sources))
    caption = (f"{treatment} vs {comparator} in {condition}: {outcome} "
               f"({first.body.outcome_instrument}) by day after treatment [{srcs}]; only the "
               "days the trial measured are drawn. ")
    if smd:
        caption += ("Where the source reports only a P-value bound (no means or SDs), the arrow "
                    "starts at the smallest |SMD| that P-value implies for the group sizes and "
                    "points away from zero: the observed difference is at least that large (a "
                    "bound on the point estimate, not on the true effect, whose CI is wider). ")
    if ranges:
        caption += ("A grey band spans a result that covers several days (no day-by-day "
                    "result): its |SMD| stays below the bound shown. ")
    if mcid is not None:
        caption += f"Dashed lines: \u00b1MCID ({mcid:g}{' SD' if smd else ''}). "
    if unreported:
        caption += ("Hollow markers above the plot: day(s) "
                    f"{', '.join(f'{d:g}' for d in unreported)} were measured but the source "
                    "reports no result for them (which is not a no-difference result).")
    title = f"Time course: {outcome} in {condition}"
    shown = sorted(sources & simulated)
    if shown:
        caption += _simulated_caption(shown)
        title += f" ({SIMULATED_LABEL} data)"
    figure = Figure(fig_id, title, caption.strip(), figure_svg(fig, fig_id))
    return TimeCourseSection(fig_id.removeprefix("fig-"), condition, title, figure,
                             tuple(finding(v, simulated) for v in tc),
                             tuple(mark_simulated(g, simulated) for g in tc.gaps),
                             tuple(mark_simulated(n, simulated) for n in notes))
