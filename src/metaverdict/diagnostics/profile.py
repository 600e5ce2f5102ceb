"""The log-likelihood profile of tau² (metafor ``profile.rma.uni``), or of one variance
component or correlation of a multivariate model (``profile.rma.mv``): the model refitted
with that parameter fixed at a range of values."""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metaverdict._results import TableResult, fmt
from metaverdict.diagnostics._refit import refit, require_result
from metaverdict.errors import InputError
from metaverdict.models.intervals import profile_frame
from metaverdict.models.location_scale import LocationScaleResult
from metaverdict.models.location_scale import profile_values as ls_profile_values
from metaverdict.models.multilevel import MultilevelResult
from metaverdict.models.multilevel import profile_values as ml_profile_values
from metaverdict.models.multivariate import MultivariateResult
from metaverdict.models.mv_profile import profile_values
from metaverdict.models.random_effects import COMMON_EFFECT
from metaverdict.models.results import MetaAnalysisResult
from metaverdict.models.selection import SelectionModelResult
from metaverdict.models.selection import profile_values as selection_profile_values

#: A profile value this much above the fit's log-likelihood means the fit is not the maximum.
LL_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False, repr=False)
class LikelihoodProfile(TableResult):
    """The log-likelihood of a fit with one parameter (tau², or a component of a
    multivariate model) fixed at ``steps`` values.

    ``table`` (a new DataFrame on each access) has one row per value: the ``parameter``
    (column ``tau2``, ``sigma2.1``, ``rho``, ...), ``ll`` (the REML log-likelihood for a REML
    fit, the ML one otherwise, as metafor's ``logLik``) and, per coefficient, its estimate and
    CI at that value (``estimate``, ``ci_lower``, ``ci_upper`` for a single coefficient; else
    ``<term>``, ``<term>_ci_lower``, ``<term>_ci_upper``); NaN where a refit failed.
    ``value_hat`` (``tau2_hat`` for tau²) and ``ll_max`` are the fit's own values,
    ``likelihood`` says which log-likelihood is shown.
    """

    method: str
    likelihood: str
    value_hat: float
    ll_max: float
    xlim: tuple[float, float]
    _table: pd.DataFrame
    parameter: str = "tau2"
    _repr_fields = ("method", "likelihood", "parameter", "value_hat", "ll_max")

    @property
    def tau2_hat(self) -> float:
        """The fitted value of the profiled parameter (tau² for a univariate fit)."""
        return self.value_hat

    def summary(self) -> str:
        t = self._table
        name = self.parameter
        best = int(np.nanargmax(t["ll"].to_numpy())) if t["ll"].notna().any() else 0
        top, at = float(t["ll"].iloc[best]), float(t[name].iloc[best])
        return (f"{self.likelihood} log-likelihood profile of {name} ({self.method} fit): "
                f"{len(t)} values from {fmt(self.xlim[0])} to {fmt(self.xlim[1])}; fit "
                f"{name} = {fmt(self.value_hat)}, ll = {fmt(self.ll_max)}; highest profile "
                f"value {fmt(top)} at {name} = {fmt(at)}")


