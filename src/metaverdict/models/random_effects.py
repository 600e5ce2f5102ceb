"""Estimators of the between-study variance tau² as array kernels over a leading batch axis.

Every estimator takes ``y`` and ``v`` of shape ``(batch, k)`` (any array-API library for the
intercept-only design) and returns a :class:`Tau2Fit` of ``(batch,)`` arrays. A single
meta-analysis is a batch of one; :mod:`metaverdict.batch` calls the same functions on many.

Estimators (``k`` studies, ``p`` coefficients, ``P`` as in :mod:`.projection`; each truncated at 0):

=======  ===========================================================================  =============================
method   estimate                                                                     reference
=======  ===========================================================================  =============================
EE, FE   0 (common effect)
DL       (y'Py - (k-p)) / tr P, with w = 1/v                                          DerSimonian & Laird 1986
HE       (y'P₁y - tr P₁V) / (k-p), with unweighted P₁                                 Hedges 1983
HS       (y'Py - k) / Σw                                                              Hunter & Schmidt 2004
HSk      (k/(k-p) y'Py - k) / Σw                                                      Brannick et al. 2019
SJ       τ₀² y'Py / (k-p), w = 1/(v + τ₀²), τ₀² = Σ(y - ȳ)²/k                          Sidik & Jonkman 2005
GENQ     (y'P_a y - tr P_a V) / tr P_a, user weights a (default 1/v)                  DerSimonian & Kacker 2007
ML       root of y'P²y = tr W   (Fisher scoring)                                      Hardy & Thompson 1996
REML     root of y'P²y = tr P   (Fisher scoring)                                      Viechtbauer 2005
EB       root of k/(k-p) y'Py = k (equals PM)                                         Morris 1983
PM       root of y'Py = k - p,  w = 1/(v + τ²)                                        Paule & Mandel 1982
PMM      root of y'Py = median of χ²(k-p)                                             Viechtbauer 2021
=======  ===========================================================================  =============================

Standard errors of tau² follow metafor (``se.tau2``).

Iterative estimators start where metafor starts (the HE estimate) and take Fisher-scoring
steps with step halving at the boundary; analyses whose iteration has not settled after
``max_iter`` steps switch to a safeguarded root search (Newton steps inside a bracket kept by
the sign of the estimating equation, bisection when a step leaves it), which cannot fail to
converge: the estimating equations are positive at the lower end of the bracket and negative
for large tau². Every analysis in a batch carries its own convergence flag and iteration count.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from array_api_compat import array_namespace
from scipy import stats

from metaverdict.models.projection import Design

Array = Any

METHODS = {"EE": "EE", "FE": "FE", "CE": "EE", "DL": "DL", "HE": "HE", "HS": "HS", "HSK": "HSk",
           "SJ": "SJ", "ML": "ML", "REML": "REML", "EB": "EB", "PM": "PM", "PMM": "PMM",
           "GENQ": "GENQ"}
COMMON_EFFECT = ("EE", "FE")


@dataclass(frozen=True)
class Tau2Fit:
    """tau² estimates for a batch: ``tau2``, ``se``, ``converged``, ``iterations`` (batch,)."""

    tau2: Array
    se: Array
    converged: Array
    iterations: Array
    tau2_init: Array | None = None   # SJ's starting value (needed for nothing else)


@dataclass(frozen=True)
class SolverControl:
    """Convergence settings of the iterative estimators.

    ``tol``: stop when a step changes tau² by less than ``tol * (1 + tau²)``;
    ``max_iter``: Fisher-scoring steps before the bracketing search takes over (which then
    has ``max_iter`` steps of its own, each at least halving the bracket);
    ``global_search``: ML/REML likelihoods can have two maxima (one at tau² = 0); when True
    (default) the likelihood is also evaluated on a grid of :data:`GRID_POINTS` values and the
    search restarted next to any grid point that beats the maximum found from metafor's start.
    """

    tol: float = 1e-12
    max_iter: int = 100
    global_search: bool = True


def estimate_tau2(method: str, y: Array, v: Array, design: Design | None = None,
                  weights: Array | None = None, control: SolverControl = SolverControl()) -> Tau2Fit:
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
    """
    xp = array_namespace(y, v)
    design = design or Design()
    k, p = y.shape[-1], design.p
    zeros = xp.zeros(y.shape[:-1], dtype=y.dtype)
    if method in COMMON_EFFECT or k == 1:
        nan = xp.full(y.shape[:-1], float("nan"), dtype=y.dtype)
        return Tau2Fit(zeros, nan, zeros == 0, xp.astype(zeros, xp.int64))
    # centre y for numerical stability, as metafor does (P annihilates the intercept)
    y = y - xp.mean(y, axis=-1, keepdims=True)
    fn = _CLOSED_FORM.get(method)
    if fn is not None:
        tau2, se, init = fn(y, v, design, k, p, weights)
        tau2 = xp.maximum(tau2, 0.0)
        return Tau2Fit(tau2, se(tau2), zeros == 0, xp.astype(zeros, xp.int64), init)
    return _iterative(method, y, v, design, k, p, control)


