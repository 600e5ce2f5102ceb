"""Estimators of the between-study variance tau² as array kernels over a leading batch axis.

Every estimator takes ``y`` and ``v`` of shape ``(batch, k)`` (any array-API library for the
intercept-only design) and returns a :class:`Tau2Fit` of ``(batch,)`` arrays. A single
meta-analysis is a batch of one; :mod:`metaverdict.batch` calls the same functions on many.

Estimators (``k`` studies, ``p`` coefficients, ``P`` as in :mod:`.projection`; each truncated at 0):

======  ===========================================================  =========================
method  estimate                                                     reference
======  ===========================================================  =========================
EE, FE  0 (common effect)
DL      (y'Py - (k-p)) / tr P, with w = 1/v                          DerSimonian & Laird 1986
HE      (y'P₁y - tr P₁V) / (k-p), with unweighted P₁                 Hedges 1983
HS      (y'Py - k) / Σw                                              Hunter & Schmidt 2004
HSk     (k/(k-p) y'Py - k) / Σw                                      Brannick et al. 2019
SJ      τ₀² y'Py / (k-p), w = 1/(v + τ₀²), τ₀² = Σ(y - ȳ)²/k         Sidik & Jonkman 2005
GENQ    (y'P_a y - tr P_a V) / tr P_a, user weights a (default 1/v)  DerSimonian & Kacker 2007
GENQM   root of Pr(Q_a(τ²) > y'P_a y) = 1/2 (:mod:`.quadform`)         DerSimonian & Kacker 2007
ML      root of y'P²y = tr W   (Fisher scoring)                      Hardy & Thompson 1996
REML    root of y'P²y = tr P   (Fisher scoring)                      Viechtbauer 2005
EB      root of k/(k-p) y'Py = k (equals PM)                         Morris 1983
PM      root of y'Py = k - p,  w = 1/(v + τ²)                        Paule & Mandel 1982
PMM     root of y'Py = median of χ²(k-p)                             Viechtbauer 2021
DLIT    fixed point of τ² = (y'Py - (k-p)) / tr P, w = 1/(v + τ²)    DerSimonian & Kacker 2007
SJIT    fixed point of τ² = τ² y'Py / (k-p), w = 1/(v + τ²)           Sidik & Jonkman 2005
======  ===========================================================  =========================

Standard errors of tau² follow metafor (``se.tau2``).

Iterative estimators start where metafor starts (the HE estimate) and take Fisher-scoring
steps with step halving at the boundary; analyses whose iteration has not settled after
``max_iter`` steps switch to a safeguarded root search (Newton steps inside a bracket kept by
the sign of the estimating equation, bisection when a step leaves it), which cannot fail to
converge: the estimating equations are positive at the lower end of the bracket and negative
for large tau². Every analysis in a batch carries its own convergence flag and iteration count.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
from array_api_compat import device, is_cupy_array, is_numpy_array, is_torch_array
from scipy import special

from metaverdict.errors import InputError
from metaverdict.models import formulas
from metaverdict.models.backend import NUMPY, namespace
from metaverdict.models.projection import (
    Design,
    DesignProjection,
    InterceptProjection,
    reference_point,
    row_sum,
)
from metaverdict.models.quadform import generalised_q_root

Array = Any
_Projection = InterceptProjection | DesignProjection
#: Standard error of tau² as a function of tau².
_SeFn = Callable[[Array], Array]


class Method(StrEnum):
    """Canonical codes of the estimators (strings: ``Method.REML == "REML"``)."""

    EE = "EE"
    FE = "FE"
    DL = "DL"
    HE = "HE"
    HS = "HS"
    HSK = "HSk"
    SJ = "SJ"
    ML = "ML"
    REML = "REML"
    EB = "EB"
    PM = "PM"
    PMM = "PMM"
    GENQ = "GENQ"
    GENQM = "GENQM"
    DLIT = "DLIT"
    SJIT = "SJIT"


#: Accepted spellings (upper case; ``choice`` matches any case) and their canonical codes.
METHODS: dict[str, Method] = {"EE": Method.EE, "FE": Method.FE, "CE": Method.EE,
                              **{m.value.upper(): m for m in Method if m not in (Method.EE,
                                                                                  Method.FE)}}
COMMON_EFFECT = (Method.EE, Method.FE)


class Step(StrEnum):
    """The steps of the ML/REML/EB iteration (:attr:`SolverControl.step`)."""

    FISHER = "fisher"
    NEWTON = "newton"


class Start(StrEnum):
    """Where the ML/REML iteration starts (:attr:`SolverControl.start`)."""

    HEDGES = "hedges"
    GRID = "grid"


@dataclass(frozen=True)
class Tau2Fit:
    """tau² estimates for a batch: ``tau2``, ``se``, ``converged``, ``iterations`` (batch,);
    ``fe_projection``: the projection with weights 1/v where the estimator made it (DL, HS,
    HSk, GENQ without user weights), or its :class:`FixedWeightStats` (single ML/REML fits,
    from their likelihood grid), whose Q and tr P pooling reuses."""

    tau2: Array
    se: Array
    converged: Array
    iterations: Array
    fe_projection: Any = None


@dataclass(frozen=True)
class SolverControl:
    """Convergence settings of the iterative estimators.

    ``tol``: stop when a step changes tau² by less than ``tol * (u + tau²)``, where the unit
    ``u`` is 1, or with ``scale_free`` the smallest sampling variance of the analysis;
    ``max_iter``: Fisher-scoring steps before the bracketing search takes over (which then
    has ``max_iter`` steps of its own, each at least halving the bracket);
    ``global_search``: ML/REML likelihoods can have two maxima (one at tau² = 0); when True
    (default) the likelihood is also evaluated on a grid of :data:`GRID_POINTS` values and the
    search restarted next to any grid point that beats the maximum found from metafor's start;
    ``"screened"`` does this (and metafor's comparison with tau² = 0) only for analyses whose
    maximum found is at 0 or where 0 is itself a local maximum (score <= 0 there): cheaper
    where analyses are checked one by one (single fits, the array kernels; not the compiled
    batch kernel, which checks blocks of analyses), and it misses the rare likelihoods with
    two interior maxima;
    ``scale_free``: the safeguards for extreme data (variances from 1e-12 to 1e12): the
    stopping rule relative to the smallest sampling variance (so that rescaling y by √c and v
    by c rescales tau² exactly, and tau² of order 1e-12 is solved to full precision rather
    than to 1e-12 absolute) and a second likelihood grid for ML/REML at the scale of the
    smallest variance (the first, up to the largest variance, misses maxima when one variance
    is huge). ``None`` (default): on in single fits (:func:`metaverdict.meta_analysis`, the
    diagnostics' refits), off in the batch engine (whose compiled kernel uses the unit rule);
    ``step``: ``"fisher"`` (metafor's Fisher scoring, linear convergence) or ``"newton"``
    (Newton steps on the ML/REML score wherever the likelihood is concave there, Fisher
    scoring elsewhere: the same root in about a third of the steps; the batch engine's default);
    ``start``: ``"hedges"`` (metafor's start, the Hedges estimate; the likelihood grid is
    checked afterwards) or ``"grid"`` (one NumPy analysis with Newton steps and
    ``global_search=True``: the equation, its slope and where needed the likelihood on that
    grid locate the global maximum first, a cubic through the two grid points around it
    gives the start, and two or three Newton steps inside that bracket finish; the same
    root, in a fraction of the time; batches start from Hedges). Single fits use
    ``step="newton"`` and ``start="grid"`` unless given a control.
    """


    tol: float = 1e-12
    max_iter: int = 100
    global_search: bool | str = True
    step: str = Step.FISHER
    scale_free: bool | None = None
    start: str = Start.HEDGES


#: The default settings of single fits (:func:`single_fit_control` of ``None``): the
#: scale-free safeguards, Newton steps from the likelihood grid's best point (the root that
#: Fisher scoring from metafor's start finds, polishes with a Newton step at this ``tol`` and
#: checks against the grid, in two or three steps).
_SINGLE_FIT = SolverControl(scale_free=True, step=Step.NEWTON, start=Start.GRID)


def single_fit_control(control: SolverControl | None) -> SolverControl:
    """``control`` (default :class:`SolverControl`) with ``scale_free=None`` resolved to True,
    as :func:`metaverdict.meta_analysis` and the diagnostics use it."""
    control = control or _SINGLE_FIT
    return control if control.scale_free is not None else replace(control, scale_free=True)


def estimate_tau2(method: str, y: Array, v: Array, design: Design | None = None,
                  weights: Array | None = None,
                  control: SolverControl = SolverControl()) -> Tau2Fit:
    """Estimate tau² for every analysis of a batch.

    Parameters
    ----------
    method : str
        Canonical method code (a value of :data:`METHODS`).
    y, v : array, shape (batch, k)
        Effect sizes and their sampling variances (v > 0).
    design : Design, optional
        Moderator design; ``None`` for intercept-only models.
    weights : array, shape (batch, k), optional
        User weights for GENQ (default ``1/v``).
    control : SolverControl
        Convergence settings for ML, REML, EB, PM and PMM.

    Returns
    -------
    Tau2Fit
        tau² (truncated at 0), its standard error, convergence flags and iteration counts,
        each of shape (batch,).

    Examples
    --------
    >>> import numpy as np
    >>> fit = estimate_tau2("DL", np.array([[0.1, 0.5, 0.9]]), np.array([[0.01, 0.02, 0.01]]))
    >>> round(float(fit.tau2[0]), 4)
    0.1875
    """
    xp = namespace(y, v)
    design = design or Design()
    k, p = y.shape[-1], design.p
    zeros = xp.zeros(y.shape[:-1], dtype=y.dtype)
    if method in COMMON_EFFECT or k == 1:
        nan = xp.full(y.shape[:-1], float("nan"), dtype=y.dtype)
        return Tau2Fit(zeros, nan, zeros == 0, xp.astype(zeros, xp.int64))
    # centre y for numerical stability, as metafor does (P annihilates the intercept)
    y = y - xp.mean(y, axis=-1, keepdims=True)
    if method == Method.GENQM:
        return _genqm(y, v, design, k, p, weights, xp)
    if method in (Method.DLIT, Method.SJIT):
        return _iterated(method, y, v, design, k, p, control, xp)
    fn = _CLOSED_FORM.get(method)
    if fn is not None:
        est = fn(y, v, design, k, p, weights, xp)
        tau2 = xp.maximum(est.tau2, 0.0)
        return Tau2Fit(tau2, est.se(tau2), zeros == 0, xp.astype(zeros, xp.int64), est.fe)
    return _iterative(method, y, v, design, k, p, control, xp)


# ----------------------------------------------------------------------------- closed forms

class _ClosedFit(NamedTuple):
    """A closed-form estimate before truncation at 0, its SE as a function of tau², and the
    projection with weights 1/v where the estimator made it (else None)."""

    tau2: Array
    se: _SeFn
    fe: _Projection | None


#: A closed-form estimator ``(y, v, design, k, p, weights, xp) -> _ClosedFit``.
_ClosedForm = Callable[[Array, Array, Design, int, int, Array | None, Any], _ClosedFit]


def _dl(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
        xp: Any) -> _ClosedFit:
    """DerSimonian-Laird: (Q - (k - p)) / tr P with weights 1/v."""
    pr = design.project(1 / v, y, xp)
    return _ClosedFit(formulas.dl_tau2(pr.rss, k - p, pr.tr_p),
                      lambda t: formulas.dl_tau2_se(t, k - p, pr.tr_p, pr.ss_p), pr)


def _he(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
        xp: Any) -> _ClosedFit:
    """Hedges: (y'P₁y - tr P₁V) / (k - p) with unit weights (for the intercept-only model
    P₁ = I - J/k, whose traces are sums of v and v²)."""
    if design.X is None:
        dy = y - xp.mean(y, axis=-1, keepdims=True)
        unit: tuple[Array, Array] = formulas.intercept_unit_traces(row_sum(v, xp),
                                                                   xp.vecdot(v, v), k)
        return _ClosedFit(formulas.he_tau2(xp.vecdot(dy, dy), unit[0], k - p),
                          lambda t: formulas.he_tau2_se(t, k - p, unit[0], unit[1]), None)
    pr = design.project(xp.ones_like(v), y, xp)
    tr_pv = pr.tr_pv(v)
    return _ClosedFit(formulas.he_tau2(pr.rss, tr_pv, k - p),
                      lambda t: formulas.he_tau2_se(t, k - p, tr_pv, pr.ss_pv(v)), None)


def _hunter_schmidt(k_corrected: bool) -> _ClosedForm:
    """Hunter-Schmidt (c y'Py - k) / Σw, with c = k/(k - p) for the k-corrected version."""
    def fn(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
           xp: Any) -> _ClosedFit:
        pr = design.project(1 / v, y, xp)
        c = k / (k - p) if k_corrected else 1.0
        tau2 = (c * pr.rss - k) / pr.sum_w
        return _ClosedFit(
            tau2,
            lambda t: c * xp.sqrt(2 * (k - p) + 4 * t * pr.tr_p + 2 * t * t * pr.ss_p) / pr.sum_w,
            pr)
    return fn


def _sandwich_se(pr: _Projection, v: Array, xp: Any) -> _SeFn:
    """Common tail of the SJ and GENQ standard errors: 2 tr(PV)² + 4τ² tr(PVP) + 2τ⁴ tr(P²)."""
    ss_pv, pvp = pr.ss_pv(v), pr.pvp(v)
    return lambda t: xp.sqrt(2 * ss_pv + 4 * t * pvp + 2 * t * t * pr.ss_p)


def _sj(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
        xp: Any) -> _ClosedFit:
    """Sidik-Jonkman: τ₀² y'Py / (k - p) with w = 1/(v + τ₀²), τ₀² = Σ(y - ȳ)²/k."""
    t0 = xp.vecdot(y, y) / k                   # y is centred
    pr = design.project(1 / (v + t0[..., None]), y, xp)
    tau2 = t0 * pr.rss / (k - p)
    tail = _sandwich_se(pr, v, xp)
    return _ClosedFit(tau2, lambda t: t0 / (k - p) * tail(t), None)


def _genq(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
          xp: Any) -> _ClosedFit:
    """Generalised Q: (y'P_a y - tr P_a V) / tr P_a with weights a (default 1/v)."""
    pr = design.project(1 / v if weights is None else weights, y, xp)
    tau2 = (pr.rss - pr.tr_pv(v)) / pr.tr_p
    tail = _sandwich_se(pr, v, xp)
    return _ClosedFit(tau2, lambda t: tail(t) / pr.tr_p, pr if weights is None else None)


def _genqm(y: Array, v: Array, design: Design, k: int, p: int, weights: Array | None,
           xp: Any) -> Tau2Fit:
    """Median-unbiased generalised Q (metafor ``"GENQM"``): per analysis, the tau² at which
    the distribution of Q_a has its median at the observed y'P_a y
    (:func:`~metaverdict.models.quadform.generalised_q_root`, NumPy only); SE as for GENQ."""
    if not (is_numpy_array(y) and is_numpy_array(v)):
        raise InputError("method 'GENQM' runs on NumPy arrays only")
    a = 1 / v if weights is None else weights
    tau2 = np.array([generalised_q_root(y[i], v[i], a[i], None if design.X is None
                                        else design.X[i], 0.5) for i in range(y.shape[0])])
    pr = design.project(a, y, xp)
    se = _sandwich_se(pr, v, xp)(tau2) / pr.tr_p
    done = np.ones(tau2.shape, dtype=bool)
    return Tau2Fit(tau2, se, done, np.zeros(tau2.shape, dtype=np.int64),
                   pr if weights is None else None)


_CLOSED_FORM: dict[str, _ClosedForm] = {
    Method.DL: _dl, Method.HE: _he, Method.HS: _hunter_schmidt(False),
    Method.HSK: _hunter_schmidt(True), Method.SJ: _sj, Method.GENQ: _genq,
}


# ----------------------------------------------------------------------------- iterative

class EstimatingEquation:
    """The estimating equation of an iterative estimator for a batch, called as
    ``f(tau2) -> (value, step, projection)``.

    ``value`` is positive below the root and negative above it: the ML or REML score
    (``method`` ``"ML"``, ``"REML"``), ``k/(k-p) y'Py - k`` (``"EB"``) or ``y'Py - target``
    (``"PM"``, ``"PMM"`` and the Q-profile bounds, :func:`q_profile_equation`); ``step`` is
    metafor's Fisher-scoring adjustment (value divided by the expected information), with
    ``newton`` a Newton step where the equation decreases. ``subset(idx)`` gives the equation
    of the analyses at positions ``idx`` (the solvers shrink the batch to the analyses still
    iterating, so converged ones cost nothing).
    """

    def __init__(self, method: str, y: Array, v: Array, design: Design, k: int, p: int,
                 target: Array | float | None = None, newton: bool = False,
                 scale_free: bool = False, xp: Any = None) -> None:
        self.method, self.y, self.v, self.design, self.k, self.p = method, y, v, design, k, p
        self.target: Any = target
        self.newton, self.scale_free = newton, scale_free
        self.xp = xp or namespace(y, v)
        self._scale: Array | None = None
        self._reference: tuple[Array, Array] | None = None

    @property
    def scale(self) -> Array:
        """The unit of the convergence tolerance (``|Δτ²| <= tol (scale + τ²)``) per analysis:
        1, or with ``scale_free`` the smallest sampling variance, so that the stopping rule is
        relative and rescaling the data (y by √c, v by c) rescales the solution exactly."""
        if self._scale is None:
            xp = self.xp
            vmin = xp.min(self.v, axis=-1)
            self._scale = vmin if self.scale_free else xp.ones_like(vmin)
        return self._scale

    @property
    def reference(self) -> tuple[Array, Array] | None:
        """:func:`~metaverdict.models.projection.reference_point` of intercept-only models
        (the study with the smallest variance has the largest weight whatever tau²), found
        once; None for meta-regressions."""
        if self._reference is None and self.design.X is None:
            self._reference = reference_point(1 / self.v, self.y, self.xp)
        return self._reference

    def project(self, t: Array) -> _Projection:
        """The projection with weights ``1/(v + t)``."""
        w = 1 / (self.v + t[..., None])
        return self.design.project(w, self.y, self.xp, self.reference)

    def with_newton(self) -> EstimatingEquation:
        """The same equation taking Newton steps (sharing what was computed once)."""
        f = EstimatingEquation(self.method, self.y, self.v, self.design, self.k, self.p,
                               self.target, True, self.scale_free, self.xp)
        f._scale, f._reference = self._scale, self._reference
        return f

    def subset(self, idx: Array) -> EstimatingEquation:
        xp = self.xp
        target = self.target
        if target is not None and not isinstance(target, float) and getattr(target, "ndim", 0) > 0:
            target = xp.take(target, idx, axis=0)
        return EstimatingEquation(self.method, xp.take(self.y, idx, axis=0),
                                  xp.take(self.v, idx, axis=0), self.design.subset(idx), self.k,
                                  self.p, target, self.newton, self.scale_free, xp)

    def value_info(self, pr: _Projection) -> tuple[Array, Array]:
        """The ML or REML equation and its expected information (metafor's Fisher-scoring
        denominator) from the projection ``pr`` at some tau² (any batch shape)."""
        if self.method == Method.ML:
            return formulas.ml_equation(pr.ypy2, pr.sum_w), pr.sum_w2
        return formulas.reml_equation(pr.ypy2, pr.tr_p), pr.ss_p

    def __call__(self, t: Array) -> tuple[Array, Array, _Projection]:
        method, k, p, xp = self.method, self.k, self.p, self.xp
        pr = self.project(t)
        if method in (Method.ML, Method.REML):
            val, info = self.value_info(pr)
            if not self.newton:
                return val, formulas.fisher_step(val, info), pr
            slope = formulas.equation_slope(info, pr.ypy3)
            return val, _newton_or_fisher(xp, val, slope, info), pr
        if method == Method.EB:
            c = k / (k - p)
            val = pr.rss * c - k
            if not self.newton:
                return val, val / pr.sum_w, pr
            # Newton on the convex, decreasing k/(k-p) y'Py (d y'Py / d tau2 = -y'P²y)
            slope = c * pr.ypy2
            return val, val / xp.where(slope > 0, slope, pr.sum_w), pr
        # PM, PMM and Q-profile bounds: y'Py = target, Newton step (d y'Py / d tau2 = -y'P²y)
        val = formulas.q_equation(pr.rss, self.target)
        slope = pr.ypy2
        return val, val / xp.where(slope > 0, slope, 1.0), pr


def q_profile_equation(y: Array, v: Array, design: Design, target: Array) -> EstimatingEquation:
    """The generalised Q equation ``y'P(τ²)y - target = 0`` of Q-profile confidence bounds
    (Viechtbauer 2007), decreasing in τ², with the scale-free stopping rule; ``y``, ``v``:
    (batch, k), ``target`` (batch,): one chi-squared quantile per bound."""
    return EstimatingEquation(Method.PM, y, v, design, y.shape[-1], design.p, target=target,
                              scale_free=True)


def _newton_or_fisher(xp: Any, val: Array, slope: Array, info: Array) -> Array:
    """The Newton step ``-val/slope`` (:func:`~metaverdict.models.formulas.newton_step`) where
    the equation decreases (``slope < 0``, the likelihood is concave there), else metafor's
    Fisher-scoring step ``val/info``. Both have the same fixed point; Newton converges
    quadratically where Fisher scoring is linear."""
    return formulas.fisher_step(val, xp.where(slope < 0, -slope, info))


def chi2_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of the chi-squared distribution on ``df`` degrees of freedom
    (``scipy.stats.chi2.ppf`` without its frozen-distribution overhead)."""
    return float(2 * special.gammaincinv(df / 2, p))


def _iterative(method: str, y: Array, v: Array, design: Design, k: int, p: int,
               control: SolverControl, xp: Any) -> Tau2Fit:
    scale_free = bool(control.scale_free)
    if method in (Method.ML, Method.REML, Method.EB):
        f = EstimatingEquation(method, y, v, design, k, p, newton=control.step == Step.NEWTON,
                               scale_free=scale_free, xp=xp)
        found = (_grid_newton_one(f, control)
                 if (control.start == Start.GRID and method != Method.EB and f.newton
                     and control.global_search is True and xp is NUMPY and y.shape[0] == 1)
                 else None)
        if found is not None:
            tau2, conv, iters, fe = found
            return Tau2Fit(tau2, _iterative_se(method, y, v, design, k, p, tau2, xp,
                                               f.reference), conv, iters, fe)
        start = xp.maximum(_he(y, v, design, k, p, None, xp).tau2, 0.0)
        tau2, conv, iters = fisher_scoring(f, start, control)
        if control.step != Step.NEWTON and control.tol <= POLISH_BELOW_TOL:
            tau2 = _newton_polish(f, tau2)
    else:
        target = float(k - p) if method == Method.PM else chi2_quantile(0.5, k - p)
        f = EstimatingEquation(method, y, v, design, k, p, target, scale_free=scale_free, xp=xp)
        tau2, conv, iters = solve_decreasing(f, xp.zeros(y.shape[:-1], dtype=y.dtype), control)
    if method in (Method.ML, Method.REML):
        tau2, iters = _other_maxima(method, f, tau2, iters, y, v, design, k, p, control)
    return Tau2Fit(tau2, _iterative_se(method, y, v, design, k, p, tau2, xp), conv, iters)


def _iterative_se(method: str, y: Array, v: Array, design: Design, k: int, p: int, tau2: Array,
                  xp: Any, reference: tuple[Array, Array] | None = None) -> Array:
    """metafor's ``se.tau2`` of the iterative estimators at ``tau2``: REML √(2/tr P²),
    ML √(2/Σw²), DLIT the DL formula with P at weights 1/(v + τ²), EB/PM/PMM/SJIT
    √(2k²/(k-p))/Σw. ``reference``: :attr:`EstimatingEquation.reference`, when known."""
    if method in (Method.REML, Method.DLIT):
        pr = design.project(1 / (v + tau2[..., None]), y, xp, reference)
        if method == Method.REML:
            return formulas.reml_tau2_se(pr.ss_p)
        return formulas.dl_tau2_se(tau2, k - p, pr.tr_p, pr.ss_p)
    w = 1 / (v + tau2[..., None])
    if method == Method.ML:
        return formulas.ml_tau2_se(xp.vecdot(w, w))
    return formulas.pm_tau2_se(k, k - p, row_sum(w, xp))     # EB, PM, PMM, SJIT


#: Fisher-scoring roots are polished by a Newton step only when this precision (or tighter) is
#: asked for; a looser ``tol`` (e.g. metafor's default 1e-5, to reproduce its results) is kept.
POLISH_BELOW_TOL = 1e-10


def _newton_polish(f: EstimatingEquation, tau2: Array) -> Array:
    """One Newton step on the score (ML, REML) or estimating equation (EB) ``f`` from an
    interior root found by Fisher scoring.

    Fisher scoring converges linearly, so when it stops (a step below ``tol``) the remaining
    error can be many times ``tol``; one Newton step makes it quadratically small, so that
    roots found with ``step="fisher"`` and ``step="newton"`` agree to rounding."""
    xp, newton = f.xp, f.with_newton()
    val, step, _ = newton(tau2)
    t_new = tau2 + step
    scale = newton.scale
    ok = ((tau2 > 0) & (t_new > 0) & (xp.abs(step) <= 1e-6 * (scale + tau2))
          & xp.isfinite(t_new))
    return xp.where(ok, t_new, tau2)


class _Active:
    """Book-keeping for a solver that works only on the analyses still iterating.

    ``idx`` holds the batch positions of the working set; ``finish`` records the values of
    analyses that have finished (each analysis exactly once), ``shrink`` drops finished ones
    from the working set (copying their rows is cheaper than recomputing them once enough have
    finished), ``result`` puts the recorded values back in batch order.
    """

    def __init__(self, f: EstimatingEquation, n: int, xp: Any) -> None:
        self.f_all, self.f, self.xp, self.n = f, f, xp, n
        self.idx = _arange(xp, n, f.y)
        self.parts: list[tuple[Array, ...]] = []

    def finish(self, mask: Array, *values: Array) -> None:
        if bool(self.xp.any(mask)):
            self.parts.append((self.idx[mask],) + tuple(val[mask] for val in values))

    def settle(self, done: Array, live: Array, t: Array, iters: Array) -> tuple[Array, int]:
        """Record the analyses ``done`` this step (root ``t``, converged); returns the mask
        of those still iterating and their number."""
        self.finish(done, t, iters, done)
        live = live & ~done
        return live, int(self.xp.sum(self.xp.astype(live, self.xp.int64)))

    def shrink(self, keep: Array, arrays: list[Array]) -> list[Array]:
        xp = self.xp
        sel = xp.nonzero(keep)[0]
        self.idx = xp.take(self.idx, sel, axis=0)
        self.f = self.f_all.subset(self.idx)
        return [xp.take(a, sel, axis=0) for a in arrays]

    def result(self, n_values: int) -> list[Array]:
        xp = self.xp
        if not self.parts:
            return [xp.zeros((0,)) for _ in range(n_values)]
        if len(self.parts) == 1 and self.parts[0][0].shape[0] == self.n:
            return list(self.parts[0][1:])      # all at once: already in batch order
        idx = xp.concat([part[0] for part in self.parts])
        out = []
        order = None
        for j in range(n_values):
            vals = xp.concat([part[j + 1] for part in self.parts])
            if _scatters(vals):
                res = xp.empty_like(vals)
                res[idx] = vals
            else:                 # JAX, strict array-API libraries: gather instead
                order = xp.argsort(idx) if order is None else order
                res = xp.take(vals, order, axis=0)
            out.append(res)
        return out


def _scatters(x: Array) -> bool:
    """Whether ``x[index_array] = values`` works (NumPy, CuPy, PyTorch; the array API standard
    and JAX have no integer-array assignment)."""
    return is_numpy_array(x) or is_cupy_array(x) or is_torch_array(x)


_SHRINK_BELOW = 0.7   # shrink the working set when under this fraction of it is still active


def fisher_scoring(f: EstimatingEquation, start: Array,
                   control: SolverControl) -> tuple[Array, Array, Array]:
    """Fisher scoring from ``start`` (metafor's algorithm, step halving to stay >= 0), then the
    bracketing search for every analysis that has not converged in ``control.max_iter`` steps.
    Only the analyses still iterating are computed."""
    xp = f.xp
    if xp is NUMPY and start.shape[0] == 1:
        return _fisher_scoring_one(f, float(start[0]), control)
    act = _Active(f, start.shape[0], xp)
    t = start
    iters = xp.zeros(t.shape, dtype=xp.int64)
    live = xp.ones(t.shape, dtype=xp.bool)
    for _ in range(control.max_iter):
        fa = act.f
        _, step, _ = fa(t)
        step = xp.where(live, step, 0.0)
        below = (t + step) < 0
        boundary = None
        if bool(xp.any(below)):
            # heading below 0: the boundary is the solution if the equation is <= 0 there
            # (metafor creeps towards it by step halving and stops near, not at, 0)
            boundary = below & (fa(xp.zeros_like(t))[0] <= 0)
            step = xp.where(boundary, -t, step)
            for _ in range(60):                   # step halving at the boundary
                neg = (t + step) < 0
                if not bool(xp.any(neg)):
                    break
                step = xp.where(neg, step / 2, step)
        t_new = xp.maximum(t + step, 0.0)
        iters = iters + xp.astype(live, xp.int64)
        small = formulas.step_converged(t, t_new, control.tol, fa.scale)
        done = live & (small if boundary is None else boundary | small)
        t = t_new
        live, n_live = act.settle(done, live, t, iters)
        if n_live == 0:
            break
        if n_live < _SHRINK_BELOW * t.shape[0]:
            t, iters, live = act.shrink(live, [t, iters, live])
    else:
        # not settled in max_iter steps: the safeguarded search (which cannot fail)
        if bool(xp.any(live)):
            t, iters, live = act.shrink(live, [t, iters, live])
            t2, conv2, it2 = solve_decreasing(act.f, xp.zeros_like(t), control)
            act.finish(live, t2, iters + it2, conv2)
    tau2, iters, conv = act.result(3)
    return tau2, conv, iters


def _fisher_scoring_one(f: EstimatingEquation, t: float,
                        control: SolverControl) -> tuple[Array, Array, Array]:
    """:func:`fisher_scoring` for a batch of one NumPy analysis: the same iteration, with its
    book-keeping on Python floats (array masks cost more than the arithmetic of one fit)."""
    scale, tol = float(f.scale[0]), control.tol
    point = np.empty(1)
    for it in range(1, control.max_iter + 1):
        point[0] = t
        step = float(f(point)[1][0])
        boundary = False
        if t + step < 0:
            boundary = bool(f(np.zeros(1))[0][0] <= 0)
            if boundary:
                step = -t
            for _ in range(60):                   # step halving at the boundary
                if not t + step < 0:
                    break
                step = step / 2
        t_new = max(t + step, 0.0)                # NaN stays NaN, as with np.maximum
        if boundary or formulas.step_converged(t, t_new, tol, scale):
            return np.array([t_new]), np.ones(1, dtype=bool), np.array([it])
        t = t_new
    t2, conv2, it2 = solve_decreasing(f, np.zeros(1), control)
    return t2, conv2, it2 + control.max_iter


def solve_decreasing(f: EstimatingEquation, lower: Array,
                     control: SolverControl) -> tuple[Array, Array, Array]:
    """Root of ``f`` above ``lower`` for functions positive below the root and negative above.

    Returns ``lower`` where ``f(lower) <= 0`` (boundary solution). Otherwise grows an upper
    bound until ``f`` is negative there, then runs the Illinois variant of regula falsi inside
    the bracket (superlinear, and it never leaves the bracket, so it cannot diverge or cycle).
    Only the analyses still searching are computed. Returns ``(root, converged, iterations)``.
    """
    xp = f.xp
    act = _Active(f, lower.shape[0], xp)
    flo, step, _ = f(lower)
    at_lower = flo <= 0
    zeros_i = xp.zeros(lower.shape, dtype=xp.int64)
    act.finish(at_lower, lower, zeros_i, at_lower)
    if bool(xp.all(at_lower)):
        return lower, at_lower, zeros_i
    lo, flo, step = act.shrink(~at_lower, [lower, flo, step])
    scale = act.f.scale
    hi = lo + xp.where(xp.isfinite(step) & (step > 0), step, scale) + 1e-8 * scale
    fhi = act.f(hi)[0]
    for _ in range(200):                          # grow the upper bound until f(hi) < 0
        grow = fhi > 0
        if not bool(xp.any(grow)):
            break
        lo, flo = xp.where(grow, hi, lo), xp.where(grow, fhi, flo)
        hi = xp.where(grow, hi * 4, hi)
        fhi = xp.where(grow, act.f(hi)[0], fhi)
    t = lo
    last = xp.zeros(t.shape, dtype=xp.int64)      # +1: lo moved last time, -1: hi moved
    iters = xp.zeros(t.shape, dtype=xp.int64)
    live = xp.ones(t.shape, dtype=xp.bool)
    for _ in range(max(control.max_iter, 200)):
        denom = fhi - flo
        t_new = (lo * fhi - hi * flo) / xp.where(denom == 0, 1.0, denom)   # regula falsi
        bad = ~((t_new > lo) & (t_new < hi)) | (denom == 0)
        t_new = xp.where(bad, (lo + hi) / 2, t_new)
        t_new = xp.where(live, t_new, t)
        ft = act.f(t_new)[0]
        pos = ft > 0
        # Illinois: halve the function value kept at an end that survived twice in a row
        fhi = xp.where(pos & (last == 1), fhi / 2, fhi)
        flo = xp.where(~pos & (last == -1), flo / 2, flo)
        lo, flo = xp.where(pos, t_new, lo), xp.where(pos, ft, flo)
        hi, fhi = xp.where(pos, hi, t_new), xp.where(pos, fhi, ft)
        last = 2 * xp.astype(pos, xp.int64) - 1
        iters = iters + xp.astype(live, xp.int64)
        scale = act.f.scale
        done = live & (formulas.step_converged(t, t_new, control.tol, scale) | (ft == 0)
                       | (hi - lo <= control.tol * (scale + lo)))
        t = t_new
        live, n_live = act.settle(done, live, t, iters)
        if n_live == 0:
            break
        if n_live < _SHRINK_BELOW * t.shape[0]:
            t, lo, hi, flo, fhi, last, iters, live = act.shrink(
                live, [t, lo, hi, flo, fhi, last, iters, live])
    else:
        act.finish(live, t, iters, xp.zeros(t.shape, dtype=xp.bool))
    root, iters, conv = act.result(3)
    return root, conv, iters


# ----------------------------------------------------------------------------- global maximum

GRID_POINTS = 32


def grid_fractions() -> list[float]:
    """The likelihood grid of :func:`_other_maxima` as fractions of its top: 2^(j/2) steps
    from 2^(-(GRID_POINTS-1)/2) up to 1."""
    return [(2.0 ** (j / 2)) / (2.0 ** ((GRID_POINTS - 1) / 2)) for j in range(GRID_POINTS)]


_FRACTIONS = np.asarray(grid_fractions())
#: The grid point below each one (0 below the first): where a restarted search begins.
_FRACTIONS_BELOW = np.concatenate([[0.0], _FRACTIONS[:-1]])
#: Likelihood evaluations at several tau² per analysis are made together as long as they
#: hold at most this many values (batch x points x k, times k for a moderator design), one
#: pass at a time beyond.
GRID_BLOCK_VALUES = 1 << 20


def _other_maxima(method: str, f: EstimatingEquation, tau2: Array, iters: Array, y: Array,
                  v: Array, design: Design, k: int, p: int, control: SolverControl
                  ) -> tuple[Array, Array]:
    """Look for a higher maximum of the (restricted) likelihood than the one found: metafor's
    comparison with tau² = 0, then (``control.global_search``) the grid search of
    :func:`_global_maximum`. With ``global_search="screened"`` both run only where the maximum
    found is at 0 or 0 is itself a local maximum (score <= 0 at 0); where the score is
    positive at 0 and the maximum found is interior no check is made (cheap, but a second
    interior maximum goes unnoticed)."""
    xp = f.xp
    if control.global_search is True or not control.global_search:
        return _global_maximum(method, f, tau2, iters, y, v, design, control,
                               bool(control.global_search))
    score0 = f(xp.zeros_like(tau2))[0]
    check = (tau2 == 0) | (score0 <= 0)
    if not bool(xp.any(check)):
        return tau2, iters
    sel = xp.nonzero(check)[0]
    ys, vs, ds = xp.take(y, sel, axis=0), xp.take(v, sel, axis=0), design.subset(sel)
    ts, its = xp.take(tau2, sel, axis=0), xp.take(iters, sel, axis=0)
    ts, its = _global_maximum(method, f.subset(sel), ts, its, ys, vs, ds, control, True)
    if _scatters(tau2):
        tau2, iters = xp.asarray(tau2, copy=True), xp.asarray(iters, copy=True)
        tau2[sel], iters[sel] = ts, its
        return tau2, iters
    pos = xp.cumulative_sum(xp.astype(check, xp.int64)) - 1
    pos = xp.where(check, pos, 0)
    return (xp.where(check, xp.take(ts, pos), tau2), xp.where(check, xp.take(its, pos), iters))


def _global_maximum(method: str, f: EstimatingEquation, tau2: Array, iters: Array, y: Array,
                    v: Array, design: Design, control: SolverControl, grid: bool
                    ) -> tuple[Array, Array]:
    """metafor's check (tau² = 0 replaces the maximum found if its likelihood is higher), then
    with ``grid`` the grid search: a local maximum is replaced by a higher one if a grid of
    tau² values up to ``4 (Σ(y-ȳ)²/(k-p) + max v)`` shows one (the likelihood's maxima all lie
    below the scale of the unweighted residual variance plus the largest sampling variance);
    the root search restarts from the grid point below the best one (or 0), where the score is
    positive.

    When one sampling variance is huge (1e12 next to 1) that grid starts far above the scale
    of the other studies, so with ``control.scale_free`` a second grid of the same shape up
    to ``4 (Σ(y-ȳ)²/(k-p) + min v)`` is searched too wherever it reaches below the first.
    The likelihoods at the estimate, at 0 and on the grids are evaluated together
    (:func:`log_likelihood_at`)."""
    xp = f.xp
    zeros = xp.zeros_like(tau2)
    columns = [tau2, zeros]
    n_grid = 0
    if grid:
        tops = _grid_tops(y, v, design, control)
        fracs = _as(xp, _FRACTIONS, tau2)
        grid_t = xp.concat([g[..., None] * fracs for g in tops], axis=-1)
        n_grid = grid_t.shape[-1]
        columns.append(grid_t)
    t_all = xp.concat([c if c.ndim == 2 else c[..., None] for c in columns], axis=-1)
    ll = log_likelihood_at(method, t_all, y, v, design, f.reference)
    ll_hat, ll0 = ll[..., 0], ll[..., 1]
    zero = (ll0 - ll_hat > 1e-12 * (1 + xp.abs(ll_hat))) & (tau2 > 0)
    tau2 = xp.where(zero, 0.0, tau2)
    if not grid:
        return tau2, iters
    ll_hat = xp.where(zero, ll0, ll_hat)
    ll_grid = ll[..., 2:]
    best = xp.max(ll_grid, axis=-1)
    redo = best > ll_hat + 1e-10 * (1 + xp.abs(ll_hat))
    if not bool(xp.any(redo)):
        return tau2, iters
    below_t = xp.concat([g[..., None] * _as(xp, _FRACTIONS_BELOW, tau2) for g in tops], axis=-1)
    at_best = xp.argmax(ll_grid, axis=-1)[..., None] == _arange(xp, n_grid, tau2)
    below = xp.sum(xp.where(at_best, below_t, 0.0), axis=-1)
    start = xp.where(redo, below, tau2)
    t2, _, it2 = solve_decreasing(f, start, control)
    ll2 = log_likelihood(method, t2, y, v, design)
    use = redo & (f(start)[0] > 0) & (ll2 > ll_hat)
    return xp.where(use, t2, tau2), xp.where(use, iters + it2, iters)


def _grid_tops(y: Array, v: Array, design: Design, control: SolverControl) -> list[Array]:
    """The tops of the likelihood grids of :func:`_global_maximum` (batch,): up to
    ``4 (Σ(y-ȳ)²/(k-p) + max v)``, and with ``control.scale_free`` a second one up to
    ``4 (Σ(y-ȳ)²/(k-p) + min v)`` wherever it reaches below the first (``y`` centred)."""
    xp = namespace(y, v)
    k, p = y.shape[-1], design.p
    resid_ss = xp.vecdot(y, y)
    top: Array = formulas.likelihood_grid_top(resid_ss, k - p, xp.max(v, axis=-1))
    top_low: Array = formulas.likelihood_grid_top(resid_ss, k - p, xp.min(v, axis=-1))
    tops = [top]
    low = top_low < top * float(_FRACTIONS[0])
    if control.scale_free and bool(xp.any(low)):
        tops.append(xp.where(low, top_low, top))
    return tops


class FixedWeightStats(NamedTuple):
    """``y'Py`` and ``tr P`` with weights ``1/v`` (batch,): what pooling needs of the
    projection at tau² = 0 (Q and the typical within-study variance), when an estimator
    has computed them (:attr:`Tau2Fit.fe_projection`)."""

    rss: Array
    tr_p: Array


def _grid_newton_one(f: EstimatingEquation, control: SolverControl
                     ) -> tuple[Array, Array, Array, FixedWeightStats] | None:
    """The ML/REML maximum of one NumPy analysis (``f`` with Newton steps), found from the
    likelihood grid of :func:`_global_maximum` rather than checked against it afterwards.

    The equation and its slope are evaluated together at 0 and every grid point (one
    vectorised projection). Where they show one maximum (the equation falls through 0 once,
    or is <= 0 from 0 on), that is the best point; where they show several, the likelihood
    on the grid decides: the best point is the global maximum to within the grid's spacing
    (a factor √2 in tau²). If it is 0 with the equation <= 0 there, tau² = 0 (the boundary
    maximum). Otherwise the equation changes sign between the best point and a neighbour;
    the cubic through the values and slopes at both ends (in log tau², or in tau² when the
    bracket starts at 0) gives the start, and :func:`_bracketed_newton_one` solves inside
    that bracket. The same root as Fisher scoring from metafor's start followed by the grid
    check (wherever that finds the global maximum), in two or three Newton steps instead of
    10-20 Fisher steps. Returns None (the caller takes the general route) when the grid does
    not bracket a root: non-finite values, or the best point at the top of the grid. Also
    returns Q and tr P at tau² = 0 (the grid's first point) for pooling."""
    y, v, design = f.y, f.v, f.design
    tops = _grid_tops(y, v, design, control)
    grid = np.concatenate([np.zeros(1)] + [float(g[0]) * _FRACTIONS for g in tops])
    if len(tops) > 1:
        grid.sort()
    wide = design.broadcast()
    yb, vb = y[:, None, :], v[:, None, :]
    ref = None if f.reference is None else (f.reference[0][:, None], f.reference[1][:, None, :])
    pr = wide.project(1 / (vb + grid[None, :, None]), yb, NUMPY, ref)
    value, info = f.value_info(pr)
    slope_a = np.asarray(formulas.equation_slope(info, pr.ypy3))[0]
    val_a: np.ndarray = value[0]
    if not math.isfinite(float(val_a.sum()) + float(slope_a.sum())):
        return None
    pos = val_a > 0
    drops = np.flatnonzero(pos[:-1] & ~pos[1:])    # maxima between grid points
    if drops.size + (not pos[0]) == 1:               # one maximum (at 0 if val(0) <= 0)
        j = 0 if not pos[0] else int(drops[0])
    else:                                            # none, or several: the likelihoods
        ll = log_likelihood(f.method, grid[None], yb, vb, wide, projection=pr)[0]
        if not math.isfinite(float(ll.sum())):
            return None
        j = int(np.argmax(ll))
    val, slope, ts = val_a.tolist(), slope_a.tolist(), grid.tolist()
    found, none = np.ones(1, dtype=bool), np.zeros(1, dtype=np.int64)
    fe = FixedWeightStats(pr.rss[:, 0], pr.tr_p[:, 0])
    if val[j] <= 0 and j == 0:
        return np.zeros(1), found, none, fe
    lo, hi = (j, j + 1) if val[j] > 0 else (j - 1, j)
    if hi == len(ts) or not val[lo] > 0 >= val[hi]:
        return None
    if val[hi] == 0:
        return np.array(ts[hi:hi + 1]), found, none, fe
    a, b, fa, fb = ts[lo], ts[hi], val[lo], val[hi]
    if a > 0:   # in log tau², where the equation is closer to a cubic (chain rule slopes)
        start = math.exp(_hermite_root(math.log(a), math.log(b), fa, fb, slope[lo] * a,
                                       slope[hi] * b))
    else:
        start = _hermite_root(a, b, fa, fb, slope[lo], slope[hi])
    root = _bracketed_newton_one(f, min(max(start, a), b), a, b, control)
    return None if root is None else (*root, fe)


def _hermite_root(a: float, b: float, fa: float, fb: float, sa: float, sb: float) -> float:
    """The root in (a, b) of the cubic Hermite interpolant of a function with values
    ``fa > 0 > fb`` and slopes ``sa``, ``sb`` at the ends (a few Newton steps on the cubic from
    the regula falsi point, kept inside the bracket); the regula falsi point where the cubic
    does not give one."""
    h = b - a
    s = fa / (fa - fb)
    ma, mb = sa * h, sb * h
    for _ in range(8):
        s2, s3 = s * s, s * s * s
        p = ((2 * s3 - 3 * s2 + 1) * fa + (s3 - 2 * s2 + s) * ma + (-2 * s3 + 3 * s2) * fb
             + (s3 - s2) * mb)
        dp = ((6 * s2 - 6 * s) * fa + (3 * s2 - 4 * s + 1) * ma + (-6 * s2 + 6 * s) * fb
              + (3 * s2 - 2 * s) * mb)
        if not dp < 0:
            break
        s_new = s - p / dp
        if not 0 < s_new < 1:
            break
        done = abs(s_new - s) <= 1e-12
        s = s_new
        if done:
            break
    return a + s * h


def _bracketed_newton_one(f: EstimatingEquation, t: float, lo: float, hi: float,
                          control: SolverControl) -> tuple[Array, Array, Array] | None:
    """Newton steps on the equation ``f`` of one NumPy analysis from ``t`` inside the bracket
    ``(lo, hi)`` (value positive at ``lo``, negative at ``hi``), bisecting where a step would
    leave it. Stops at metafor's rule (:func:`~metaverdict.models.formulas.step_converged`),
    or one step earlier where the quadratic convergence of the last two steps puts the error
    after this one below it (error ≈ C δ² with C = |δₙ|/δₙ₋₁²), or when the bracket is that
    narrow. None if not settled in ``control.max_iter`` steps."""
    scale, tol = float(f.scale[0]), control.tol
    point = np.empty(1)
    prev = math.inf
    for it in range(1, control.max_iter + 1):
        point[0] = t
        val, step, _ = f(point)
        fv, d = float(val[0]), float(step[0])
        if fv > 0:
            lo = t
        elif fv < 0:
            hi = t
        else:
            d = 0.0
        t_new = t + d
        if not lo <= t_new <= hi:
            t_new = 0.5 * (lo + hi)
            d, prev = t_new - t, math.inf
        d_abs = abs(d)
        unit = scale + t_new
        quadratic = prev < math.inf and d_abs <= 1e-4 * unit and d_abs <= 1e-2 * prev
        if (formulas.step_converged(t, t_new, tol, scale) or hi - lo <= tol * unit
                or (quadratic and d_abs ** 3 / prev ** 2 <= tol * unit)):
            return np.array([t_new]), np.ones(1, dtype=bool), np.array([it])
        prev, t = d_abs, t_new
    return None


def _arange(xp: Any, n: int, like: Array) -> Array:
    """``0, 1, ..., n - 1`` on the device of ``like``."""
    return xp.arange(n) if xp is NUMPY else xp.arange(n, device=device(like))


def _as(xp: Any, values: np.ndarray, like: Array) -> Array:
    """Constants ``values`` as an array of ``xp`` with the dtype and device of ``like``."""
    if xp is NUMPY:
        return values.astype(like.dtype, copy=False)
    return xp.asarray(values, dtype=like.dtype, device=device(like))


def log_likelihood_at(method: str, tau2: Array, y: Array, v: Array, design: Design,
                      reference: tuple[Array, Array] | None = None) -> Array:
    """:func:`log_likelihood` at ``m`` values of tau² per analysis: ``tau2`` of shape
    (batch, m), ``y``, ``v`` (batch, k); computed together in blocks of at most
    :data:`GRID_BLOCK_VALUES` values. ``reference``: the equation's
    :attr:`EstimatingEquation.reference`, when known."""
    xp = namespace(y, v)
    n, m = tau2.shape
    k = y.shape[-1]
    per_column = n * k * (1 if design.X is None else k)      # a design forms k x k matrices
    per = max(1, GRID_BLOCK_VALUES // max(1, per_column))
    wide = design.broadcast()
    yb, vb = y[..., None, :], v[..., None, :]
    ref = None if reference is None else (reference[0][..., None], reference[1][..., None, :])
    parts = [log_likelihood(method, tau2[..., j:min(j + per, m)], yb, vb, wide, reference=ref)
             for j in range(0, m, per)]
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=-1)


def log_likelihood(method: str, tau2: Array, y: Array, v: Array, design: Design,
                   projection: _Projection | None = None,
                   reference: tuple[Array, Array] | None = None) -> Array:
    """Log-likelihood (``"ML"``) or restricted log-likelihood (``"REML"``) at ``tau2``.

    ML: -k/2 log 2π - ½ Σ log(vᵢ+τ²) - ½ y'Py;  REML adds ½ log|X'X| - ½ log|X'WX| and uses
    k - p in the first term (metafor's full REML likelihood). ``projection``: the projection
    with weights 1/(v + tau2) for these ``y``, when already made; ``reference``: its
    :func:`~metaverdict.models.projection.reference_point`, when known.
    """
    xp = namespace(y, v)
    k, p = y.shape[-1], design.p
    vt = v + tau2[..., None]
    pr = projection if projection is not None else design.project(1 / vt, y, xp, reference)
    logv = row_sum(xp.log(vt), xp)
    if method == Method.ML:
        return formulas.ml_loglik(k, logv, pr.rss)
    # log|X'X|: log k for the intercept-only model (no need to project a matrix of ones)
    logdet_xx: Any = (math.log(k) if design.X is None
                      else design.project(xp.ones_like(v), y).logdet_xwx())
    return formulas.reml_loglik(k - p, logdet_xx, logv + pr.logdet_xwx(), pr.rss)


# ----------------------------------------------------------------------------- fixed points

#: The iterated estimators stop after at most this many steps (or ``control.max_iter``).
FIXED_POINT_MAX_ITER = 10_000


def _iterated(method: str, y: Array, v: Array, design: Design, k: int, p: int,
              control: SolverControl, xp: Any) -> Tau2Fit:
    """The iterated DerSimonian-Laird (``"DLIT"``) and Sidik-Jonkman (``"SJIT"``) estimators:
    metafor's fixed-point iterations, run until a step changes tau² by at most
    ``control.tol (u + τ²)`` (:attr:`SolverControl`).

    DLIT starts at 0 and iterates :math:`\\tau^2 \\leftarrow \\max(0, (Q_w - (k-p)) /
    \\operatorname{tr}P_w)` with :math:`w = 1/(v + \\tau^2)` (DerSimonian & Kacker 2007);
    SJIT starts at :math:`\\sum(y - \\bar y)^2/k` and iterates
    :math:`\\tau^2 \\leftarrow \\tau^2 Q_w / (k-p)`, whose fixed point solves the Paule-Mandel
    equation :math:`Q_w = k - p` (Sidik & Jonkman 2005). An analysis whose iteration has not
    settled after ``max(control.max_iter, FIXED_POINT_MAX_ITER)`` steps (DLIT can cycle) is
    flagged as not converged, at its last value."""
    dlit = method == Method.DLIT
    t = xp.zeros(y.shape[:-1], dtype=y.dtype) if dlit else xp.vecdot(y, y) / k
    vmin = xp.min(v, axis=-1)
    scale = vmin if control.scale_free else xp.ones_like(vmin)
    live = xp.ones(t.shape, dtype=xp.bool)
    iters = xp.zeros(t.shape, dtype=xp.int64)
    for _ in range(max(control.max_iter, FIXED_POINT_MAX_ITER)):
        pr = design.project(1 / (v + t[..., None]), y, xp)
        new = (xp.maximum((pr.rss - (k - p)) / pr.tr_p, 0.0) if dlit
               else t * pr.rss / (k - p))
        new = xp.where(live, new, t)
        iters = iters + xp.astype(live, xp.int64)
        live = live & ~formulas.step_converged(t, new, control.tol, scale)
        t = new
        if not bool(xp.any(live)):
            break
    return Tau2Fit(t, _iterative_se(method, y, v, design, k, p, t, xp), ~live, iters)


def fixed_tau2(method: str, y: Array, v: Array, tau2: Array, design: Design | None = None,
               weights: Array | None = None) -> Tau2Fit:
    """A given (fixed) tau² for every analysis of a batch (metafor ``rma(..., tau2=)``).

    Nothing is estimated; ``se`` is the standard-error formula of ``method`` evaluated at the
    given value, as metafor 3.8 reports ``se.tau2`` for a fixed tau² (NaN for common-effect
    models and single studies). ``y``, ``v``: (batch, k); ``tau2``: (batch,), >= 0.
    """
    xp = namespace(y, v)
    design = design or Design()
    k, p = y.shape[-1], design.p
    tau2 = xp.asarray(tau2, dtype=y.dtype)
    done = xp.ones(tau2.shape, dtype=xp.bool)
    iters = xp.zeros(tau2.shape, dtype=xp.int64)
    if method in COMMON_EFFECT or k == 1 or k <= p:
        return Tau2Fit(tau2, xp.full_like(tau2, float("nan")), done, iters)
    y = y - xp.mean(y, axis=-1, keepdims=True)
    fn = _CLOSED_FORM.get(Method.GENQ if method == "GENQM" else method)
    if fn is not None:
        est = fn(y, v, design, k, p, weights, xp)
        return Tau2Fit(tau2, est.se(tau2), done, iters, est.fe)
    return Tau2Fit(tau2, _iterative_se(method, y, v, design, k, p, tau2, xp), done, iters)
