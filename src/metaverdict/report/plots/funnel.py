"""Funnel plot: effects against their precision, optionally contour-enhanced (significance
regions around zero) and with the studies a trim-and-fill analysis imputed."""
from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

import metaverdict.report.plots._style as st
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult

YAxis = Literal["sei", "vi", "seinv", "vinv"]
_YLABELS = {"sei": "Standard error", "vi": "Sampling variance",
            "seinv": "Inverse standard error", "vinv": "Inverse sampling variance"}
_SHADES = ("#ffffff", "#e6e6e6", "#cccccc", "#b3b3b3")   # p > .10, .10-.05, .05-.01, < .01


@st.axes_docstring
def funnel_plot(res: MetaAnalysisResult, *,
                contours: tuple[float, ...] | None = (0.90, 0.95, 0.99),
                trim_and_fill: Any = None, yaxis: YAxis = "sei", xlabel: str | None = None,
                show_region: bool = True, legend: bool = True, title: str | None = None,
                ax: Axes | None = None, save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a funnel plot of a fitted intercept-only meta-analysis.

    Each study is a point at its effect ``yi`` (x) and its standard error (y, inverted so the
    most precise studies are on top). The vertical line is the pooled estimate and the two
    dashed lines the pseudo-confidence region ``estimate ± z·se`` inside which about
    ``res.level`` of the studies should fall without heterogeneity or bias. With
    ``contours``, the background is shaded by the two-sided significance of each position
    against an effect of zero (Peters et al. 2008): white p above 1 - first level, then darker
    for each further level.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit from :func:`metaverdict.meta_analysis`.
    contours : tuple of float or None
        Confidence levels separating the shaded significance regions, e.g. ``(0.90, 0.95,
        0.99)`` (p = 0.10, 0.05, 0.01); None for a plain funnel.
    trim_and_fill : TrimAndFillResult, optional
        The result of :func:`metaverdict.diagnostics.trim_and_fill` for ``res``: the imputed
        studies are drawn as open circles, and the pooled line and region are those of the
        filled data (``trim_and_fill.filled``), with the original estimate kept as a dotted
        line.
    yaxis : {"sei", "vi", "seinv", "vinv"}
        Standard error (default) or sampling variance, both inverted, or their inverses.
    xlabel : str, optional
        x-axis label (default "Effect size").
    show_region : bool
        Draw the pseudo-confidence region.
    legend : bool
        Show a legend for the contours and imputed studies.
    %(axes)s

    References
    ----------
    Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis. J Clin
    Epidemiol 54:1046-1055. Peters JL et al. (2008). Contour-enhanced meta-analysis funnel
    plots help distinguish publication bias from other causes of asymmetry. J Clin Epidemiol
    61:991-996.
    """
    st.require_study_data(res, "funnel_plot")
    if yaxis not in _YLABELS:
        raise InputError(f"field 'yaxis': expected one of {sorted(_YLABELS)}, got {yaxis!r}")
    yi = np.asarray(res.yi, dtype=float)
    vi = np.asarray(res.vi, dtype=float)
    filled_mask = np.zeros(0, dtype=bool)
    center_fit = res
    if trim_and_fill is not None:
        yi_all = np.asarray(trim_and_fill.yi_augmented, dtype=float)
        vi_all = np.asarray(trim_and_fill.vi_augmented, dtype=float)
        filled_mask = np.asarray(trim_and_fill.is_filled, dtype=bool)
        center_fit = trim_and_fill.filled
    else:
        yi_all, vi_all = yi, vi
        filled_mask = np.zeros(len(yi), dtype=bool)

    created = ax is None
    fig, ax = st.new_figure(ax, 6.6, 4.4)
    if created:
        fig.subplots_adjust(left=0.1, right=0.70, bottom=0.12, top=0.95)
    se_all = np.sqrt(vi_all)
    se_max = float(se_all.max()) * 1.08
    se_grid = np.linspace(0.0, se_max, 200)
    if yaxis in ("seinv", "vinv"):
        se_grid = np.linspace(float(se_all.min()) * 0.92, se_max, 200)
    y_grid = _y(se_grid, yaxis)

    # x range: every point, the region at the bottom, and the contours' reach
    z_region = st.normal_quantile(res.level)
    cands = [yi_all, [center_fit.estimate - z_region * se_max,
                      center_fit.estimate + z_region * se_max]]
    lo_x, hi_x = st.padded_range(np.concatenate([np.ravel(c) for c in cands]), 0.06)
    if contours:
        levels = sorted(float(c) for c in contours)
        _draw_contours(ax, levels, se_grid, y_grid, lo_x, hi_x)
    ax.set_xlim(lo_x, hi_x)

    if show_region:
        c = center_fit.estimate
        ax.plot(c - z_region * se_grid, y_grid, color=st.INK, lw=0.8, ls=(0, (4, 3)),
                gid="pseudo-ci", label=f"Pseudo {st.level_percent(res.level)} confidence region")
        ax.plot(c + z_region * se_grid, y_grid, color=st.INK, lw=0.8, ls=(0, (4, 3)),
                gid="pseudo-ci")
    y_lo, y_hi = float(np.min(y_grid)), float(np.max(y_grid))
    ax.vlines(center_fit.estimate, y_lo, y_hi, colors=st.INK, lw=1.0, gid="pooled-line",
              label="Estimate, filled data" if trim_and_fill is not None else None)
    if trim_and_fill is not None:
        ax.vlines(res.estimate, y_lo, y_hi, colors=st.GUIDE_COLOR, lw=1.0, ls=":",
                  gid="original-line", label="Estimate, observed data")

    obs = ~filled_mask
    ax.scatter(yi_all[obs], _y(se_all[obs], yaxis), s=26, color=st.STUDY_COLOR,
               edgecolors="white", linewidths=0.5, zorder=3, gid="study-markers",
               label="Studies")
    if filled_mask.any():
        ax.scatter(yi_all[filled_mask], _y(se_all[filled_mask], yaxis), s=26,
                   facecolors="white", edgecolors=st.FILLED_COLOR, linewidths=1.0, zorder=3,
                   gid="filled-markers", label=f"Imputed studies ({int(filled_mask.sum())})")

    if yaxis in ("sei", "vi"):
        ax.set_ylim(y_hi, 0.0)      # inverted: precise studies on top
    else:
        ax.set_ylim(y_lo, y_hi * 1.02)
    st.style_axes(ax)
    ax.set_xlabel(xlabel or "Effect size")
    ax.set_ylabel(_YLABELS[yaxis])
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold")
    if legend and (contours or trim_and_fill is not None):
        handles, _ = ax.get_legend_handles_labels()
        if contours:
            handles += _contour_handles(sorted(float(c) for c in contours))
        ax.legend(handles=handles, fontsize=st.SMALL_FONT_SIZE, frameon=False,
                  loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return st.finish(fig, save)


def _y(se: np.ndarray, yaxis: str) -> np.ndarray:
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore"):
        return {"sei": se, "vi": se ** 2, "seinv": 1 / se, "vinv": 1 / se ** 2}[yaxis]


def _draw_contours(ax: Axes, levels: list[float], se_grid: np.ndarray, y_grid: np.ndarray,
                   lo_x: float, hi_x: float) -> None:
    """Shade |effect| / se bands between the normal quantiles of ``levels`` (around zero)."""
    ax.fill_betweenx(y_grid, lo_x - 1e3, hi_x + 1e3, color=_SHADES[min(len(levels), 3)],
                     lw=0, zorder=0, gid="contour")
    zs = [st.normal_quantile(lv) for lv in levels]
    for i in range(len(zs) - 1, -1, -1):    # from the outermost band inwards
        shade = _SHADES[min(i, 3)]
        ax.fill_betweenx(y_grid, -zs[i] * se_grid, zs[i] * se_grid, color=shade, lw=0,
                         zorder=0, gid="contour")


def _contour_handles(levels: list[float]) -> list[Patch]:
    ps = [round(1 - lv, 4) for lv in levels]
    out = [Patch(facecolor=_SHADES[0], edgecolor="#999999", lw=0.5, label=f"p > {ps[0]:g}")]
    for i in range(1, len(ps)):
        out.append(Patch(facecolor=_SHADES[min(i, 3)], edgecolor="#999999", lw=0.5,
                         label=f"{ps[i - 1]:g} > p > {ps[i]:g}"))
    out.append(Patch(facecolor=_SHADES[min(len(ps), 3)], edgecolor="#999999", lw=0.5,
                     label=f"p < {ps[-1]:g}"))
    return out
