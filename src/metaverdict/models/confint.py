"""Q-profile confidence interval for tau² (Viechtbauer 2007, *Stat Med* 26:37-52).

The generalised Q statistic :math:`Q(\\tau^2) = \\sum_i w_i (y_i - \\hat\\mu_w)^2` with
:math:`w_i = 1/(v_i+\\tau^2)` is decreasing in tau² and follows :math:`\\chi^2_{k-p}` at the true
value, so the bounds solve :math:`Q(\\tau^2_{lo}) = \\chi^2_{k-p,\\,1-\\alpha/2}` and
:math:`Q(\\tau^2_{hi}) = \\chi^2_{k-p,\\,\\alpha/2}` (a bound is 0 when Q(0) is already below its
quantile). Intervals for tau, I² and H² follow by monotone transformation with the typical
within-study variance of the fit.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from metaverdict._validation import check_level
from metaverdict.errors import InputError
from metaverdict.models.intervals import HeterogeneityCI, Interval
from metaverdict.models.projection import Design
from metaverdict.models.random_effects import (
    SolverControl,
    chi2_quantile,
    q_profile_equation,
    solve_decreasing,
)


class HeterogeneityFit(Protocol):
    """What :func:`q_profile` reads of a fit (a
    :class:`~metaverdict.models.results.MetaAnalysisResult`)."""

    @property
    def method(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def p(self) -> int: ...
    @property
    def is_common_effect(self) -> bool: ...
    @property
    def yi(self) -> np.ndarray: ...
    @property
    def vi(self) -> np.ndarray: ...
    @property
    def design(self) -> np.ndarray | None: ...
    @property
    def tau2(self) -> float: ...
    @property
    def i2(self) -> float: ...
    @property
    def h2(self) -> float: ...
    @property
    def typical_vi(self) -> float: ...


_CONTROL = SolverControl(tol=1e-14, max_iter=1000, scale_free=True)


def q_profile(res: HeterogeneityFit, level: float) -> HeterogeneityCI:
    """Q-profile intervals for a fitted model (see module docstring); ``level`` must be in
    (0, 1) (InputError otherwise)."""
    level = check_level(level)
    if res.is_common_effect:
        raise InputError(f"a {res.method} model has no tau²; fit a random-effects model for its CI")
    if res.method == "GENQ":
        raise InputError("the Q-profile CI does not apply to GENQ fits with user weights")
    k, p = res.k, res.p
    if k - p < 1:
        raise InputError(f"a CI for tau² needs more studies than coefficients (k = {k}, p = {p})")
    alpha = 1 - level
    targets = np.array([chi2_quantile(1 - alpha / 2, k - p), chi2_quantile(alpha / 2, k - p)])
    design = Design(None if res.design is None
                    else np.broadcast_to(res.design, (2,) + res.design.shape))
    y = np.broadcast_to(res.yi - res.yi.mean(), (2, k))
    v = np.broadcast_to(res.vi, (2, k))
    bounds, _, _ = solve_decreasing(q_profile_equation(y, v, design, targets), np.zeros(2),
                                    _CONTROL)
    lo, hi = (float(b) for b in bounds)
    vt = res.typical_vi

    def i2(t: float) -> float:          # tiny monotone maps
        return 100 * t / (vt + t)

    def h2(t: float) -> float:
        return t / vt + 1

    return HeterogeneityCI(
        level=level,
        tau2=Interval(res.tau2, lo, hi),
        tau=Interval(float(np.sqrt(res.tau2)), float(np.sqrt(lo)), float(np.sqrt(hi))),
        i2=Interval(res.i2, i2(lo), i2(hi)),
        h2=Interval(res.h2, h2(lo), h2(hi)),
    )