# ----------------------------------------------------------------------------- closed forms

def _dl(y, v, design, k, p, weights):
    pr = design.project(1 / v, y)
    tau2 = (pr.rss - (k - p)) / pr.tr_p
    return tau2, lambda t: _sqrt(2 * (k - p) + 4 * t * pr.tr_p + 2 * t * t * pr.ss_p) / pr.tr_p, None


def _he(y, v, design, k, p, weights):
    xp = array_namespace(y)
    pr = design.project(xp.ones_like(v), y)
    trpv = pr.tr_pv(v)
    tau2 = (pr.rss - trpv) / (k - p)
    return tau2, lambda t: _sqrt(2 * pr.ss_pv(v) + 4 * t * trpv + 2 * t * t * (k - p)) / (k - p), None


def _hunter_schmidt(k_corrected: bool):
    def fn(y, v, design, k, p, weights):
        pr = design.project(1 / v, y)
        c = k / (k - p) if k_corrected else 1.0
        tau2 = (c * pr.rss - k) / pr.sum_w
        return tau2, lambda t: c * _sqrt(2 * (k - p) + 4 * t * pr.tr_p + 2 * t * t * pr.ss_p) / pr.sum_w, None
    return fn


def _sandwich_se(pr, v):
    """Common tail of the SJ and GENQ standard errors: 2 tr(PV)² + 4τ² tr(PVP) + 2τ⁴ tr(P²)."""
    ss_pv, pvp = pr.ss_pv(v), pr.pvp(v)
    return lambda t: _sqrt(2 * ss_pv + 4 * t * pvp + 2 * t * t * pr.ss_p)


def _sj(y, v, design, k, p, weights):
    xp = array_namespace(y)
    t0 = xp.sum(y * y, axis=-1) / k            # y is centred
    pr = design.project(1 / (v + t0[..., None]), y)
    tau2 = t0 * pr.rss / (k - p)
    tail = _sandwich_se(pr, v)
    return tau2, lambda t: t0 / (k - p) * tail(t), t0


def _genq(y, v, design, k, p, weights):
    pr = design.project(1 / v if weights is None else weights, y)
    tau2 = (pr.rss - pr.tr_pv(v)) / pr.tr_p
    tail = _sandwich_se(pr, v)
    return tau2, lambda t: tail(t) / pr.tr_p, None


_CLOSED_FORM: dict[str, Callable] = {
    "DL": _dl, "HE": _he, "HS": _hunter_schmidt(False), "HSk": _hunter_schmidt(True),
    "SJ": _sj, "GENQ": _genq,
}


def _sqrt(x):
    return array_namespace(x).sqrt(x)


# ----------------------------------------------------------------------------- iterative

def _equation(method: str, y, v, design, k, p, target=None):
    """The estimating equation as ``f(tau2) -> (value, fisher_step, projection)``.

    ``value`` is positive below the root and negative above it; ``fisher_step`` is metafor's
    Fisher-scoring adjustment (value divided by the expected information).
    """
    def f(t):
        w = 1 / (v + t[..., None])
        pr = design.project(w, y)
        if method == "ML":
            val = pr.ypy2 - pr.sum_w
            return val, val / array_namespace(w).sum(w * w, axis=-1), pr
        if method == "REML":
            val = pr.ypy2 - pr.tr_p
            return val, val / pr.ss_p, pr
        if method == "EB":
            val = pr.rss * (k / (k - p)) - k
            return val, val / pr.sum_w, pr
        # PM, PMM and Q-profile bounds: y'Py = target, Newton step (d y'Py / d tau2 = -y'P²y)
        val = pr.rss - target
        slope = pr.ypy2
        return val, val / array_namespace(slope).where(slope > 0, slope, 1.0), pr
    return f


