"""Normal quantile-quantile plot of the standardised residuals of a fit, with a simulated
envelope (metafor ``qqnorm.rma.uni``; Wang & Bushman 1998)."""
from __future__ import annotations

import os

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

import metaverdict.report.plots._style as st
from metaverdict._validation import check_level
from metaverdict.diagnostics.influence import hat_matrix, rstandard
from metaverdict.errors import InputError
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.report.plots.supsmu import super_smoother


def plotting_positions(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: :math:`(i - a)/(n + 1 - 2a)`, with a = 3/8 for n <= 10, else 1/2."""
    a = 3 / 8 if n <= 10 else 0.5
    out: np.ndarray = (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)
    return out


@st.axes_docstring
def qqnorm_plot(res: MetaAnalysisResult, *, envelope: bool = True, level: float | None = None,
                bonferroni: bool = False, reps: int = 1000, seed: int | None = None,
                smooth: bool = True, bass: float = 0.0,
                title: str | None = None, ax: Axes | None = None,
                save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw a normal Q-Q plot of the standardised residuals of ``res``.

    The sorted residuals z of :func:`metaverdict.rstandard` are drawn against the normal
    quantiles of R's ``ppoints``, with the line y = x. The envelope (dotted) holds, at each
    order, the central ``level`` of ``reps`` simulated sorted residual vectors
    :math:`(I - H)\\varepsilon`, :math:`\\varepsilon \\sim N(0, I_k)`, H the hat matrix
    (metafor's construction; with ``bonferroni`` the central :math:`1 - (1 - level)/k`).
    As metafor, each bound is smoothed with Friedman's super smoother
    (:func:`~metaverdict.report.plots.supsmu.super_smoother`, R's ``supsmu``); with
    ``smooth=False`` it is drawn as computed, point by point. Points outside it are studies
    that fit the model worse than chance would suggest.

    Parameters
    ----------
    res : MetaAnalysisResult
        A fit with at least 2 studies.
    envelope : bool
        Draw the simulated envelope.
    level : float, optional
        Its level (default: the fit's).
    bonferroni : bool
        Widen it for the k comparisons.
    reps : int
        Number of simulated residual vectors.
    seed : int, optional
        Seed of the simulation (NumPy's generator: not R's draws).
    smooth : bool
        Smooth the envelope (metafor's default).
    bass : float
        The super smoother's bass control (metafor ``bass=``; 0: none).
    %(axes)s
    """
    if not isinstance(res, MetaAnalysisResult):
        raise InputError(f"qqnorm_plot() needs a MetaAnalysisResult, got a {type(res).__name__}")
    if res.k < 2:
        raise InputError(f"qqnorm_plot() needs at least 2 studies, got k = {res.k}")
    level = res.level if level is None else check_level(level)
    if isinstance(bass, bool) or not isinstance(bass, (int, float, np.number)) \
            or not np.isfinite(bass):
        raise InputError(f"field 'bass': a number expected, got {bass!r}")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        raise InputError(f"field 'reps': an integer >= 2 expected, got {reps!r}")
    z = rstandard(res)["z"].to_numpy(float)
    z = np.sort(z[np.isfinite(z)])
    x = stats.norm.ppf(plotting_positions(len(z)))
    created = ax is None
    fig, ax = st.new_figure(ax, 4.8, 4.6)
    if created:
        fig.subplots_adjust(left=0.15, right=0.95, bottom=0.12, top=0.93)
    ys = [z]
    if envelope:
        lower, upper = simulated_envelope(res, level, bonferroni, int(reps), seed)
        ex = stats.norm.ppf(plotting_positions(res.k))
        for values, gid in ((lower, "envelope-lower"), (upper, "envelope-upper")):
            lx, ly = super_smoother(ex, values, bass=bass) if smooth else (ex, values)
            ax.plot(lx, ly, color=st.INK, linestyle=":", linewidth=1.0, gid=gid)
        ys += [lower, upper]
    xlim = st.padded_range(x, 0.08)
    ylim = st.padded_range(np.concatenate(ys), 0.08)
    ends = [max(xlim[0], ylim[0]), min(xlim[1], ylim[1])]
    ax.plot(ends, ends, color=st.GUIDE_COLOR, linewidth=1.0, gid="reference-line")
    ax.scatter(x, z, s=22, color=st.STUDY_COLOR, zorder=3, gid="residual-markers")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    st.style_axes(ax)
    ax.set_xlabel("Theoretical quantiles")
    ax.set_ylabel("Sample quantiles (standardised residuals)")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold")
    return st.finish(fig, save)


def simulated_envelope(res: MetaAnalysisResult, level: float, bonferroni: bool = False,
                       reps: int = 1000, seed: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper envelope of :func:`qqnorm_plot` (k values each, by order)."""
    k = res.k
    rng = np.random.default_rng(seed)
    resid = (np.eye(k) - hat_matrix(res)) @ rng.standard_normal((k, reps))
    ordered = np.sort(resid, axis=0)
    alpha = (1 - level) / (k if bonferroni else 1)
    lower: np.ndarray = np.quantile(ordered, alpha / 2, axis=1)
    upper: np.ndarray = np.quantile(ordered, 1 - alpha / 2, axis=1)
    return lower, upper
