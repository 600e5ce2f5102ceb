"""R's root finder, iterate for iterate: where a result must be the point that metafor's
``uniroot`` finds, not just a root.

SciPy's :func:`scipy.optimize.brentq` implements the same method (Brent 1973), but its steps
differ in detail from R's ``R_zeroin2`` (the C routine behind ``uniroot``). For a smooth
function both give the root to the tolerance. For a step function that is exactly 0 on a
plateau (a permutation p-value minus alpha/2), the point found depends on the path, and for a
loose tolerance (R's default ``.Machine$double.eps^0.25``) so do the digits below it. It serves
the searches whose result must be metafor's point (the permutation CIs of
:mod:`metaverdict.models.permutation`, the Henmi-Copas interval).

Reference: Brent RP (1973). *Algorithms for Minimization without Derivatives*, ch. 4
(Prentice-Hall); Forsythe GE, Malcolm MA, Moler CB (1977). *Computer Methods for
Mathematical Computations*, ``zeroin`` (Prentice-Hall).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

_EPS = float(np.finfo(float).eps)


def zeroin(f: Callable[[float], float], a: float, b: float, fa: float, fb: float,
           tol: float, max_iter: int = 1000) -> tuple[float, bool]:
    """A root of ``f`` in the bracket ``[a, b]`` (``fa = f(a)``, ``fb = f(b)`` of opposite
    signs or one of them 0) by R's ``zeroin``.

    Each step is inverse quadratic interpolation (secant when only two points are distinct),
    or bisection where that would leave the bracket or converge too slowly. The step is
    never shorter than ``tol_act = 2 eps |b| + tol / 2``. The search stops when half the
    bracket is at most ``tol_act``, or when ``f`` is exactly 0.

    Parameters
    ----------
    f : callable
        The function (float to float).
    a, b : float
        The ends of the bracket.
    fa, fb : float
        ``f(a)`` and ``f(b)``; the caller checks the sign change.
    tol : float
        Absolute tolerance (R's ``tol``).
    max_iter : int
        The most evaluations of ``f`` (R's ``maxiter``).

    Returns
    -------
    root : float
        The last iterate ``b``.
    converged : bool
        False where ``max_iter`` evaluations did not settle it (``root`` is then the last
        iterate, as R returns with a warning).
    """
    if fa == 0:
        return a, True
    if fb == 0:
        return b, True
    c, fc = a, fa
    for _ in range(max_iter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):                    # keep b the best approximation
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        step = (c - b) / 2
        if abs(step) <= tol_act or fb == 0:
            return b, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:                           # secant
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:                                # inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                step = p / q
        if abs(step) < tol_act:
            step = tol_act if step > 0 else -tol_act
        a, fa = b, fb
        b += step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, False
