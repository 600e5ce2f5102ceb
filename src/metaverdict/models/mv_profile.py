r"""Profile-likelihood confidence intervals of the variance components and correlations of a
multivariate model (metafor ``confint.rma.mv``).

For each parameter :math:`\psi_j` the bounds are the values where
:math:`2[\ell(\hat\theta) - \max_{\theta_{-j}}\ell(\psi_j, \theta_{-j})] = \chi^2_{1,\,level}`,
searched within the parameter's range (variances :math:`[0, \infty)`, correlations
:math:`[-1, 1]`, CAR correlations :math:`[0, 1]`); where the profile does not fall that far
within the range, the bound is the end of the range (as metafor reports it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from metaverdict._validation import check_level
from metaverdict.errors import ConvergenceError, InputError
from metaverdict.models.intervals import (
    ProfileCI,
    profile_bound,
    profile_frame,
    profiled_parameter,
)
from metaverdict.models.multilevel import _profile_ci
from metaverdict.models.multivariate import MultivariateResult, fit_multivariate
from metaverdict.models.mv_likelihood import evaluate, maximise
from metaverdict.models.mv_structures import PARAMETER_RANGE
from metaverdict.models.random_effects import chi2_quantile


@dataclass(frozen=True, eq=False, repr=False)
class ComponentCI(ProfileCI):
    """Profile-likelihood CIs of a multivariate fit: ``table`` has one row per variance
    component or correlation (``estimate``, ``ci_lower``, ``ci_upper``; a copy on each
    access)."""


def profile_ci(res: MultivariateResult, level: float = 0.95) -> ComponentCI:
    """Profile-likelihood CI of every estimated variance component and correlation of
    ``res`` (components held fixed have none, as in metafor)."""
    level = check_level(level)
    model = res._model
    if model.terms and all(not t.structured and t.R is None for t in model.terms):
        return _intercepts_profile(res, level)
    est = np.array(res._values, dtype=float)
    ll_max = evaluate(model, est, gradient=False).ll
    drop = chi2_quantile(level, 1) / 2
    held = model.held
    estimated = np.flatnonzero(~held)
    rows = []
    for j in estimated.tolist():
        free = estimated[estimated != j]
        state = {"start": est.copy()}

        def excess(x: float, j: int = j, free: np.ndarray = free,
                   state: dict[str, np.ndarray] = state) -> float:
            start = state["start"].copy()
            start[j] = x
            if free.size:
                try:
                    opt = maximise(model, start, free, polish=False)
                except ConvergenceError:
                    return float("inf")
                state["start"] = opt.values
                ll = opt.evaluation.ll
            else:
                ll = evaluate(model, start, gradient=False).ll
            return float(ll_max - ll - drop) if np.isfinite(ll) else float("inf")

        lo_end, hi_end = PARAMETER_RANGE[model.kinds[j]]
        e = est[j]
        lower = _root(excess, e, lo_end, state, est)
        if np.isinf(hi_end):
            hi_end = _expand(excess, e, state, est)
        upper = _root(excess, e, hi_end, state, est)
        rows.append((e, lower, upper))
    names = [n for n, h in zip(res.components.index, held) if not h]
    table = pd.DataFrame(rows, columns=["estimate", "ci_lower", "ci_upper"],
                         index=pd.Index(names, name="component"))
    return ComponentCI(level=level, _table=table)


def _root(f: Callable[[float], float], est: float, end: float,
          state: dict[str, np.ndarray], start: np.ndarray) -> float:
    """The bound between ``est`` and ``end`` (see
    :func:`~metaverdict.models.intervals.profile_bound`; correlations are evaluated just
    inside -1 and 1, and reported there)."""
    edge = end - 1e-10 * np.sign(end - est) if end in (-1.0, 1.0) else end

    def reset() -> None:
        state["start"] = start.copy()

    bound = profile_bound(f, est, edge, reset)
    return float(end) if bound == edge else bound


def _expand(f: Callable[[float], float], est: float, state: dict[str, np.ndarray],
            start: np.ndarray) -> float:
    hi = max(2 * est, 1e-4)
    for _ in range(80):
        state["start"] = start.copy()
        if f(hi) > 0:
            return hi
        hi *= 2
    return float("nan")


def _intercepts_profile(res: MultivariateResult, level: float) -> ComponentCI:
    """Plain random intercepts: the profile of :func:`metaverdict.models.multilevel` (the
    same scoring engine as the fit, exact zeros at the lower bound)."""
    model = res._model
    codes = np.column_stack([t.Z.argmax(axis=1) for t in model.terms])
    view = SimpleNamespace(yi=model.y, V=model.V, design=model.X, cluster_codes=codes,
                           method=res.method, sigma2=np.array(res._values),
                           s_names=list(res.components.index))
    table = _profile_ci(view, level, model.held).table  # type: ignore[arg-type]
    table = table.rename(columns={"sigma2": "estimate"})
    return ComponentCI(level=level, _table=table)


# ----------------------------------------------------------------------------- profile curve

def profile_values(res: MultivariateResult, component: str | None, steps: int,
                   xlim: tuple[float, float] | None
                   ) -> tuple[str, float, tuple[float, float], pd.DataFrame]:
    """The rows of the likelihood profile of one estimated ``component`` of ``res`` (a name
    of ``res.components``; may be omitted when only one is estimated): the model refitted
    with it fixed at ``steps`` values over ``xlim`` (default metafor's: variances from
    max(0, v/4) to max(0.1, 4v); correlations v ± 0.5 within (-0.99999, 0.99999), CAR
    correlations within [0, 0.99999)). Returns the name, the fitted value, the range and the
    table (see :class:`metaverdict.diagnostics.profile.LikelihoodProfile`)."""
    model = res._model
    comps = res.components
    component = profiled_parameter(
        component, [str(n) for n, fixed in zip(comps.index, comps["fixed"]) if not fixed],
        "variance component")
    j = list(comps.index).index(component)
    kind, value = model.kinds[j], float(res._values[j])
    lo_end, hi_end = PARAMETER_RANGE[kind]
    if xlim is None:
        if kind == "var":
            xlim = (max(0.0, value / 4), max(0.1, value * 4))
        else:
            xlim = (max(-0.99999 if kind == "cor" else 0.0, value - 0.5),
                    min(0.99999, value + 0.5))
    elif not (lo_end <= xlim[0] and xlim[1] <= hi_end):
        raise InputError(f"field 'xlim': {component} ranges over [{lo_end:g}, {hi_end:g}]")
    names = list(res.terms)
    points: list[tuple[float, float, pd.DataFrame | None]] = []
    for x in np.linspace(xlim[0], xlim[1], steps):
        fixed = model.fixed.copy() if model.fixed is not None else np.full(model.n_params,
                                                                            np.nan)
        fixed[j] = x
        start = np.array(res._values, dtype=float)
        start[j] = x
        try:
            fit = fit_multivariate(replace(model, fixed=fixed), names, method=res.method,
                                   test=res.test, level=res.level, labels=res.labels,
                                   start=start, dfs=res.dfs,
                                   ddf=np.array(res.ddf) if res.dfs == "given" else None)
        except (ConvergenceError, InputError, np.linalg.LinAlgError, ValueError):
            points.append((float(x), np.nan, None))
            continue
        stats = fit.fit_statistics
        points.append((float(x), stats.ll_reml if res.method == "REML" else stats.ll_ml,
                       fit.coefficients))
    return component, value, (float(xlim[0]), float(xlim[1])), profile_frame(
        component, names, points)
