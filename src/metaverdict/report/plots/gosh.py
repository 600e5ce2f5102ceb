"""GOSH plot: the pooled estimate against I² in every fitted subset of the studies (Olkin,
Dahabreh & Trikalinos 2012)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import metaverdict.report.plots._style as st
from metaverdict.diagnostics.gosh import GoshResult
from metaverdict.errors import InputError


@st.axes_docstring
def gosh_plot(gosh: GoshResult, *, column: str | None = None,
              transform: Callable[[Any], Any] | None = None, xlabel: str | None = None,
              ylabel: str | None = None, title: str | None = None, ax: Axes | None = None,
              save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a GOSH plot of :func:`metaverdict.gosh` fits.

    Each point is one subset of the studies: x its I² (percent), y its pooled estimate (or
    the coefficient ``column`` of a meta-regression). Distinct clusters point to studies
    that change the result or the heterogeneity when they are in; the subsets that include
    a given study can be picked out with ``gosh.included[:, i]``. Points are small and
    translucent, as there may be up to 10^6 of them; subsets whose fit is undefined are left
    out.

    Parameters
    ----------
    gosh : GoshResult
        From :func:`metaverdict.gosh`.
    column : str, optional
        The coefficient on the y axis (default: the estimate, or the first coefficient after
        the intercept of a meta-regression).
    transform : callable, optional
        Applied to the y values (e.g. ``numpy.exp`` for ratios).
    xlabel, ylabel : str, optional
        Axis labels (defaults name I² and the coefficient).
    %(axes)s

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. *Research Synthesis Methods* 3:214-223.
    """
    if not isinstance(gosh, GoshResult):
        raise InputError(f"gosh_plot() needs the result of metaverdict.gosh(), got a "
                         f"{type(gosh).__name__}")
    table = gosh.table
    coefs = list(table.columns[5:])
    if column is None:
        column = coefs[0] if len(coefs) == 1 else coefs[1]
    if column not in coefs:
        raise InputError(f"field 'column': {column!r} is not a coefficient of the fits "
                         f"({coefs})")
    fitted = table[coefs].notna().all(axis=1) & table["i2"].notna()
    x = table.loc[fitted, "i2"].to_numpy(float)
    y = st.apply_transform(transform, table.loc[fitted, column].to_numpy(float))
    created = ax is None
    fig, ax = st.new_figure(ax, 5.6, 4.4)
    if created:
        fig.subplots_adjust(left=0.14, right=0.96, bottom=0.12, top=0.93)
    n = len(x)
    alpha = float(np.clip(30.0 / np.sqrt(max(n, 1)), 0.05, 0.8))
    ax.scatter(x, y, s=6 if n > 2000 else 12, color=st.STUDY_COLOR, alpha=alpha,
               linewidths=0, rasterized=n > 2000, gid="subset-markers")
    ax.set_xlim(-2, 102)
    st.style_axes(ax)
    ax.set_xlabel(xlabel or "I\u00b2 (%)")
    ax.set_ylabel(ylabel or ("Pooled estimate" if column == "estimate" else
                             f"Coefficient of {column}"))
    ax.text(1.0, 1.0, f"{n:,} subsets{'' if gosh.exact else ' (random)'} of k = {gosh.k}",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=st.SMALL_FONT_SIZE,
            color=st.GUIDE_COLOR, gid="subset-count")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold", loc="left")
    return st.finish(fig, save)
