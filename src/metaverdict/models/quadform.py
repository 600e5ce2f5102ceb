"""Distribution of a positive weighted sum of chi-squared variables, and the generalised
Q-statistic estimator and confidence interval of tau² built on it (DerSimonian & Kacker 2007;
Jackson 2013), as metafor's ``method="GENQM"`` and ``confint`` of GENQ/GENQM fits compute them
with CompQuadForm.

With user weights :math:`a_i` (default :math:`1/v_i`), :math:`A = \\mathrm{diag}(a)` and
:math:`P_a = A - A X (X'AX)^{-1} X'A`, the generalised Q statistic :math:`Q_a = y'P_a y` is,
for normal data with true :math:`\\tau^2`, distributed as :math:`\\sum_{j=1}^{k-p} \\lambda_j
\\chi^2_1` with :math:`\\lambda_j` the non-zero eigenvalues of :math:`S P_a S`,
:math:`S = \\mathrm{diag}(\\sqrt{v_i + \\tau^2})`. Its upper tail probability
:math:`G(\\tau^2) = \\Pr(Q_a(\\tau^2) > Q_{obs})` increases with tau².

* GENQM (median-unbiased): the root of :math:`G(\\tau^2) = 1/2` (0 when :math:`G(0) > 1/2`).
* Generalised Q-profile CI: lower bound where :math:`G = \\alpha/2`, upper bound where
  :math:`G = 1 - \\alpha/2` (0 when G is already above the level at 0).

The tail probability is computed by Imhof's (1961) inversion of the characteristic function,
integrated with :func:`scipy.integrate.quad` (the oscillating tail with QUADPACK's Fourier
integrator QAWF), to about 1e-12 absolute.

References
----------
Imhof JP (1961). Computing the distribution of quadratic forms in normal variables.
*Biometrika* 48:419-426. DerSimonian R, Kacker R (2007). Random-effects model for
meta-analysis of clinical trials: an update. *Contemporary Clinical Trials* 28:105-114.
Jackson D (2013). Confidence intervals for the between-study variance in random effects
meta-analysis using generalised Cochran heterogeneity statistics. *Research Synthesis
Methods* 4:220-229.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import integrate, optimize

from metaverdict.errors import InputError

#: absolute accuracy of :func:`weighted_chi2_sf`
SF_TOL = 1e-13


def weighted_chi2_sf(x: float, weights: Any) -> float:
    """Upper tail probability :math:`\\Pr(\\sum_j \\lambda_j \\chi^2_1 > x)` of a weighted sum of
    independent one-df chi-squared variables with positive weights :math:`\\lambda_j`.

    Imhof (1961): :math:`\\Pr(Q > x) = \\tfrac12 + \\tfrac1\\pi \\int_0^\\infty
    \\sin\\theta(u) / (u\\,\\rho(u))\\,du` with :math:`\\theta(u) = \\tfrac12 \\sum_j
    \\arctan(\\lambda_j u) - \\tfrac12 x u` and :math:`\\rho(u) = \\prod_j (1 + \\lambda_j^2
    u^2)^{1/4}`. The weights are scaled by their maximum first; the integral is split at a few
    periods of :math:`\\sin(xu/2)`, and the oscillating remainder is a sine and a cosine
    Fourier integral of slowly varying functions (QUADPACK QAWF).

    Parameters
    ----------
    x : float
        The quantile (any real; ``Pr = 1`` for ``x <= 0``).
    weights : array-like
        The weights :math:`\\lambda_j > 0` (at least one).

    Returns
    -------
    float
        The probability, accurate to about 1e-12 (clipped to [0, 1]).

    Examples
    --------
    >>> round(weighted_chi2_sf(3.0, [1.0, 1.0]), 10)   # chi2(2): exp(-3/2)
    0.2231301601
    """
    lam = np.asarray(weights, dtype=float).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise InputError("field 'weights': the weights of a chi-squared sum must be positive "
                         f"and finite, got {lam.tolist()!r}")
    if not math.isfinite(x):
        raise InputError(f"field 'x': must be finite, got {x!r}")
    if x <= 0:
        return 1.0
    top = float(lam.max())
    lam, x = lam / top, x / top
    half_x = x / 2

    def log_rho(u: float) -> float:
        return 0.25 * float(np.sum(np.log1p((lam * u) ** 2)))

    def angle(u: float) -> float:
        return 0.5 * float(np.sum(np.arctan(lam * u)))

    def head(u: float) -> float:
        if u == 0:
            return 0.5 * float(lam.sum()) - half_x      # the limit of sin(theta)/u at 0
        return math.sin(angle(u) - half_x * u) / (u * math.exp(log_rho(u)))

    def envelope(u: float) -> float:
        return 1 / (u * math.exp(log_rho(u)))

    # a few periods of sin(x u / 2), but at least to where every weight's arctan has turned
    split = max(8 * math.pi / half_x, 8.0)
    edges = np.concatenate([[0.0], np.geomspace(min(1.0, split), split, 12)])
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        total += float(integrate.quad(head, lo, hi, epsabs=SF_TOL, epsrel=1e-12, limit=400)[0])
    # tail: sin(A - w u) = sin A cos(w u) - cos A sin(w u), A = angle(u), w = x/2
    tail_c = float(integrate.quad(lambda u: math.sin(angle(u)) * envelope(u), split, np.inf,
                                  weight="cos", wvar=half_x, epsabs=SF_TOL, limlst=200)[0])
    tail_s = float(integrate.quad(lambda u: math.cos(angle(u)) * envelope(u), split, np.inf,
                                  weight="sin", wvar=half_x, epsabs=SF_TOL, limlst=200)[0])
    prob = 0.5 + (total + tail_c - tail_s) / math.pi
    return min(1.0, max(0.0, prob))


def generalised_q_weights(v: np.ndarray, tau2: float, a: np.ndarray,
                          X: np.ndarray | None) -> np.ndarray:
    """The ``k - p`` non-zero eigenvalues of :math:`S P_a S` (module docstring): the weights of
    the chi-squared sum that :math:`Q_a` follows when tau² is the true value."""
    k = v.size
    X1 = np.ones((k, 1)) if X is None else np.asarray(X, dtype=float)
    p = X1.shape[1]
    ax = a[:, None] * X1
    P = np.diag(a) - ax @ np.linalg.solve(X1.T @ ax, ax.T)
    s = np.sqrt(v + tau2)
    lam = np.linalg.eigvalsh(s[:, None] * P * s[None, :])
    return np.sort(lam)[::-1][: k - p]


def generalised_q(y: np.ndarray, a: np.ndarray, X: np.ndarray | None) -> float:
    """The generalised Q statistic :math:`y'P_a y` (weighted residual sum of squares)."""
    X1 = np.ones((y.size, 1)) if X is None else np.asarray(X, dtype=float)
    ax = a[:, None] * X1
    beta = np.linalg.solve(X1.T @ ax, ax.T @ y)
    r = y - X1 @ beta
    return float(np.sum(a * r * r))


def _tail(q: float, v: np.ndarray, a: np.ndarray, X: np.ndarray | None, tau2: float) -> float:
    return weighted_chi2_sf(q, generalised_q_weights(v, tau2, a, X))


def generalised_q_root(y: np.ndarray, v: np.ndarray, a: np.ndarray, X: np.ndarray | None,
                       prob: float, xtol: float = 1e-13) -> float:
    """The tau² at which :math:`\\Pr(Q_a(\\tau^2) > Q_{obs}) = ` ``prob`` (0 when the tail
    probability is already above ``prob`` at tau² = 0): ``prob = 0.5`` is the GENQM estimate,
    ``alpha/2`` and ``1 - alpha/2`` the bounds of the generalised Q-profile CI.

    The bracket is grown from the scale of the data until the tail probability exceeds
    ``prob``; the root is then found by Brent's method to ``xtol (1 + tau²)``-ish accuracy.
    """
    q = generalised_q(y, a, X)
    if _tail(q, v, a, X, 0.0) >= prob:
        return 0.0

    def f(t: float) -> float:
        return _tail(q, v, a, X, t) - prob

    hi = max(float(np.var(y)), float(np.min(v)), 1e-8)
    for _ in range(200):
        if f(hi) > 0:
            break
        hi *= 4
    else:  # pragma: no cover - the tail probability tends to 1 as tau² grows
        raise InputError("no tau² reaches the generalised Q target (check yi and vi)")
    return float(optimize.brentq(f, 0.0, hi, xtol=xtol * max(1.0, float(np.min(v))),
                                 rtol=4 * np.finfo(float).eps, maxiter=500))
