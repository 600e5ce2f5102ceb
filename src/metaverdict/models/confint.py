"""Q-profile confidence interval for tau² (Viechtbauer 2007, *Stat Med* 26:37-52).

The generalised Q statistic :math:`Q(\\tau^2) = \\sum_i w_i (y_i - \\hat\\mu_w)^2` with
:math:`w_i = 1/(v_i+\\tau^2)` is decreasing in tau² and follows :math:`\\chi^2_{k-p}` at the true
value, so the bounds solve :math:`Q(\\tau^2_{lo}) = \\chi^2_{k-p,\\,1-\\alpha/2}` and
:math:`Q(\\tau^2_{hi}) = \\chi^2_{k-p,\\,\\alpha/2}` (a bound is 0 when Q(0) is already below its
quantile). Intervals for tau, I² and H² follow by monotone transformation with the typical
within-study variance of the fit.

For GENQ and GENQM fits the interval is the generalised Q-profile one (Jackson 2013, *Res Synth
Methods* 4:220-229; metafor's ``confint`` of these fits): with the fit's weights a (default
1/v) the bounds are where :math:`\\Pr(Q_a(\\tau^2) > Q_{a,obs})` equals :math:`\\alpha/2` and
:math:`1 - \\alpha/2`, the exact distribution of :math:`Q_a` being a weighted sum of
chi-squares (:mod:`metaverdict.models.quadform`).
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import optimize

from metaverdict._validation import check_level
from metaverdict.errors import InputError
from metaverdict.models.intervals import HeterogeneityCI, Interval
from metaverdict.models.projection import Design
from metaverdict.models.quadform import generalised_q_root
from metaverdict.models.random_effects import (
    SolverControl,
    chi2_quantile,
    log_likelihood,
    q_profile_equation,
    solve_decreasing,
)


@runtime_checkable
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
    def user_weights(self) -> np.ndarray | None: ...
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
    _require_fit(res, "q_profile")
    level = check_level(level)
    if res.is_common_effect:
        raise InputError(f"a {res.method} model has no tau²; fit a random-effects model for its CI")
    _require_estimated(res)
    k, p = res.k, res.p
    if k - p < 1:
        raise InputError(f"a CI for tau² needs more studies than coefficients (k = {k}, p = {p})")
    alpha = 1 - level
    if res.method in ("GENQ", "GENQM"):
        a = 1 / res.vi if res.user_weights is None else res.user_weights
        lo, hi = (generalised_q_root(res.yi, res.vi, a, res.design, prob)
                  for prob in (alpha / 2, 1 - alpha / 2))
        return _intervals(res, level, lo, hi)
    targets = np.array([chi2_quantile(1 - alpha / 2, k - p), chi2_quantile(alpha / 2, k - p)])
    design = Design(None if res.design is None
                    else np.broadcast_to(res.design, (2,) + res.design.shape))
    y = np.broadcast_to(res.yi - res.yi.mean(), (2, k))
    v = np.broadcast_to(res.vi, (2, k))
    bounds, _, _ = solve_decreasing(q_profile_equation(y, v, design, targets), np.zeros(2),
                                    _CONTROL)
    lo, hi = (float(b) for b in bounds)
    return _intervals(res, level, lo, hi)


def _intervals(res: HeterogeneityFit, level: float, lo: float, hi: float) -> HeterogeneityCI:
    """The CIs of tau², tau, I² and H² from the bounds ``lo``, ``hi`` of tau²."""
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


#: Key under which a fit records (``derived``) that its tau² was given, not estimated.
TAU2_FIXED = "tau2_fixed"


def tau2_is_fixed(res: Any) -> bool:
    """Whether ``res`` was fitted with a fixed tau² (``meta_analysis(..., tau2=)``)."""
    derived = getattr(res, "derived", None)
    return bool(derived(TAU2_FIXED, lambda: False)) if derived is not None else False


def _require_fit(res: Any, what: str) -> None:
    """InputError naming ``what`` and the type of ``res`` unless it is a univariate fit (has
    every attribute of :class:`HeterogeneityFit`)."""
    if not isinstance(res, HeterogeneityFit):
        raise InputError(f"{what}() does not apply to a {type(res).__name__}; it needs a "
                         "MetaAnalysisResult")


def _require_estimated(res: HeterogeneityFit) -> None:
    if tau2_is_fixed(res):
        raise InputError("tau² was fixed (tau2=), not estimated: the model has no CI for it "
                         "(metafor: 'Model does not contain an estimated random-effects "
                         "component')")


def profile_likelihood(res: HeterogeneityFit, level: float) -> HeterogeneityCI:
    r"""Profile-likelihood confidence intervals for tau² (and tau, I², H²) of an ML or REML fit
    (metafor ``confint(..., type="PL")``).

    The bounds are the values of tau² where the likelihood-ratio statistic
    :math:`-2\,[\ell(\tau^2) - \ell(\hat\tau^2)]`, with the coefficients profiled out (the
    (restricted) log-likelihood :func:`~metaverdict.models.random_effects.log_likelihood` of the
    fit's method), equals :math:`\chi^2_{1,\,level}`; the lower bound is 0 when the statistic
    at 0 is below it. Found by Brent's method (``scipy.optimize.brentq``) to 1e-15 relative.

    Raises
    ------
    InputError
        A fit other than ML or REML, a fixed tau², user weights, ``level`` outside (0, 1), or
        no more studies than coefficients.

    References
    ----------
    Hardy RJ, Thompson SG (1996). A likelihood approach to meta-analysis with random effects.
    *Stat Med* 15:619-629.
    """
    _require_fit(res, "profile_likelihood")
    level = check_level(level)
    if res.method not in ("ML", "REML"):
        raise InputError(f"the profile-likelihood CI for tau² needs an ML or REML fit, "
                         f"not {res.method}")
    _require_estimated(res)
    if res.user_weights is not None:
        raise InputError("the profile-likelihood CI for tau² is not defined for fits with "
                         "user weights")
    k, p = res.k, res.p
    if k - p < 1:
        raise InputError(f"a CI for tau² needs more studies than coefficients (k = {k}, p = {p})")
    design = Design(None if res.design is None else res.design[None])
    y, v = (res.yi - res.yi.mean())[None], np.asarray(res.vi)[None]

    def ll(t: float) -> float:
        return float(log_likelihood(res.method, np.array([t]), y, v, design)[0])

    ll_hat = ll(res.tau2)
    crit = chi2_quantile(level, 1)

    def excess(t: float) -> float:          # < 0 inside the interval, > 0 outside
        return -2 * (ll(t) - ll_hat) - crit

    tol = dict(xtol=1e-300, rtol=1e-15, maxiter=1000)
    lo = 0.0 if excess(0.0) <= 0 else float(optimize.brentq(excess, 0.0, res.tau2, **tol))
    hi = max(res.tau2, float(np.min(res.vi)))
    while excess(hi) <= 0:
        hi *= 2
    up = float(optimize.brentq(excess, res.tau2, hi, **tol))
    return _intervals(res, level, lo, up)
