"""Baujat plot: each study's contribution to the heterogeneity statistic Q against its influence
on the pooled result (Baujat et al. 2002)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import metaverdict.report.plots._style as st
from metaverdict.diagnostics.baujat import baujat
from metaverdict.models.results import MetaAnalysisResult


@st.axes_docstring
def baujat_plot(res: MetaAnalysisResult, *, labels: Sequence[Any] | None = None,
                max_labels: int | None = None, data: pd.DataFrame | None = None,
                title: str | None = None, ax: Axes | None = None,
                save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a Baujat plot of a fitted intercept-only meta-analysis.

    x is a study's contribution to Cochran's Q, y its influence on the pooled estimate (the
    squared standardized change when it is left out), both from
    :func:`metaverdict.diagnostics.baujat`. Studies in the top right both drive the
    heterogeneity and move the result. Points are labelled, the most extreme first, as long as
    labels fit without overlapping.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit from :func:`metaverdict.meta_analysis`.
    labels : sequence of str, optional
        Study labels (default ``res.labels``, else the study number).
    max_labels : int, optional
        Most points to label (default: all up to 20 studies, else the 10 most extreme, by the
        sum of both coordinates scaled to their maxima).
    data : DataFrame, optional
        Precomputed ``baujat(res)`` output (columns ``x`` and ``y``), to avoid computing it
        twice.
    %(axes)s

    References
    ----------
    Baujat B, Mahé C, Pignon JP, Hill C (2002). A graphical method for exploring heterogeneity
    in meta-analyses: application to a meta-analysis of 65 trials. Stat Med 21:2641-2652.
    """
    st.require_study_data(res, "baujat_plot")
    if data is None:
        data = baujat(res)
    x = np.asarray(data["x"], dtype=float)
    y = np.asarray(data["y"], dtype=float)
    names = [str(i + 1) for i in range(res.k)] if labels is None and res.labels is None \
        else st.study_labels(res, labels)
    names = [st.truncate_label(s, 24) for s in names]

    created = ax is None
    fig, ax = st.new_figure(ax, 5.6, 4.4)
    if created:
        fig.subplots_adjust(left=0.13, right=0.96, bottom=0.12, top=0.93)
    ax.scatter(x, y, s=24, color=st.STUDY_COLOR, edgecolors="white", linewidths=0.5, zorder=3,
               gid="study-markers")
    ax.set_xlim(*_zero_based(x))
    ax.set_ylim(*_zero_based(y))
    st.style_axes(ax)
    ax.set_xlabel("Contribution to overall heterogeneity (Q)")
    ax.set_ylabel("Influence on the pooled result")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold")
    scale = x / (np.nanmax(x) or 1.0) + y / (np.nanmax(y) or 1.0)
    limit = max_labels if max_labels is not None else (res.k if res.k <= 20 else 10)
    st.label_points(ax, x, y, names, priority=scale, max_labels=limit)
    return st.finish(fig, save)


def _zero_based(v: np.ndarray) -> tuple[float, float]:
    """Axis from 0 (both quantities are non-negative) to the maximum plus room for labels."""
    top = float(np.nanmax(v)) if np.isfinite(v).any() else 1.0
    return (-0.03 * top if top > 0 else -0.1, top * 1.12 if top > 0 else 1.0)
