"""Profile plot: the (restricted) log-likelihood of a fit against fixed values of tau²
(metafor ``plot.profile.rma``)."""
from __future__ import annotations

import os

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

import metaverdict.report.plots._style as st
from metaverdict._validation import check_level
from metaverdict.diagnostics.profile import LikelihoodProfile
from metaverdict.errors import InputError

_SYMBOLS = {"sigma2": "\u03c3\u00b2", "tau2": "\u03c4\u00b2", "gamma2": "\u03b3\u00b2",
            "rho": "\u03c1", "phi": "\u03c6"}


def parameter_label(name: str) -> str:
    """Axis label of a profiled parameter: ``"tau2"`` -> τ², ``"sigma2.1"`` -> σ² (1),
    ``"rho.1.2"`` -> ρ (1.2)."""
    base, _, index = name.partition(".")
    symbol = _SYMBOLS.get(base, base)
    return f"{symbol} ({index})" if index else symbol


@st.axes_docstring
def profile_plot(profile: LikelihoodProfile, *, cline: bool = False, level: float = 0.95,
                 title: str | None = None, ax: Axes | None = None,
                 save: str | os.PathLike[str] | None = None) -> Figure:
    """Draw the log-likelihood profile of tau² (or of a multivariate model's component) from
    :func:`metaverdict.likelihood_profile`.

    The profile values are joined by a line; dotted lines mark the fit's value and its
    log-likelihood. A profile that is flat, has a second peak, or rises above the fit's
    value shows that the estimate is poorly determined, or not the maximum. With ``cline``,
    a dashed line at :math:`\\ell_{max} - \\chi^2_{1,level}/2`: where the profile crosses it
    are the bounds of the profile-likelihood CI (for ML and REML fits).

    Parameters
    ----------
    profile : LikelihoodProfile
    cline : bool
        Draw the line at the critical value.
    level : float
        Confidence level of that line.
    %(axes)s
    """
    if not isinstance(profile, LikelihoodProfile):
        raise InputError("profile_plot() needs the result of metaverdict.likelihood_profile(), "
                         f"got a {type(profile).__name__}")
    level = check_level(level)
    table = profile.table
    x, y = table[profile.parameter].to_numpy(float), table["ll"].to_numpy(float)
    created = ax is None
    fig, ax = st.new_figure(ax, 5.6, 4.4)
    if created:
        fig.subplots_adjust(left=0.15, right=0.96, bottom=0.12, top=0.93)
    ax.plot(x, y, color=st.STUDY_COLOR, linewidth=1.2, marker="o", markersize=3.5,
            gid="profile-line")
    ax.axvline(profile.value_hat, color=st.GUIDE_COLOR, linestyle=":", linewidth=1.0,
               gid="estimate-line")
    ax.axhline(profile.ll_max, color=st.GUIDE_COLOR, linestyle=":", linewidth=1.0,
               gid="maximum-line")
    if cline:
        ax.axhline(profile.ll_max - stats.chi2.ppf(level, 1) / 2, color=st.PI_COLOR,
                   linestyle="--", linewidth=1.0, gid="critical-line")
    finite = np.isfinite(y)
    if finite.any():
        lo = min(float(np.min(y[finite])), profile.ll_max)
        if cline:
            lo = min(lo, profile.ll_max - stats.chi2.ppf(level, 1) / 2)
        hi = max(float(np.max(y[finite])), profile.ll_max)
        ax.set_ylim(lo - 0.1, hi + 0.1)          # metafor's margins
    st.style_axes(ax)
    ax.set_xlabel(parameter_label(profile.parameter))
    ax.set_ylabel(f"{'Restricted log' if profile.likelihood == 'REML' else 'Log'}-likelihood")
    if title:
        ax.set_title(title, fontsize=st.FONT_SIZE + 1, fontweight="bold")
    return st.finish(fig, save)