def _iterative(method, y, v, design, k, p, control):
    xp = array_namespace(y, v)
    if method in ("ML", "REML", "EB"):
        start, _, _ = _he(y, v, design, k, p, None)
        start = xp.maximum(start, 0.0)
        f = _equation(method, y, v, design, k, p)
        tau2, conv, iters = fisher_scoring(f, start, control)
    else:
        target = float(k - p) if method == "PM" else float(stats.chi2.ppf(0.5, k - p))
        f = _equation(method, y, v, design, k, p, target)
        tau2, conv, iters = solve_decreasing(f, xp.zeros(y.shape[:-1], dtype=y.dtype), control)
    if method in ("ML", "REML"):
        tau2 = _prefer_zero_if_higher_likelihood(method, tau2, y, v, design, k, p)
        if control.global_search:
            tau2, iters = _global_maximum(method, f, tau2, iters, y, v, design, k, p, control)
    w = 1 / (v + tau2[..., None])
    if method == "ML":
        se = _sqrt(2 / xp.sum(w * w, axis=-1))
    elif method == "REML":
        se = _sqrt(2 / design.project(w, y).ss_p)
    else:   # EB, PM, PMM
        se = (2 * k * k / (k - p)) ** 0.5 / xp.sum(w, axis=-1)
    return Tau2Fit(tau2, se, conv, iters)


def fisher_scoring(f, start, control: SolverControl):
    """Fisher scoring from ``start`` (metafor's algorithm, step halving to stay >= 0), then the
    bracketing search for every analysis that has not converged in ``control.max_iter`` steps."""
    xp = array_namespace(start)
    t = start
    done = xp.zeros(t.shape, dtype=xp.bool)
    iters = xp.zeros(t.shape, dtype=xp.int64)
    for _ in range(control.max_iter):
        _, step, _ = f(t)
        step = xp.where(done, 0.0, step)
        boundary = xp.zeros(t.shape, dtype=xp.bool)
        if bool(xp.any((t + step) < 0)):
            # heading below 0: the boundary is the solution if the equation is <= 0 there
            # (metafor creeps towards it by step halving and stops near, not at, 0)
            boundary = ((t + step) < 0) & (f(xp.zeros_like(t))[0] <= 0)
            step = xp.where(boundary, -t, step)
        for _ in range(60):                       # step halving at the boundary
            neg = (t + step) < 0
            if not bool(xp.any(neg)):
                break
            step = xp.where(neg, step / 2, step)
        t_new = xp.maximum(t + step, 0.0)
        iters = iters + xp.astype(~done, xp.int64)
        done = done | boundary | (xp.abs(t_new - t) <= control.tol * (1 + t_new))
        t = t_new
        if bool(xp.all(done)):
            break
    if not bool(xp.all(done)):
        t2, conv2, it2 = solve_decreasing(f, xp.zeros(t.shape, dtype=t.dtype), control)
        t = xp.where(done, t, t2)
        iters = xp.where(done, iters, iters + it2)
        done = done | conv2
    return t, done, iters


def solve_decreasing(f, lower, control: SolverControl):
    """Root of ``f`` above ``lower`` for functions positive below the root and negative above.

    Returns ``lower`` where ``f(lower) <= 0`` (boundary solution). Otherwise grows an upper
    bound until ``f`` is negative there, then runs the Illinois variant of regula falsi inside
    the bracket (superlinear, and it never leaves the bracket, so it cannot diverge or cycle).
    Returns ``(root, converged, iterations)``.
    """
    xp = array_namespace(lower)
    flo, step, _ = f(lower)
    done = flo <= 0
    lo = lower
    hi = lower + xp.where(xp.isfinite(step) & (step > 0), step, 1.0) + 1e-8
    fhi = f(hi)[0]
    for _ in range(200):                          # grow the upper bound until f(hi) < 0
        grow = (fhi > 0) & ~done
        if not bool(xp.any(grow)):
            break
        lo, flo = xp.where(grow, hi, lo), xp.where(grow, fhi, flo)
        hi = xp.where(grow, hi * 4, hi)
        fhi = xp.where(grow, f(hi)[0], fhi)
    t = xp.where(done, lower, lo)
    last = xp.zeros(t.shape, dtype=xp.int64)      # +1: lo moved last time, -1: hi moved
    iters = xp.zeros(t.shape, dtype=xp.int64)
    for _ in range(max(control.max_iter, 200)):
        denom = fhi - flo
        t_new = (lo * fhi - hi * flo) / xp.where(denom == 0, 1.0, denom)
        bad = ~((t_new > lo) & (t_new < hi)) | (denom == 0)
        t_new = xp.where(bad, (lo + hi) / 2, t_new)
        t_new = xp.where(done, t, t_new)
        ft = f(t_new)[0]
        pos = ft > 0
        # Illinois: halve the function value kept at an end that survived twice in a row
        fhi = xp.where(pos & (last == 1), fhi / 2, fhi)
        flo = xp.where(~pos & (last == -1), flo / 2, flo)
        lo, flo = xp.where(pos, t_new, lo), xp.where(pos, ft, flo)
        hi, fhi = xp.where(pos, hi, t_new), xp.where(pos, fhi, ft)
        last = xp.where(pos, 1, -1)
        iters = iters + xp.astype(~done, xp.int64)
        newly = ((xp.abs(t_new - t) <= control.tol * (1 + t_new)) | (ft == 0)
                 | (hi - lo <= control.tol * (1 + lo)))
        t = t_new
        done = done | newly
        if bool(xp.all(done)):
            break
    return t, done, iters


