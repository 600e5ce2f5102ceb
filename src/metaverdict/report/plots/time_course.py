"""Time-course plot: a treatment effect by day after treatment, against ±MCID.

One trial (or one body of evidence) measured on several days: each day shows its estimate and
CI when the data give them, or, when a paper reports only a p-value, the one-sided bound on the
standardised effect that the p-value implies (an arrow from the bound, away from zero, labelled
with the p-value). Days that were measured but whose results are not reported are marked
"not reported", so that the plot never suggests data that do not exist.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metaverdict.errors import InputError
from metaverdict.report.plots._style import (
    FONT_SIZE,
    GUIDE_COLOR,
    INK,
    PI_COLOR,
    SMALL_FONT_SIZE,
    STUDY_COLOR,
    finish,
    new_figure,
    style_axes,
)

REQUIRED = ("day",)


def time_course_plot(points: pd.DataFrame, *, mcid: float | None = None, ylabel: str = "Effect",
                     title: str | None = None, not_reported_days: tuple[float, ...] = (),
                     ranges: list[dict[str, object]] | None = None,
                     harm_label: str = "favours comparator",
                     benefit_label: str = "favours treatment",
                     lower_is_better: bool = True, ax: Axes | None = None,
                     save: str | os.PathLike[str] | None = None) -> Figure:
    """Plot effects by day with their CIs (a band), p-value bounds (arrows) and ±MCID lines.

    Parameters
    ----------
    points : DataFrame
        One row per day: ``day`` (days after treatment) and either ``estimate``, ``ci_lower``,
        ``ci_upper`` (treatment minus comparator, in the outcome's units or SMD), or ``bound``
        with ``bound_relation`` (``">="``: the effect is at least ``bound`` in the bound's
        direction; ``"<"``: its magnitude is below ``abs(bound)``) and an optional ``label``
        (e.g. ``"p ≤ 0.003"``).
    mcid : float, optional
        Minimal clinically important difference (positive); dashed lines at ±mcid.
    not_reported_days : tuple of float
        Days measured in the trial whose results the source does not report: hollow markers in
        a strip above the data (never on the zero line, which would read as "no difference").
    ranges : list of dict, optional
        Results covering several days (``day_min``, ``day_max``, optional ``bound`` on
        |effect| and a ``label``), drawn as a grey band over those days.
    lower_is_better : bool
        Direction of the outcome; used only to label which side favours which arm.
    """
    missing = [c for c in REQUIRED if c not in points.columns]
    if missing:
        raise InputError(f"time-course points need the column(s) {missing}")
    fig, ax = new_figure(ax, 6.4, 3.6)
    style_axes(ax)
    pts = points.sort_values("day")
    col = lambda name: pts[name] if name in pts else pd.Series(np.nan, index=pts.index)  # noqa: E731
    est, lo, hi = col("estimate"), col("ci_lower"), col("ci_upper")
    has_ci = est.notna() & lo.notna() & hi.notna()
    if has_ci.any():
        d = pts.loc[has_ci, "day"]
        ax.fill_between(d, lo[has_ci], hi[has_ci], color=STUDY_COLOR, alpha=0.18, lw=0,
                        label="95% CI")
        ax.plot(d, est[has_ci], "o-", color=STUDY_COLOR, lw=1.5, ms=5, label="estimate")
    bounds = pts[col("bound").notna()] if "bound" in pts else pts.iloc[0:0]
    span = max([abs(v) for v in np.r_[col("bound").dropna(), lo.dropna(), hi.dropna(), mcid or 0]]
               + [1.0])
    for _, row in bounds.iterrows():
        b, rel = float(row["bound"]), str(row.get("bound_relation", ">="))
        if rel.startswith(">"):     # effect at least b (in b's direction): arrow away from zero
            ax.annotate("", xy=(row["day"], b + np.sign(b) * 0.35 * span), xytext=(row["day"], b),
                        arrowprops=dict(arrowstyle="-|>", color=PI_COLOR, lw=1.6))
            ax.plot([row["day"]], [b], marker="_", ms=14, mew=2, color=PI_COLOR)
        else:                       # magnitude below |b|: a bar spanning (-|b|, |b|)
            ax.plot([row["day"]] * 2, [-abs(b), abs(b)], color=GUIDE_COLOR, lw=4, alpha=0.6,
                    solid_capstyle="butt")
        if isinstance(row.get("label"), str):
            tip = b + np.sign(b) * 0.35 * span if rel.startswith(">") else abs(b)
            ax.annotate(row["label"], (row["day"], tip), xytext=(0, 4 if tip >= 0 else -4),
                        textcoords="offset points", fontsize=SMALL_FONT_SIZE, color=INK,
                        ha="center", va="bottom" if tip >= 0 else "top")
    for k, rng in enumerate(ranges or ()):
        b = rng.get("bound")
        lo_d, hi_d = float(rng["day_min"]), float(rng["day_max"])          # type: ignore[arg-type]
        if isinstance(b, (int, float)):
            ax.fill_between([lo_d, hi_d], [-abs(b)] * 2, [abs(b)] * 2, color=GUIDE_COLOR,
                            alpha=0.12, lw=0, zorder=0)
        ax.text(lo_d - 0.5, -1.3 * span + k * 0.16 * span, str(rng.get("label", "")),
                fontsize=SMALL_FONT_SIZE - 0.5, color=GUIDE_COLOR, ha="left", va="bottom")
    # measured-but-unreported days: a strip above every arrow and its label
    top = 1.95 * span if not_reported_days else 1.45 * span
    strip = 1.78 * span
    for day in not_reported_days:
        ax.plot([day], [strip], marker="o", ms=7, mfc="white", mew=1.4, color=GUIDE_COLOR)
        ax.text(day, strip - 0.09 * span, "measured,\nnot reported",
                fontsize=SMALL_FONT_SIZE - 1, color=GUIDE_COLOR, ha="center", va="top")
    ax.axhline(0, color=INK, lw=0.8)
    if mcid:
        for m in (mcid, -mcid):
            ax.axhline(m, color=GUIDE_COLOR, lw=0.9, ls="--")
        ax.text(1.0, mcid, " +MCID", transform=ax.get_yaxis_transform(), fontsize=SMALL_FONT_SIZE,
                color=GUIDE_COLOR, va="center")
        ax.text(1.0, -mcid, " \u2212MCID", transform=ax.get_yaxis_transform(),
                fontsize=SMALL_FONT_SIZE, color=GUIDE_COLOR, va="center")
    # which side is which: beside the zero line, right of the plotted days' labels
    up, down = (harm_label, benefit_label) if lower_is_better else (benefit_label, harm_label)
    for y, text, va in ((0.1 * span, f"\u2191 {up}", "bottom"),
                        (-0.1 * span, f"\u2193 {down}", "top")):
        ax.text(0.98, y, text, transform=ax.get_yaxis_transform(), fontsize=SMALL_FONT_SIZE,
                color=INK, ha="right", va=va)
    days = sorted(set(pts["day"].dropna()) | set(not_reported_days))
    if ranges:
        ax.set_xlim(min(days + [float(r["day_min"]) for r in ranges]) - 0.6,   # type: ignore[arg-type]
                    max(days) + 0.9)
    ax.set_xticks(days)
    ax.set_xticklabels([f"{d:g}" for d in days])
    if not ranges:
        ax.set_xlim(min(days) - 0.6, max(days) + 0.9)
    ax.set_ylim(-1.45 * span, top)
    ax.set_xlabel("Day after treatment")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=FONT_SIZE + 1, loc="left")
    if has_ci.any():
        ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper center")
    fig.tight_layout()
    return finish(fig, save)
