"""A compiled CPU kernel (Numba) for intercept-only fits: every output field of an analysis in
one pass over its studies, analyses in parallel over the CPU cores.

The array kernels of :mod:`metaverdict.models.random_effects` and
:mod:`metaverdict.models.inference` are the reference: they serve the single fits, moderator
designs, every estimator and every array library. Vectorised NumPy pays for each of their
steps with a pass over an ``(n, k)`` temporary; this kernel fuses the same formulas into one
loop per analysis (sums kept in registers, Newton iterations stopping per analysis), which is
what makes a batch of a million fits memory-bound instead of temporaries-bound. It covers the
intercept-only model with ``EE``/``FE``, ``DL``, ``HE``, ``ML``, ``REML`` and ``PM`` and
reproduces the reference engine's results (same estimating equations, same starting values,
the same safeguards: step halving at the boundary, Illinois bracketing when an iteration does
not settle, metafor's tau² = 0 comparison and the likelihood grid search for other maxima);
the tests check it against single fits on every fixture to 1e-10. The z-test p-value
(:math:`\\operatorname{erfc}(|z|/\\sqrt 2)`) and the Q test (the χ² closed form of
:mod:`metaverdict.models._special`, shared with the array engine) are computed in the same
pass; Hartung-Knapp t p-values and Q tests with k - 1 > 60 are left to the caller (SciPy).

Formulas (intercept-only, weights :math:`w_i = 1/(v_i+\\tau^2)`, :math:`s_m = \\sum w_i^m`,
:math:`u_i = w_i (y_i - \\hat\\mu)`): :math:`y'Py = \\sum u_i (y_i-\\hat\\mu)`,
:math:`y'P^2y = \\sum u_i^2`, :math:`y'P^3y = \\sum w_i (u_i - \\bar u)^2`
(:math:`\\bar u = \\sum w_i u_i / s_1`), :math:`\\operatorname{tr}P = s_1 - s_2/s_1`,
:math:`\\operatorname{tr}P^2 = s_2 - 2 s_3/s_1 + s_2^2/s_1^2`. ML solves
:math:`y'P^2y = s_1`, REML :math:`y'P^2y = \\operatorname{tr}P`, PM :math:`y'Py = k-1`.

Extreme variance ratios: when one study's weight :math:`w_m` dominates (ratios of 1e9 and
more), the differences above cancel to nothing in double precision (``tr P`` came out as 0, a
division by zero). :func:`_sums` therefore evaluates them as sums of non-negative terms,
:math:`\\operatorname{tr}P = \\sum_i w_i d_i / s_1` and
:math:`\\operatorname{tr}P^2 = \\sum_i w_i^2 (d_i^2 + e_i)/s_1^2` with
:math:`d_i = s_1 - w_i`, :math:`e_i = s_2 - w_i^2`, where for the largest weight :math:`d_m`
and :math:`e_m` are the sums over the other studies, and :math:`u_m = -\\sum_{i\\ne m} u_i`
(the residuals of :math:`P` sum to zero), so nothing is subtracted from the dominant term.
The kernels are compiled with NumPy's error model: a division by zero gives inf/NaN (which
:func:`metaverdict.batch.engine.fit_groups` reports per analysis), never an exception.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt

from metaverdict.models._special import CLOSED_FORM_MAX_DF, chi2_sf_int

#: Methods with a compiled kernel (canonical codes of :data:`metaverdict.models.METHODS`).
COMPILED_METHODS = {"EE": 0, "FE": 0, "DL": 1, "HE": 2, "ML": 3, "REML": 4, "PM": 5}
#: Rows of the output block, in order (``converged`` as 0/1, ``iterations`` as a float count;
#: ``pvalue`` NaN with Hartung-Knapp and ``q_pvalue`` NaN for k - 1 > 60: the caller computes
#: those with SciPy).
OUT_FIELDS = ("estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2",
              "tau2_se", "i2", "h2", "q", "q_pvalue", "pi_lower", "pi_upper", "converged",
              "iterations", "s2w")
_GLOBAL = {False: 0, True: 1, "screened": 2}

_LOG2PI = math.log(2 * math.pi)
_EPS = 2.220446049250313e-16
_CHUNK = 1024                 # analyses per parallel task

FloatArray = npt.NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])


def _njit(**kwargs: Any) -> Callable[[_F], _F]:
    """``numba.njit(cache=True, error_model="numpy", **kwargs)`` (floating-point errors give
    inf/NaN, as in NumPy, instead of raising inside a parallel loop), typed as keeping the
    signature of the function it compiles (numba ships no type information)."""
    jit: Callable[[_F], _F] = numba.njit(cache=True, error_model="numpy", **kwargs)
    return jit


@_njit()
def _sums(y: FloatArray, c: float, v: FloatArray, m: int, t: float, with_log: bool
          ) -> tuple[float, float, float, float, float, float, float, float]:
    """The weighted sums of one analysis at ``t`` (effects ``y - c``; ``c`` centres them):
    ``(s1, s2, tr P, tr P², y'Py, y'P²y, y'P³y, Σ log(v + t))`` (the last only when
    ``with_log``; logs of products, see :func:`_flush`). ``m``: the study with the smallest
    variance (the largest weight), against which differences are taken without cancellation
    (see the module docstring)."""
    k = y.shape[0]
    s1 = 0.0
    swy = 0.0
    s2 = 0.0
    logv = 0.0
    prod = 1.0
    for i in range(k):
        vt = v[i] + t
        w = 1.0 / vt
        s1 += w
        swy += w * (y[i] - c)
        s2 += w * w
        if with_log:
            prod *= vt
            if _flush(prod, i, vt, vt):
                logv += math.log(prod)
                prod = 1.0
    if with_log:
        logv += math.log(prod)
    wm = 1.0 / (v[m] + t)
    mu = swy / s1
    r1 = 0.0                 # sums over the studies other than m
    r2 = 0.0
    trp = 0.0
    trp2 = 0.0
    rss = 0.0
    su = 0.0
    su2 = 0.0
    swu = 0.0
    swu2 = 0.0
    for j in range(k - 1):     # the studies other than m; m's terms are added below
        i = j + (j >= m)
        w = 1.0 / (v[i] + t)
        d = s1 - w           # >= s1 / 2: no cancellation (w <= wm)
        r1 += w
        r2 += w * w
        trp += w * d
        trp2 += w * w * (d * d + (s2 - w * w))
        r = y[i] - c - mu
        u = w * r
        rss += u * r
        su += u
        su2 += u * u
        swu += w * u
        swu2 += w * u * u
    trp = (trp + wm * r1) / s1
    trp2 = (trp2 + wm * wm * (r1 * r1 + r2)) / (s1 * s1)
    um = -su
    rss += um * um / wm
    ypy2 = su2 + um * um
    ubar = (wm * um + swu) / s1
    dm = (um * r1 - swu) / s1          # u_m - ubar
    ypy3 = max(swu2 - 2 * ubar * swu + ubar * ubar * r1, 0.0) + wm * dm * dm
    return s1, s2, trp, trp2, rss, ypy2, ypy3, logv


@_njit()
def _q_sums(y: FloatArray, c: float, v: FloatArray, m: int, t: float) -> tuple[float, float]:
    """``(y'Py, y'P²y)`` of :func:`_sums` alone (the Paule-Mandel equation needs no more)."""
    k = y.shape[0]
    s1 = 0.0
    swy = 0.0
    for i in range(k):
        w = 1.0 / (v[i] + t)
        s1 += w
        swy += w * (y[i] - c)
    wm = 1.0 / (v[m] + t)
    mu = swy / s1
    rss = 0.0
    su = 0.0
    su2 = 0.0
    for j in range(k - 1):     # the studies other than m
        i = j + (j >= m)
        w = 1.0 / (v[i] + t)
        r = y[i] - c - mu
        u = w * r
        rss += u * r
        su += u
        su2 += u * u
    return rss + su * su / wm, su2 + su * su


@_njit()
def _score(y: FloatArray, c: float, v: FloatArray, m: int, t: float, kind: int,
           target: float) -> tuple[float, float, float]:
    """The estimating equation at ``t`` for one analysis (effects ``y - c``).

    Returns ``(value, fisher_step, newton_step)``; ``value`` decreases in ``t`` (positive
    below the root). kind 3 = ML, 4 = REML, 5 = PM (y'Py - target)."""
    if kind == 5:
        rss, ypy2 = _q_sums(y, c, v, m, t)
        val = rss - target
        slope = ypy2 if ypy2 > 0 else 1.0
        return val, val / slope, val / slope
    s1, s2, trp, trp2, rss, ypy2, ypy3, _ = _sums(y, c, v, m, t, False)
    if kind == 3:
        val = ypy2 - s1
        info = s2
    else:
        val = ypy2 - trp
        info = trp2
    slope = info - 2 * ypy3
    newton = val / (-slope if slope < 0 else info)
    return val, val / info, newton


@_njit()
def _loglik(y: FloatArray, c: float, v: FloatArray, m: int, t: float, kind: int) -> float:
    """ML (kind 3) or full REML (kind 4) log-likelihood of the intercept-only model."""
    k: int = y.shape[0]
    s1, _, _, _, rss, _, _, logv = _sums(y, c, v, m, t, True)
    if kind == 3:
        return -0.5 * k * _LOG2PI - 0.5 * logv - 0.5 * rss
    return (-0.5 * (k - 1) * _LOG2PI + 0.5 * math.log(k) - 0.5 * logv
            - 0.5 * math.log(s1) - 0.5 * rss)


@_njit()
def _flush(prod: float, i: int, smallest: float, largest: float) -> bool:
    """Whether to take the log of the running product of ``v_i + tau2`` now: at every 8th
    study if it has left [1e-150, 1e150], and at once if the factor just multiplied lies
    outside [1e-15, 1e15] (so that eight more factors can never overflow or underflow). Logs
    are the costly part of a likelihood; this takes one per analysis for ordinary data."""
    if smallest < 1e-15 or largest > 1e15:
        return True
    return i % 8 == 7 and not (1e-150 < prod < 1e150)


@_njit()
def _grid_loglik(y: FloatArray, c: float, v: FloatArray, top: float, frac: FloatArray,
                 kind: int, scratch: FloatArray) -> FloatArray:
    """:func:`_loglik` at every grid point ``top * frac[j]`` at once, into ``scratch[0]``.

    The loop over grid points is innermost so that it runs in SIMD lanes; the weighted
    residual sum of squares is taken in one pass as
    :math:`\\sum w d^2 - (\\sum w d)^2 / \\sum w` (d = y - c), the log terms as logs of
    products (see :func:`_flush`). ``scratch``: a work array of at least (5, len(frac))."""
    g = frac.shape[0]
    k = y.shape[0]
    out: FloatArray                    # a row of scratch
    out, s1, swd, swd2, prod = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    s1[:] = 0.0
    swd[:] = 0.0
    swd2[:] = 0.0
    prod[:] = 1.0
    out[:] = 0.0                       # the sum of logs, until the end
    lo = top * frac[0]
    hi = top * frac[g - 1]
    for i in range(k):
        d = y[i] - c
        vi = v[i]
        for j in range(g):
            vt = vi + top * frac[j]
            w = 1.0 / vt
            s1[j] += w
            swd[j] += w * d
            swd2[j] += w * d * d
            prod[j] *= vt
        if i % 8 == 7 or vi + lo < 1e-15 or vi + hi > 1e15:
            for j in range(g):
                if _flush(prod[j], i, vi + lo, vi + hi):
                    out[j] += math.log(prod[j])
                    prod[j] = 1.0
    for j in range(g):
        rss = swd2[j] - swd[j] * swd[j] / s1[j]
        if kind == 3:
            out[j] = -0.5 * k * _LOG2PI - 0.5 * (out[j] + math.log(prod[j])) - 0.5 * rss
        else:
            out[j] = (-0.5 * (k - 1) * _LOG2PI + 0.5 * math.log(k) - 0.5 * rss
                      - 0.5 * (out[j] + math.log(prod[j] * s1[j])))
    return out


@_njit()
def _bracket(y: FloatArray, c: float, v: FloatArray, m: int, lower: float, kind: int,
             target: float, tol: float, max_iter: int) -> tuple[float, bool, int]:
    """The safeguarded root search (Illinois regula falsi) from ``lower``: the reference
    engine's :func:`~metaverdict.models.random_effects.solve_decreasing` for one analysis.
    Returns ``(root, converged, iterations)``."""
    flo, _, step = _score(y, c, v, m, lower, kind, target)
    if flo <= 0:
        return lower, True, 0
    lo = lower
    hi = lower + (step if (math.isfinite(step) and step > 0) else 1.0) + 1e-8
    fhi = _score(y, c, v, m, hi, kind, target)[0]
    for _ in range(200):
        if not fhi > 0:
            break
        lo, flo = hi, fhi
        hi = hi * 4
        fhi = _score(y, c, v, m, hi, kind, target)[0]
    t = lo
    last = 0
    for it in range(1, max(max_iter, 200) + 1):
        denom = fhi - flo
        t_new = (lo * fhi - hi * flo) / (denom if denom != 0 else 1.0)
        if not (lo < t_new < hi) or denom == 0:
            t_new = (lo + hi) / 2
        ft = _score(y, c, v, m, t_new, kind, target)[0]
        if ft > 0:
            if last == 1:
                fhi /= 2
            lo, flo, last = t_new, ft, 1
        else:
            if last == -1:
                flo /= 2
            hi, fhi, last = t_new, ft, -1
        if abs(t_new - t) <= tol * (1 + t_new) or ft == 0 or hi - lo <= tol * (1 + lo):
            return t_new, True, it
        t = t_new
    return t, False, max(max_iter, 200)


@_njit()
def _likelihood_root(y: FloatArray, c: float, v: FloatArray, m: int, start: float,
                     kind: int, tol: float, max_iter: int, global_mode: int, top_frac: FloatArray,
                     scratch: FloatArray) -> tuple[float, bool, int]:
    """ML/REML tau² for one analysis: Newton/Fisher steps from ``start``, bracketing if they do
    not settle, then the checks for a higher maximum (see the module docstring)."""
    t = start
    its = 0
    done = False
    for _ in range(max_iter):
        _, _, step = _score(y, c, v, m, t, kind, 0.0)
        boundary = False
        if t + step < 0:
            if _score(y, c, v, m, 0.0, kind, 0.0)[0] <= 0:
                boundary = True
                step = -t
            else:
                for _ in range(60):
                    if t + step >= 0:
                        break
                    step /= 2
        t_new = max(t + step, 0.0)
        its += 1
        if boundary or abs(t_new - t) <= tol * (1 + t_new):
            t = t_new
            done = True
            break
        t = t_new
    conv = True
    if not done:
        t, conv, it2 = _bracket(y, c, v, m, 0.0, kind, 0.0, tol, max_iter)
        its += it2
    if global_mode == 0:
        return t, conv, its
    if global_mode == 2 and t > 0 and _score(y, c, v, m, 0.0, kind, 0.0)[0] > 0:
        return t, conv, its
    # metafor's comparison with tau2 = 0
    ll = _loglik(y, c, v, m, t, kind)
    if t > 0 and _loglik(y, c, v, m, 0.0, kind) - ll > 1e-12 * (1 + abs(ll)):
        t = 0.0
    # the grid search for a higher maximum
    k = y.shape[0]
    ss = 0.0
    vmax = v[0]
    for i in range(k):
        ss += (y[i] - c) * (y[i] - c)
        vmax = max(vmax, v[i])
    top = 4 * (ss / (k - 1) + vmax)
    ll_hat = _loglik(y, c, v, m, t, kind)
    best = ll_hat
    best_j = -1
    grid_ll = _grid_loglik(y, c, v, top, top_frac, kind, scratch)
    for j in range(top_frac.shape[0]):
        llj = grid_ll[j]
        if llj > best + 1e-10 * (1 + abs(best)):
            best = llj
            best_j = j
    if best_j >= 0:
        start2 = top * top_frac[best_j - 1] if best_j > 0 else 0.0
        t2, _, it2 = _bracket(y, c, v, m, start2, kind, 0.0, tol, max_iter)
        if (_score(y, c, v, m, start2, kind, 0.0)[0] > 0
                and _loglik(y, c, v, m, t2, kind) > ll_hat):
            t = t2
            its += it2
    return t, conv, its


@_njit(parallel=True)
def _fit_block(y_raw: FloatArray, v: FloatArray, kind: int, knha: bool, crit: float,
               tol: float, max_iter: int, global_mode: int, top_frac: FloatArray,
               out: FloatArray) -> None:
    n = y_raw.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for ch in numba.prange(n_chunks):
        scratch = np.empty((5, top_frac.shape[0]))          # per task, reused
        for a in range(ch * _CHUNK, min(n, (ch + 1) * _CHUNK)):
            _fit_one(y_raw[a], v[a], a, kind, knha, crit, tol, max_iter, global_mode,
                     top_frac, scratch, out)


@_njit()
def _fit_one(yr: FloatArray, va: FloatArray, a: int, kind: int, knha: bool, crit: float,
             tol: float, max_iter: int, global_mode: int, top_frac: FloatArray,
             scratch: FloatArray, out: FloatArray) -> None:
    """Every output field of analysis ``a`` into column ``a`` of ``out``."""
    k = yr.shape[0]
    c = 0.0
    m = 0                       # the study with the largest weight (see _sums)
    for i in range(k):
        c += yr[i]
        if va[i] < va[m]:
            m = i
    c /= k                      # centring offset, as in the reference engine
    # the common-effect projection (weights 1/v): Q, tr P, tr P^2
    _, _, tr_p, ss_p, rss_fe, _, _, _ = _sums(yr, c, va, m, 0.0, False)
    tau2 = 0.0
    tau2_se = math.nan
    conv = True
    its = 0
    if kind != 0 and k > 1:
        if kind == 1:                                   # DL
            tau2 = max((rss_fe - (k - 1)) / tr_p, 0.0)
            tau2_se = math.sqrt(2 * (k - 1) + 4 * tau2 * tr_p + 2 * tau2 * tau2 * ss_p) / tr_p
        else:
            sv = 0.0
            sv2 = 0.0
            ss = 0.0
            for i in range(k):
                sv += va[i]
                sv2 += va[i] * va[i]
                ss += (yr[i] - c) * (yr[i] - c)
            trpv = sv - sv / k
            he = (ss - trpv) / (k - 1)
            if kind == 2:                               # HE
                tau2 = max(he, 0.0)
                sspv = sv2 - 2 * sv2 / k + (sv / k) ** 2
                tau2_se = math.sqrt(2 * sspv + 4 * tau2 * trpv
                                    + 2 * tau2 * tau2 * (k - 1)) / (k - 1)
            elif kind == 5:                             # PM
                tau2, conv, its = _bracket(yr, c, va, m, 0.0, 5, float(k - 1), tol, max_iter)
            else:                                       # ML, REML
                tau2, conv, its = _likelihood_root(yr, c, va, m, max(he, 0.0), kind, tol,
                                                   max_iter, global_mode, top_frac,
                                                   scratch)
            if kind == 4:
                tau2_se = math.sqrt(2 / _sums(yr, c, va, m, tau2, False)[3])
    # pooling at tau2 (on the raw effects)
    sw = 0.0
    sw2 = 0.0
    swy = 0.0
    for i in range(k):
        w = 1.0 / (va[i] + tau2)
        sw += w
        sw2 += w * w
        swy += w * yr[i]
    if kind == 3 and k > 1:
        tau2_se = math.sqrt(2 / sw2)
    elif kind == 5 and k > 1:
        tau2_se = math.sqrt(2.0 * k * k / (k - 1)) / sw
    beta = swy / sw
    var = 1.0 / sw
    s2w = 1.0
    if knha:
        rss = _sums(yr, c, va, m, tau2, False)[4]            # y'Py at tau2
        s2w = rss / (k - 1) if k > 1 else math.nan
        if rss <= _EPS:
            s2w = 0.0
        var *= s2w
    se = math.sqrt(var)
    if se > 0:
        stat = beta / se
    elif beta > 0:
        stat = math.inf
    elif beta < 0:
        stat = -math.inf
    else:
        stat = 0.0
    if k > 1:
        q = max(rss_fe, 0.0)
        vt = (k - 1) / tr_p
        if kind == 0:
            i2 = max(100 * (q - (k - 1)) / q, 0.0) if q > 0 else 0.0
            h2 = q / (k - 1)
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    else:
        q, i2, h2 = 0.0, 0.0, 1.0
    half_pi = crit * math.sqrt(se * se + tau2)
    if k == 1:
        q_p = 1.0
    elif k - 1 <= CLOSED_FORM_MAX_DF:
        q_p = chi2_sf_int(q, k - 1)
    else:
        q_p = math.nan
    out[0, a] = beta
    out[1, a] = se
    out[2, a] = stat
    out[3, a] = math.nan if knha else math.erfc(abs(stat) / math.sqrt(2.0))
    out[4, a] = beta - crit * se
    out[5, a] = beta + crit * se
    out[6, a] = tau2
    out[7, a] = tau2_se
    out[8, a] = i2
    out[9, a] = h2
    out[10, a] = q
    out[11, a] = q_p
    out[12, a] = beta - half_pi
    out[13, a] = beta + half_pi
    out[14, a] = 1.0 if conv else 0.0
    out[15, a] = its
    out[16, a] = s2w


@_njit()
def first_invalid(y: np.ndarray, v: np.ndarray) -> int:
    """The first row where ``y`` is not finite or ``v`` is not a finite number > 0, or -1."""
    for i in range(y.shape[0]):
        if not (math.isfinite(y[i]) and math.isfinite(v[i]) and v[i] > 0):
            return i
    return -1


def fit_block(method: str, y: np.ndarray, v: np.ndarray, out: np.ndarray, *, knha: bool,
              crit: float, tol: float, max_iter: int, global_search: bool | str,
              grid: np.ndarray) -> None:
    """Fit the ``(n, k)`` block ``y``, ``v`` of one method into ``out`` (``(len(OUT_FIELDS),
    n)``, float64, may be a view). ``crit``: the critical value of the CI (normal, or t on
    k - 1 df for ``knha``); ``grid``: the fractions of the likelihood grid."""
    _fit_block(np.ascontiguousarray(y, dtype=np.float64),
               np.ascontiguousarray(v, dtype=np.float64),
               COMPILED_METHODS[method], bool(knha), float(crit), float(tol), int(max_iter),
               _GLOBAL[global_search], grid, out)
