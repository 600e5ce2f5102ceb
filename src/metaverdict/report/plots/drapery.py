"""Drapery plot: p-value functions of every study and of the pooled estimate (Rücker and
Schwarzer 2021), with the prediction interval shaded."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter
from scipy import stats

import metaverdict.report.plots._style as st
from metaverdict.models.results import MetaAnalysisResult


@st.axes_docstring
def drapery_plot(res: MetaAnalysisResult, *, transform: st.Transform | None = None,
                 xlabel: str | None = None, refline: float | None = 0.0, show_pi: bool = True,
                 n_points: int = 400, title: str | None = None, ax: Axes | None = None,
                 save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a drapery plot: two-sided p-value functions against the effect.

    For an effect value ``theta`` the curve gives the two-sided p-value of the test of
    ``H0: effect = theta``. A study's curve is ``2·(1 - Φ(|yi - theta| / sqrt(vi)))`` (thin
    lines); the pooled curve (thick) uses the fit's own test: ``|estimate - theta| / se`` on
    the normal, or on Student's t with ``res.df`` degrees of freedom for Hartung-Knapp fits.
    Each curve peaks at p = 1 over its estimate and crosses p = 1 - level at its confidence
    limits, so every confidence interval can be read off one picture; the right axis gives the
    confidence level. The prediction interval is shaded.

    Parameters
    ----------
    res : MetaAnalysisResult
        An intercept-only fit from :func:`metaverdict.meta_analysis`.
    transform : callable, optional
        Applied to the effect axis (``np.exp`` draws ratios on a log axis).
    xlabel : str, optional
        x-axis label (default "Effect size").
    refline : float or None
        Line of no effect on the scale of ``yi``; None for none.
    show_pi : bool
        Shade the prediction interval (random-effects fits with k >= 3).
    n_points : int
        Resolution of the curves.
    %(axes)s

    References
    ----------
    Rücker G, Schwarzer G (2021). Beyond the forest plot: the drapery plot. Res Synth Methods
    12:13-19.
    """
    st.require_study_data(res, "drapery_plot")
    yi = np.asarray(res.yi, dtype=float)
    se = np.sqrt(np.asarray(res.vi, dtype=float))
    lo99, hi99 = st.study_intervals(res, level=0.99)
    span = [float(np.quantile(lo99, 0.02)), float(np.quantile(hi99, 0.98)), res.ci_lower,
            res.ci_upper]
    if show_pi and np.isfinite(res.pi_lower):
        span += [res.pi_lower, res.pi_upper]
    if refline is not None:
        span.append(refline)
    lo, hi = min(span), max(span)
    pad = 0.04 * (hi - lo)
    theta = np.linspace(lo - pad, hi + pad, n_points)
    # the grid goes through every estimate so that each curve reaches its peak p = 1
    peaks = np.append(yi, res.estimate)
    theta = np.unique(np.concatenate([theta, peaks[(peaks >= theta[0]) & (peaks <= theta[-1])]]))

    created = ax is None
    fig, ax = st.new_figure(ax, 6.4, 4.2)
    if created:
        fig.subplots_adjust(left=0.11, right=0.88, bottom=0.13, top=0.90 if title else 0.93)
    x = st.apply_transform(transform, theta)
    p_study = 2 * stats.norm.sf(np.abs(yi[:, None] - theta[None, :]) / se[:, None])
    alpha = 0.6 if res.k <= 20 else max(0.25, 0.6 * 20 / res.k)
    ax.add_collection(LineCollection([np.column_stack([x, p]) for p in p_study],
                                     colors=st.STUDY_COLOR, linewidths=0.7, alpha=alpha,
                                     gid="study-curves", label="Studies"))
    z = np.abs(res.estimate - theta) / res.se
    p_pooled = 2 * (stats.t.sf(z, res.df) if res.test == "knha" else stats.norm.sf(z))
    ax.plot(x, p_pooled, color=st.INK, lw=2.2, gid="pooled-curve",
            label="Common-effect estimate" if res.is_common_effect else "Pooled estimate")
    if show_pi and not res.is_common_effect and np.isfinite(res.pi_lower) and res.k >= 3:
        a, b = sorted(st.apply_transform(transform, [res.pi_lower, res.pi_upper]))
        ax.axvspan(a, b, color=st.PI_COLOR, alpha=0.12, lw=0, zorder=0, gid="prediction-interval",
                   label=f"{st.level_percent(res.level)} prediction interval")
    alpha_line = 1 - res.level
    ax.axhline(alpha_line, color=st.GUIDE_COLOR, lw=0.8, ls=(0, (4, 3)), zorder=1,
               gid="level-line")
    if refline is not None:
        ax.axvline(float(st.apply_transform(transform, refline)), color=st.GUIDE_COLOR, lw=0.8,
                   zorder=1, gid="refline")

    log = st.is_log_transform(transform)
    st.set_effect_axis(ax, float(np.min(x)), float(np.max(x)), log=log)
    ax.set_ylim(0.0, 1.0)
    ticks = [0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right = ax.secondary_yaxis("right", functions=(_p_to_confidence, _confidence_to_p))
    right.yaxis.set_major_locator(FixedLocator([100 * (1 - t) for t in ticks]))
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    right.set_ylabel("Confidence level", fontsize=st.FONT_SIZE)
    right.tick_params(labelsize=st.SMALL_FONT_SIZE + 0.5, direction="out", length=3)
    st.style_axes(ax)
    right.spines["right"].set_visible(True)
    ax.set_xlabel(xlabel or "Effect size")
    ax.set_ylabel("p-value")
    ax.legend(fontsize=st.SMALL_FONT_SIZE, frameon=False, loc="lower left", ncol=3,
              bbox_to_anchor=(0.0, 1.01), borderaxespad=0.0, handlelength=1.8)
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold", pad=22)
    return st.finish(fig, save)


def _p_to_confidence(p: Any) -> Any:
    """p-value -> confidence level in percent, ``100·(1 - p)``."""
    return 100.0 * (1.0 - np.asarray(p, dtype=float))


def _confidence_to_p(c: Any) -> Any:
    """Confidence level in percent -> p-value."""
    return 1.0 - np.asarray(c, dtype=float) / 100.0