GRID_POINTS = 32


def _global_maximum(method, f, tau2, iters, y, v, design, k, p, control):
    """Replace a local maximum of the (restricted) likelihood by a higher one if a grid of
    tau² values up to ``4 (Σ(y-ȳ)²/(k-p) + max v)`` shows one (the likelihood's maxima all lie
    below the scale of the unweighted residual variance plus the largest sampling variance)."""
    xp = array_namespace(y, v)
    top = 4 * (xp.sum(y * y, axis=-1) / (k - p) + xp.max(v, axis=-1))
    frac = xp.asarray([(2.0 ** (j / 2)) / (2.0 ** ((GRID_POINTS - 1) / 2))
                       for j in range(GRID_POINTS)], dtype=y.dtype)
    ll_hat = log_likelihood(method, tau2, y, v, design)
    best_ll, best_j = ll_hat, xp.full(tau2.shape, -1, dtype=xp.int64)
    for j in range(GRID_POINTS):
        llj = log_likelihood(method, top * frac[j], y, v, design)
        better = llj > best_ll + 1e-10 * (1 + xp.abs(best_ll))
        best_ll = xp.where(better, llj, best_ll)
        best_j = xp.where(better, j, best_j)
    redo = best_j >= 0
    if not bool(xp.any(redo)):
        return tau2, iters
    # restart from the grid point below the best one (or 0): the score is positive there
    below = top * xp.take(xp.concat([xp.zeros(1, dtype=y.dtype), frac]), xp.maximum(best_j, 0))
    start = xp.where(redo, below, tau2)
    t2, _, it2 = solve_decreasing(f, start, control)
    ll2 = log_likelihood(method, t2, y, v, design)
    use = redo & (f(start)[0] > 0) & (ll2 > ll_hat)
    return xp.where(use, t2, tau2), xp.where(use, iters + it2, iters)


def log_likelihood(method: str, tau2: Array, y: Array, v: Array, design: Design) -> Array:
    """Log-likelihood (``"ML"``) or restricted log-likelihood (``"REML"``) at ``tau2``.

    ML: -k/2 log 2π - ½ Σ log(vᵢ+τ²) - ½ y'Py;  REML adds ½ log|X'X| - ½ log|X'WX| and uses
    k - p in the first term (metafor's full REML likelihood).
    """
    xp = array_namespace(y, v)
    k, p = y.shape[-1], design.p
    w = 1 / (v + tau2[..., None])
    pr = design.project(w, y)
    logv = xp.sum(xp.log(v + tau2[..., None]), axis=-1)
    if method == "ML":
        return -0.5 * k * _LOG2PI - 0.5 * logv - 0.5 * pr.rss
    ones = design.project(xp.ones_like(v), y)
    return (-0.5 * (k - p) * _LOG2PI + 0.5 * ones.logdet_xwx() - 0.5 * logv
            - 0.5 * pr.logdet_xwx() - 0.5 * pr.rss)


_LOG2PI = 1.8378770664093453


def _prefer_zero_if_higher_likelihood(method, tau2, y, v, design, k, p):
    """metafor's check: if the (restricted) likelihood is higher at tau² = 0 than at the
    stationary point found, the point was a local maximum and tau² = 0 is returned."""
    xp = array_namespace(tau2)
    ll = log_likelihood(method, tau2, y, v, design)
    ll0 = log_likelihood(method, xp.zeros_like(tau2), y, v, design)
    return xp.where((ll0 - ll > 1e-12 * (1 + xp.abs(ll))) & (tau2 > 0), 0.0, tau2)
