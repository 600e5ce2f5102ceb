"""Plots of one trial's analysis: arm means by visit, and the arm difference by visit.

Only visits that were measured appear (no line is drawn through unmeasured days as if they had
data); simulated data say so in the title.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metaverdict.report.plots._style import (
    FONT_SIZE,
    GUIDE_COLOR,
    STUDY_COLOR,
    finish,
    new_figure,
    style_axes,
)
from metaverdict.report.plots.time_course import time_course_plot

ARM_COLORS = ("#808080", STUDY_COLOR)  # control grey, treatment blue


def _positions(visits: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Numeric visits are placed at their value (days), labels at 1, 2, 3, ..."""
    num = pd.to_numeric(visits, errors="coerce")
    if num.notna().all():
        return num.to_numpy(float), [str(v) for v in visits]
    return np.arange(1, len(visits) + 1, dtype=float), [str(v) for v in visits]


def _title(analysis: Any, what: str) -> str:
    label = " — SIMULATED DATA" if analysis.simulated else ""
    return f"{analysis.outcome}: {what}{label}"


def arm_means_plot(analysis: Any, *, xlabel: str = "Day", ylabel: str | None = None,
                   ax: Axes | None = None,
                   save: str | os.PathLike[str] | None = None) -> Figure:
    """LS mean ± CI per arm at each measured visit (MMRM, adjusted for baseline).

    Parameters
    ----------
    analysis : OutcomeAnalysis
        From :func:`metaverdict.trials.analyze_outcome`.
    xlabel, ylabel : str
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    Figure
    """
    ls = analysis.fit.lsmeans()
    fig, ax = new_figure(ax, 6.4, 3.6)
    style_axes(ax)
    visits = pd.Series(list(dict.fromkeys(ls["visit"])))
    pos, labels = _positions(visits)
    where = dict(zip(visits, pos))
    offset = 0.06 * (np.ptp(pos) if pos.size > 1 else 1.0)
    for k, (arm, color) in enumerate(zip((analysis.control, analysis.treatment), ARM_COLORS)):
        rows = ls[ls["arm"].astype(str) == arm]
        x = np.array([where[v] for v in rows["visit"]]) + (k - 0.5) * offset
        ax.errorbar(x, rows["estimate"], yerr=[rows["estimate"] - rows["ci_lower"],
                                              rows["ci_upper"] - rows["estimate"]],
                    fmt="o-", color=color, lw=1.4, ms=5, capsize=3, label=arm)
    ax.set_xticks(pos, labels)
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.set_ylabel(ylabel or f"{analysis.outcome} (LS mean, 95% CI)", fontsize=FONT_SIZE)
    ax.set_title(_title(analysis, "mean by arm and visit"), fontsize=FONT_SIZE)
    ax.legend(frameon=False, fontsize=FONT_SIZE)
    return finish(fig, save)


def difference_plot(analysis: Any, *, xlabel: str = "Day", ax: Axes | None = None,
                    save: str | os.PathLike[str] | None = None) -> Figure:
    """The arm difference (treatment - control) by measured visit with its CI and ±MCID.

    Parameters
    ----------
    analysis : OutcomeAnalysis
    xlabel : str
    ax : Axes, optional
    save : path, optional

    Returns
    -------
    Figure
    """
    v = analysis.visits.dropna(subset=["difference"])
    pos, labels = _positions(v["visit"])
    points = pd.DataFrame({"day": pos, "estimate": v["difference"].to_numpy(),
                           "ci_lower": v["ci_lower"].to_numpy(),
                           "ci_upper": v["ci_upper"].to_numpy()})
    fig = time_course_plot(points, mcid=analysis.mcid,
                           ylabel=f"{analysis.treatment} − {analysis.control}",
                           title=_title(analysis, "difference by visit"),
                           harm_label=f"favours {analysis.control}",
                           benefit_label=f"favours {analysis.treatment}",
                           lower_is_better=True, ax=ax)
    axis = ax if ax is not None else fig.axes[0]
    axis.set_xticks(pos, labels)
    axis.set_xlabel(xlabel, fontsize=FONT_SIZE)
    axis.axhline(0.0, color=GUIDE_COLOR, lw=0.8)
    return finish(fig, save)


def trial_figure(analysis: Any, *, save: str | os.PathLike[str] | None = None) -> Figure:
    """One figure for a whole trial: per outcome (rows), arm means and the difference.

    Parameters
    ----------
    analysis : TrialAnalysis
        From :func:`metaverdict.trials.analyze_trial`.
    save : path, optional

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    rows = len(analysis.outcomes)
    fig, axes = plt.subplots(rows, 2, figsize=(12.8, 3.8 * rows), squeeze=False)
    for (left, right), outcome in zip(axes, analysis.outcomes):
        arm_means_plot(outcome, ax=left)
        difference_plot(outcome, ax=right)
    fig.tight_layout()
    return finish(fig, save)