def likelihood_profile(res: MetaAnalysisResult | MultivariateResult | MultilevelResult
                       | SelectionModelResult | LocationScaleResult, steps: int = 20,
                       xlim: Sequence[float] | None = None, component: str | None = None
                       ) -> LikelihoodProfile:
    """Refit ``res`` with tau² fixed at ``steps`` equally spaced values (metafor ``profile``);
    for a multivariate fit, with one of its estimated variance components or correlations
    fixed, the others estimated (metafor ``profile.rma.mv``; range and details in
    :func:`metaverdict.models.mv_profile.profile_values`; a multilevel fit likewise,
    :func:`metaverdict.models.multilevel.profile_values`); for a selection model, with tau²
    or one selection parameter fixed (metafor ``profile.rma.uni.selmodel``;
    :func:`metaverdict.models.selection.profile_values`); for a location-scale model (log
    link), with one scale coefficient fixed (metafor ``profile.rma.ls``;
    :func:`metaverdict.models.location_scale.profile_values`).

    The default range is metafor's: from the smaller of tau² and the lower bound of its
    Q-profile CI to the largest of 0.1, tau² and the upper bound (where that CI cannot be
    computed, tau² ± 1.96 SE, then tau²/4 to 4 tau², each kept at >= 0 and >= 0.1 at the top).
    Each refit keeps the estimator's likelihood, test, level and weights. For an ML or REML fit
    a profile value above the fit's log-likelihood (by more than :data:`LL_TOLERANCE`) means
    that the fit is not the maximum: a warning says so.

    Parameters
    ----------
    res : MetaAnalysisResult, MultivariateResult, MultilevelResult, SelectionModelResult or
          LocationScaleResult
        A random-effects fit (a meta-regression too), a multivariate, multilevel, selection
        or location-scale model.
    steps : int
        Number of values (>= 2).
    xlim : pair of float, optional
        The range of tau² (both >= 0), or of the component (within its range).
    component : str, optional
        Multivariate fits: the component to profile, a name of ``res.components``
        (``"sigma2.1"``, ``"tau2.2"``, ``"rho"``, ...); multilevel fits ``"sigma2.<l>"``
        (``"sigma2"`` with one level); selection models: ``"tau2"`` or a
        δ name (``res.estimated_parameters``); location-scale models: ``"alpha.<term>"``;
        needed when several are estimated.

    Returns
    -------
    LikelihoodProfile

    Raises
    ------
    InputError
        Another result type, a common-effect fit, ``steps`` < 2, a bad ``xlim``, or a
        component that the multivariate model does not estimate.

    Examples
    --------
    >>> import metaverdict as mv
    >>> res = mv.meta_analysis([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.015, 0.01, 0.03])
    >>> prof = mv.likelihood_profile(res, steps=5, xlim=(0, 0.1))
    >>> prof.table[["tau2", "ll", "estimate"]].round(4)
        tau2      ll  estimate
    0  0.000 -0.6555    0.2810
    1  0.025  0.6693    0.3154
    2  0.050  0.4747    0.3242
    3  0.075  0.1781    0.3283
    4  0.100 -0.1086    0.3308
    """
    require_result(res, "likelihood_profile", MetaAnalysisResult, MultivariateResult,
                   MultilevelResult, SelectionModelResult, LocationScaleResult)
    _check_steps(steps)
    if isinstance(res, (MultivariateResult, MultilevelResult, SelectionModelResult,
                        LocationScaleResult)):
        return _component_profile(res, int(steps), xlim, component)
    if component is not None:
        raise InputError("field 'component': a univariate fit profiles tau²; leave it out")
    if res.method in COMMON_EFFECT:
        raise InputError(f"likelihood_profile() needs a random-effects fit; a {res.method} fit "
                         "has no tau² to profile")
    lo, hi = _default_range(res) if xlim is None else _check_xlim(xlim)
    grid = np.linspace(lo, hi, int(steps))
    reml = res.method == "REML"
    X = None if res.design is None else np.asarray(res.design, dtype=float)
    points: list[tuple[float, float, pd.DataFrame | None]] = []
    for t in grid:
        try:
            fit = refit(res, res.yi, res.vi, X=X, names=list(res.terms),
                        weights=res.user_weights, labels=res.labels, tau2=float(t))
        except InputError:
            points.append((float(t), math.nan, None))
            continue
        stats = fit.fit_statistics
        points.append((float(t), stats.ll_reml if reml else stats.ll_ml, fit.coefficients))
    table = profile_frame("tau2", list(res.terms), points)
    ll_max = res.fit_statistics.ll_reml if reml else res.fit_statistics.ll_ml
    if res.method in ("ML", "REML"):
        _warn_above(table, ll_max)
    return LikelihoodProfile(method=res.method, likelihood="REML" if reml else "ML",
                             value_hat=float(res.tau2), ll_max=float(ll_max),
                             xlim=(float(lo), float(hi)), _table=table)


def _component_profile(res: MultivariateResult | MultilevelResult | SelectionModelResult
                       | LocationScaleResult, steps: int, xlim: Sequence[float] | None,
                       component: str | None) -> LikelihoodProfile:
    lower = -math.inf if isinstance(res, LocationScaleResult) else -1.0
    limits = None if xlim is None else _check_xlim(xlim, lower=lower)
    if isinstance(res, (MultivariateResult, MultilevelResult, LocationScaleResult)):
        if isinstance(res, MultivariateResult):
            name, value, limits, table = profile_values(res, component, steps, limits)
        elif isinstance(res, MultilevelResult):
            name, value, limits, table = ml_profile_values(res, component, steps, limits)
        else:
            name, value, limits, table = ls_profile_values(res, component, steps, limits)
        stats = res.fit_statistics
        ll_max = float(stats.ll_reml if res.method == "REML" else stats.ll_ml)
        method = res.method
    else:
        name, value, limits, table = selection_profile_values(res, component, steps, limits)
        ll_max, method = res.loglik, "ML"
    _warn_above(table, ll_max)
    return LikelihoodProfile(method=method, likelihood=method, value_hat=value,
                             ll_max=ll_max, xlim=limits, _table=table, parameter=name)


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise InputError(f"field 'steps': an integer >= 2 expected, got {steps!r}")


def _warn_above(table: pd.DataFrame, ll_max: float) -> None:
    if (table["ll"] > ll_max + LL_TOLERANCE).any():
        warnings.warn("a profiled log-likelihood is larger than that of the fitted model: the "
                      "fit is not the maximum of the likelihood", UserWarning, stacklevel=3)


def _default_range(res: MetaAnalysisResult) -> tuple[float, float]:
    """metafor's range: the Q-profile CI widened to hold tau² (and 0.1 at the top), else the
    Wald interval, else tau²/4 to 4 tau²."""
    t2 = float(res.tau2)
    try:
        lo_ci, hi_ci = res.tau2_ci()
    except InputError:
        lo_ci = hi_ci = math.nan
    if math.isfinite(lo_ci) and math.isfinite(hi_ci):
        return min(t2, lo_ci), max(0.1, t2, hi_ci)
    se = float(res.tau2_se)
    if math.isfinite(se):
        return max(0.0, t2 - 1.96 * se), max(0.1, t2 + 1.96 * se)
    return max(0.0, t2 / 4), max(0.1, t2 * 4)


def _check_xlim(xlim: Sequence[float], lower: float = 0.0) -> tuple[float, float]:
    try:
        values = [float(x) for x in xlim]
    except (TypeError, ValueError):
        raise InputError(f"field 'xlim': two numbers expected, got {xlim!r}") from None
    if len(values) != 2 or not all(math.isfinite(x) and x >= lower for x in values) \
            or values[0] == values[1]:
        raise InputError(f"field 'xlim': two different finite values >= {lower:g} expected, "
                         f"got {xlim!r}")
    lo, hi = sorted(values)
    return lo, hi
