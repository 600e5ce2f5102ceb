"""Numerics of the generalized linear mixed models of :mod:`metaverdict.models.glmm`.

Three pieces:

* conditional likelihoods of one study's observations given their linear predictor ``eta``
  (binomial-logit, Poisson-log, Fisher's non-central hypergeometric), each returning the
  log-likelihood and its first two derivatives in ``eta``;
* :func:`glm_fit`, a replica of R's ``glm.fit`` (IRLS from the same starting values, with the
  same convergence rule and the same clamping of the logit link), used for the fixed-effects
  and saturated models, whose non-converging separated fits metafor reports as they stop;
* :class:`MixedProblem`, the marginal likelihood of a GLMM with one (or two) normal random
  effects per study, integrated by adaptive Gauss-Hermite quadrature around each study's
  conditional mode (Laplace's approximation with one node), as ``lme4::glmer`` does, and
  maximised with SciPy's ``trust-exact`` on finite-difference derivatives that exploit the
  per-study structure.

Arrays of observations have shape ``(k, r)``: ``k`` studies with ``r`` observations each (two
arms, or one conditional / single-group observation).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from metaverdict.errors import ConvergenceError

Array = npt.NDArray[np.float64]
Derivs = tuple[Array, Array, Array]

_EPS = float(np.finfo(float).eps)


# --------------------------------------------------------------------------------------------
# conditional likelihoods

class Family:
    """Conditional log-likelihood of the observations given ``eta`` (shape ``(..., k, r)``);
    ``y`` holds the observed counts, shape ``(k, r)``."""

    y: Array

    def derivs(self, eta: Array) -> Derivs:
        """``(loglik, d loglik / d eta, d2 loglik / d eta2)``, elementwise."""
        raise NotImplementedError

    def saturated(self) -> Array:
        """Log-likelihood of each observation at its own best fit (for deviances; binomial
        and Poisson only)."""
        raise NotImplementedError


class Binomial(Family):
    """``y`` events out of ``n``, logit link: ``log C(n, y) + y eta - n log(1 + e^eta)``."""

    def __init__(self, y: Array, n: Array) -> None:
        self.y, self.n = y, n
        self.const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)

    def derivs(self, eta: Array) -> Derivs:
        mu = special.expit(eta)
        ll = self.const + self.y * eta - self.n * np.logaddexp(0.0, eta)
        return ll, self.y - self.n * mu, -self.n * mu * (1 - mu)

    def saturated(self) -> Array:
        p = self.y / self.n
        out: Array = self.const + special.xlogy(self.y, p) + special.xlogy(self.n - self.y, 1 - p)
        return out


class Poisson(Family):
    """``y`` events, log link: ``y eta - e^eta - log y!`` (the offset is part of ``eta``)."""

    def __init__(self, y: Array) -> None:
        self.y = y
        self.const = -special.gammaln(y + 1)

    def derivs(self, eta: Array) -> Derivs:
        mu = np.exp(eta)
        return self.const + self.y * eta - mu, self.y - mu, -mu

    def saturated(self) -> Array:
        out: Array = self.const + special.xlogy(self.y, self.y) - self.y
        return out


class NoncentralHypergeometric(Family):
    """Fisher's non-central hypergeometric probability of ``a`` given the margins of a 2x2
    table, as a function of the log odds ratio ``eta``: with ``c_x = log C(n1, x) +
    log C(n2, m1 - x)`` over the support ``max(0, m1 - n2) <= x <= min(n1, m1)``,
    ``loglik = eta a + c_a - log sum_x exp(eta x + c_x)``; its derivatives are ``a - E[X]``
    and ``-Var[X]`` (McCullagh & Nelder 1989, sec. 7.3)."""

    def __init__(self, a: Array, n1: Array, n2: Array, m1: Array) -> None:
        lo, hi = np.maximum(0, m1 - n2), np.minimum(n1, m1)
        width = int(np.max(hi - lo)) + 1
        x = lo[:, None] + np.arange(width)[None, :]
        valid = x <= hi[:, None]
        xs = np.where(valid, x, lo[:, None])
        c = (special.gammaln(n1 + 1)[:, None] - special.gammaln(xs + 1)
             - special.gammaln(n1[:, None] - xs + 1) + special.gammaln(n2 + 1)[:, None]
             - special.gammaln(m1[:, None] - xs + 1) - special.gammaln(n2[:, None] - m1[:, None]
                                                                        + xs + 1))
        self.a = a
        self.y = a[:, None]
        self.x = xs.astype(float)
        self.c = np.where(valid, c, -np.inf)
        self.ca = c[np.arange(a.size), (a - lo).astype(int)]

    def derivs(self, eta: Array) -> Derivs:
        e = eta[..., 0]                                       # one observation per study
        t = e[..., None] * self.x + self.c
        top = np.max(t, axis=-1, keepdims=True)
        w = np.exp(t - top)
        total = np.sum(w, axis=-1)
        mean = np.sum(w * self.x, axis=-1) / total
        var = np.maximum(np.sum(w * self.x**2, axis=-1) / total - mean**2, 0.0)
        ll = e * self.a + self.ca - (np.log(total) + top[..., 0])
        return ll[..., None], (self.a - mean)[..., None], -var[..., None]


# --------------------------------------------------------------------------------------------
# R's glm.fit

@dataclass(frozen=True)
class GlmFit:
    """Result of :func:`glm_fit`: coefficients, their covariance ``(X'WX)^-1`` (weights of
    the last iteration, as ``summary.glm``), the log-likelihood and the iterations used."""

    coef: Array
    vcov: Array
    loglik: float
    iterations: int


def _logit_inverse(eta: Array) -> tuple[Array, Array]:
    # R's C code clamps the logit link at |eta| = 30 (mu.eta then eps)
    t = np.where(eta < -30, _EPS, np.where(eta > 30, 1 / _EPS, np.exp(np.clip(eta, -30, 30))))
    mu = t / (1 + t)
    dmu = np.where(np.abs(eta) > 30, _EPS, t / (1 + t) ** 2)
    return mu, dmu


def glm_fit(y: Array, n: Array | None, X: Array, offset: Array, *, epsilon: float = 1e-8,
            maxit: int = 25) -> GlmFit:
    """Fit a binomial-logit (``n`` = trials) or Poisson-log (``n`` is None) GLM as R's
    ``glm.fit`` does (starting values ``mu = (n y + 1/2)/(n + 1)`` on the proportion scale
    or ``y + 0.1``; stop when ``|dev - dev_old| / (|dev| + 0.1) < epsilon``).

    ``y``, ``n``, ``offset`` are 1-D over observations; ``X`` is of full column rank.
    """
    binomial = n is not None
    resp = y if n is None else y / n
    if binomial:
        assert n is not None
        mu = (n * resp + 0.5) / (n + 1)
        eta = np.log(mu / (1 - mu))
        fam: Family = Binomial(y, n)
    else:
        mu = y + 0.1
        eta = np.log(mu)
        fam = Poisson(y)
    sat = float(np.sum(fam.saturated()))

    def deviance(mu_: Array) -> float:
        if binomial:
            assert n is not None
            ll = (special.xlogy(y, mu_) + special.xlogy(n - y, 1 - mu_)
                  + special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1))
        else:
            ll = special.xlogy(y, mu_) - mu_ - special.gammaln(y + 1)
        return 2 * (sat - float(np.sum(ll)))

    dev_old = deviance(mu)
    coef = np.zeros(X.shape[1])
    xtwx = np.eye(X.shape[1])
    it = 0
    for it in range(1, maxit + 1):
        if binomial:
            assert n is not None
            _, dmu = _logit_inverse(eta)
            variance = mu * (1 - mu) / n
        else:
            dmu = np.maximum(np.exp(eta), _EPS)
            variance = mu
        z = eta - offset + (resp - mu) / dmu
        w = dmu**2 / variance
        sw = np.sqrt(w)
        coef = np.asarray(np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0], dtype=float)
        xtwx = (X * w[:, None]).T @ X
        eta = X @ coef + offset
        mu = _logit_inverse(eta)[0] if binomial else np.maximum(np.exp(eta), _EPS)
        dev = deviance(mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            break
        dev_old = dev
    ll = float(np.sum(fam.derivs(eta)[0])) if not binomial else sat - deviance(mu) / 2
    vcov = np.asarray(np.linalg.inv(xtwx), dtype=float)
    return GlmFit(coef, vcov, ll, it)


def wald_in_span(delta: Array, vcov: Array, X: Array) -> float:
    """Wald statistic of ``H0: delta = X beta`` for an estimate ``delta`` with covariance
    ``vcov``: ``delta' (V^-1 - V^-1 X (X' V^-1 X)^-1 X' V^-1) delta`` (0 when ``X`` spans
    everything)."""
    if X.shape[1] >= delta.size:
        return 0.0
    vi = np.linalg.inv(vcov)
    vix = vi @ X
    resid = delta @ vi @ delta - (delta @ vix) @ np.linalg.solve(X.T @ vix, vix.T @ delta)
    return max(float(resid), 0.0)


# --------------------------------------------------------------------------------------------
# marginal likelihood with normal random effects

def gauss_hermite(nodes: int) -> tuple[Array, Array]:
    """Nodes and weights for integrals against the standard normal density (lme4's
    ``GHrule``): ``int f(z) phi(z) dz ~ sum w_g f(z_g)``."""
    x, w = np.polynomial.hermite.hermgauss(nodes)
    return math.sqrt(2.0) * x, w / math.sqrt(math.pi)


@dataclass
class MixedProblem:
    """Linear predictor ``eta_ij = offset_ij + F_ij phi + a_j alpha_i + z_ij' Lambda v_i``
    with spherical random effects ``v_i ~ N(0, I_q)`` (so ``b_i = Lambda v_i ~ N(0,
    Lambda Lambda')``) and the conditional likelihood ``family``.

    Parameters are packed as ``x = [phi (m), theta (n_theta), alpha (k, if alpha_loading)]``;
    ``theta`` fills the lower-triangular ``Lambda`` (q = 1: ``[tau]``; q = 2 uncorrelated:
    ``[sigma, tau]``; q = 2 correlated: ``[l11, l21, l22]``, lme4's ``theta``).
    """

    family: Family
    offset: Array                 # (k, r)
    F: Array                      # (k, r, m)
    Z: Array                      # (k, r, q)
    nodes: int = 1
    alpha_loading: Array | None = None  # (r,)
    correlated: bool = False

    @property
    def k(self) -> int:
        return int(self.offset.shape[0])

    @property
    def m(self) -> int:
        return int(self.F.shape[2])

    @property
    def q(self) -> int:
        return int(self.Z.shape[2])

    @property
    def n_theta(self) -> int:
        return 3 if self.correlated else self.q

    @property
    def n_shared(self) -> int:
        return self.m + self.n_theta

    def unpack(self, x: Array) -> tuple[Array, Array, Array]:
        """``(phi, Lambda, alpha)`` from the packed parameters (alpha zeros when absent)."""
        phi, theta = x[:self.m], x[self.m:self.n_shared]
        lam = np.zeros((self.q, self.q))
        if self.correlated:
            lam[0, 0], lam[1, 0], lam[1, 1] = theta
        else:
            lam[np.diag_indices(self.q)] = theta
        alpha = x[self.n_shared:] if self.alpha_loading is not None else np.zeros(self.k)
        return phi, lam, alpha

    def _parts(self, x: Array) -> tuple[Array, Array]:
        phi, lam, alpha = self.unpack(x)
        base = self.offset + self.F @ phi
        if self.alpha_loading is not None:
            base = base + alpha[:, None] * self.alpha_loading[None, :]
        return base, self.Z @ lam               # (k, r), (k, r, q)

    def _mode(self, base: Array, zl: Array) -> tuple[Array, Array, Array]:
        """Conditional modes ``v_i`` of ``sum_j loglik_ij - |v_i|^2 / 2`` (damped Newton),
        the penalised log-likelihood there and the negative Hessian (k, q, q)."""
        k, q = base.shape[0], zl.shape[2]
        v = np.zeros((k, q))

        def penalised(v_: Array) -> tuple[Array, Array, Array]:
            ll, d1, d2 = self.family.derivs(base + np.einsum("krq,kq->kr", zl, v_))
            g = ll.sum(axis=1) - 0.5 * np.sum(v_**2, axis=1)
            grad = np.einsum("krq,kr->kq", zl, d1) - v_
            hess = np.einsum("krq,kr,krs->kqs", zl, -d2, zl) + np.eye(q)
            return g, grad, hess

        g, grad, hess = penalised(v)
        for _ in range(200):
            step = np.linalg.solve(hess, grad[..., None])[..., 0]
            size = 1.0
            for _ in range(40):
                g_new, grad_new, hess_new = penalised(v + size * step)
                worse = g_new < g - 1e-12 * np.abs(g)
                if not np.any(worse):
                    break
                size = 0.5 * size
            v = v + size * step
            g, grad, hess = g_new, grad_new, hess_new
            if np.max(np.abs(size * step)) < 1e-13:
                break
        return v, g, hess

    def study_loglik(self, x: Array) -> Array:
        """Per-study marginal log-likelihoods (k,) at the packed parameters ``x``:
        ``log int prod_j f(y_ij | eta_ij) phi_q(v) dv`` by Laplace's method (``nodes = 1``)
        or adaptive Gauss-Hermite quadrature (q = 1) centred on the mode ``v^`` and scaled by
        the curvature ``H`` there: ``g(v^) - log(H)/2 + log sum_g w_g exp(g(v^ + z_g/sqrt(H))
        - g(v^) + z_g^2/2)``."""
        base, zl = self._parts(x)
        v, g, hess = self._mode(base, zl)
        out: Array = g - 0.5 * np.linalg.slogdet(hess)[1]
        if self.nodes > 1 and self.q == 1:
            z, w = gauss_hermite(self.nodes)
            s = 1.0 / np.sqrt(hess[:, 0, 0])
            vv = v[None, :, 0] + z[:, None] * s[None, :]                      # (G, k)
            eta = base[None] + zl[None, :, :, 0] * vv[..., None]
            gg = self.family.derivs(eta)[0].sum(axis=2) - 0.5 * vv**2
            terms = gg - g[None, :] + 0.5 * z[:, None] ** 2
            out = out + special.logsumexp(terms, axis=0, b=w[:, None])
        return out

    def conditional_deviance(self, x: Array) -> float:
        """``sum 2 (loglik_sat - loglik(eta^))`` at the conditional modes: lme4's
        ``deviance()`` of a GLMM (the sum of squared deviance residuals)."""
        base, zl = self._parts(x)
        v = self._mode(base, zl)[0]
        ll = self.family.derivs(base + np.einsum("krq,kq->kr", zl, v))[0]
        return float(2 * np.sum(self.family.saturated() - ll))


# --------------------------------------------------------------------------------------------
# structured finite differences and the optimiser

def _derivatives(f: Callable[[Array], Array], x: Array, n_shared: int, per_study: bool,
                 h1: float = 1e-5, h2: float = 1e-3) -> tuple[Array, Array]:
    """Gradient and Hessian of ``sum f(x)`` for a per-study function ``f`` (k,) whose last
    ``k`` parameters (when ``per_study``) each enter one study only: perturbing them all at
    once gives every partial derivative from the per-study differences. Central differences
    (steps ``h1`` for the gradient, ``h2`` for the Hessian)."""
    n = x.size
    grad = np.zeros(n)
    hess = np.zeros((n, n))
    alpha = np.zeros(n)
    alpha[n_shared:] = 1.0 if per_study else 0.0
    k_idx = np.arange(n_shared, n)

    def unit(j: int) -> Array:
        e = np.zeros(n)
        e[j] = 1.0
        return e

    f0 = f(x)
    for j in range(n_shared):
        e = unit(j)
        grad[j] = float(np.sum(f(x + h1 * e) - f(x - h1 * e))) / (2 * h1)
        fp, fm = f(x + h2 * e), f(x - h2 * e)
        hess[j, j] = float(np.sum(fp - 2 * f0 + fm)) / h2**2
        for m in range(j):
            e2 = unit(m)
            hess[j, m] = hess[m, j] = float(np.sum(
                f(x + h2 * (e + e2)) - f(x + h2 * (e - e2)) - f(x - h2 * (e - e2))
                + f(x - h2 * (e + e2)))) / (4 * h2**2)
        if per_study:
            cross = (f(x + h2 * (e + alpha)) - f(x + h2 * (e - alpha)) - f(x - h2 * (e - alpha))
                     + f(x - h2 * (e + alpha))) / (4 * h2**2)
            hess[j, k_idx] = hess[k_idx, j] = cross
    if per_study:
        grad[k_idx] = (f(x + h1 * alpha) - f(x - h1 * alpha)) / (2 * h1)
        hess[k_idx, k_idx] = (f(x + h2 * alpha) - 2 * f0 + f(x - h2 * alpha)) / h2**2
    return grad, hess


@dataclass(frozen=True)
class MixedFit:
    """Maximum of a :class:`MixedProblem`: packed estimates, log-likelihood, the inverse of
    the negative Hessian (covariance of all parameters) and convergence."""

    x: Array
    loglik: float
    vcov: Array
    converged: bool
    iterations: int


def maximise(problem: MixedProblem, x0: Array, maxiter: int = 200) -> MixedFit:
    """Maximise the marginal log-likelihood from ``x0`` (SciPy ``trust-exact`` on
    finite-difference derivatives) and invert the negative Hessian at the maximum.

    At a zero variance component the likelihood is flat in the direction of its sign, so the
    covariance is taken from the block of the remaining parameters."""
    per_study = problem.alpha_loading is not None
    cache: dict[bytes, tuple[Array, Array]] = {}

    def derivs(x: Array) -> tuple[Array, Array]:
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = _derivatives(problem.study_loglik, x, problem.n_shared, per_study)
        return cache[key]

    try:
        res = optimize.minimize(lambda x: -float(np.sum(problem.study_loglik(x))), x0,
                                jac=lambda x: -derivs(x)[0], hess=lambda x: -derivs(x)[1],
                                method="trust-exact", options={"gtol": 1e-7, "maxiter": maxiter})
        x = np.asarray(res.x, dtype=float)
        _, hess = derivs(x)
        keep = np.ones(x.size, dtype=bool)
        theta = slice(problem.m, problem.n_shared)
        keep[theta] = np.abs(x[theta]) > 1e-4
        vcov = np.full((x.size, x.size), np.nan)
        vcov[np.ix_(keep, keep)] = np.linalg.inv(-hess[np.ix_(keep, keep)])
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError(f"the marginal likelihood could not be maximised ({exc}); the "
                               "information matrix is singular") from exc
    converged = bool(res.success) or float(np.max(np.abs(res.jac))) < 1e-4
    return MixedFit(x, -float(res.fun), vcov, converged, int(res.nit))
