"""Numerical Hessian of a smooth scalar function by central differences with Richardson
extrapolation (the approach of R's numDeriv ``hessian``, which metafor uses for the standard
errors of its likelihood-based models: selection and location-scale models).

The step for coordinate i starts at :math:`h_i = d\\,|x_i|` (or ``eps`` where ``x_i`` is near 0)
and is halved ``r - 1`` times; the second differences at the successive steps are combined by
Richardson extrapolation, which removes the :math:`h^2, h^4, \\ldots` error terms.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, *, d: float = 0.1,
            eps: float = 1e-4, r: int = 4) -> np.ndarray:
    """The (n, n) Hessian of ``f`` at ``x`` (central differences, ``r`` Richardson levels;
    numDeriv's defaults: relative step ``d = 0.1``, absolute step ``eps`` for ``x`` near 0).

    Diagonal: :math:`[f(x+h e_i) - 2f(x) + f(x-h e_i)]/h^2`; off-diagonal:
    :math:`[f(x+h_ie_i+h_je_j) - f(x+h_ie_i-h_je_j) - f(x-h_ie_i+h_je_j) +
    f(x-h_ie_i-h_je_j)]/(4h_ih_j)`.
    """
    x = np.asarray(x, dtype=float)
    zero_tol = np.sqrt(np.finfo(float).eps / 7e-7)
    h0 = np.where(np.abs(x) < zero_tol, eps, d * np.abs(x))
    with np.errstate(invalid="ignore", over="ignore"):     # inf - inf off the domain: NaN
        levels = _levels(f, x, float(f(x)), h0, r)
        # Richardson: halving h divides the leading error term h^(2m) by 4^m
        for m in range(1, r):
            levels = [(4 ** m * levels[i + 1] - levels[i]) / (4 ** m - 1)
                      for i in range(len(levels) - 1)]
    out: np.ndarray = levels[0]
    return out


def _levels(f: Callable[[np.ndarray], float], x: np.ndarray, f0: float, h0: np.ndarray,
            r: int) -> list[np.ndarray]:
    """Central-difference Hessians at the steps h0, h0/2, ..., h0/2^(r-1)."""
    n = x.size
    levels = []
    for level in range(r):
        h = h0 / 2.0 ** level
        hess = np.empty((n, n))
        for i in range(n):
            ei = np.zeros(n)
            ei[i] = h[i]
            hess[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(n)
                ej[j] = h[j]
                hess[i, j] = hess[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                           + f(x - ei - ej)) / (4 * h[i] * h[j])
        levels.append(hess)
    return levels


def inverse_pd(H: np.ndarray) -> np.ndarray | None:
    """The inverse of a symmetric positive definite matrix (via Cholesky, as R's
    ``chol2inv(chol(H))``), or None when ``H`` is not finite or not positive definite."""
    if not np.all(np.isfinite(H)):
        return None
    try:
        inv = np.linalg.inv(np.linalg.cholesky(H))
    except np.linalg.LinAlgError:
        return None
    out: np.ndarray = inv.T @ inv
    return out if np.all(np.isfinite(out)) else None
