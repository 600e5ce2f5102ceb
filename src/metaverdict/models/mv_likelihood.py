r"""The (restricted) likelihood of a multivariate meta-analytic model and its maximisation.

With marginal covariance :math:`M(\theta) = V + \sum_t Z_t D_t(\theta_t) Z_t'`,
:math:`\hat\beta = (X'M^{-1}X)^{-1}X'M^{-1}y`, :math:`r = y - X\hat\beta`:

.. math:: \ell = -\tfrac12[k\log 2\pi + \log|M| + r'M^{-1}r]\quad(\text{ML}),\qquad
          \ell_R = -\tfrac12[(k-p)\log 2\pi + \log|M| + \log|X'M^{-1}X| + r'M^{-1}r]
          + \tfrac12\log|X'X|\quad(\text{REML}).

The score for an unconstrained parameter :math:`\theta_j` of term t is
:math:`\partial\ell/\partial\theta_j = -\tfrac12\operatorname{tr}(A_t\,\partial D_t/\partial
\theta_j) + \tfrac12 b_t'(\partial D_t/\partial\theta_j)b_t`, with
:math:`A_t = Z_t'QZ_t`, :math:`b_t = Z_t'M^{-1}r`, and :math:`Q = M^{-1}` (ML) or
:math:`Q = M^{-1} - M^{-1}X(X'M^{-1}X)^{-1}X'M^{-1}` (REML); :math:`\partial D_t/\partial
\theta_j` is the imaginary part of a complex step, :math:`\operatorname{Im}D_t(\theta +
ih e_j)/h` with :math:`h = 10^{-20}` (exact to rounding). The maximum is found by L-BFGS-B
(``scipy.optimize.minimize``) over the unconstrained parameters, polished by Newton steps on a
finite-difference Hessian of the analytic score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg, optimize
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from metaverdict.errors import ConvergenceError
from metaverdict.models.formulas import LOG_2PI
from metaverdict.models.mv_structures import (
    RandomTerm,
    natural,
    term_natural,
    term_unconstrained,
    unconstrained,
)

_H = 1e-20


@dataclass(frozen=True, eq=False)
class Model:
    """Validated arrays of one model: estimates y, sampling covariance V, design X, random
    terms, estimation method, optional weight matrix W, and optional values of components
    held fixed (``fixed``: one per parameter, NaN where estimated; metafor ``sigma2=``,
    ``tau2=``, ``rho=``, ``gamma2=``, ``phi=``)."""

    y: np.ndarray
    V: np.ndarray
    X: np.ndarray
    terms: tuple[RandomTerm, ...]
    reml: bool
    W: np.ndarray | None = None
    fixed: np.ndarray | None = None
    kinds: tuple[str, ...] = field(init=False)
    owner: tuple[int, ...] = field(init=False)        # term of each parameter
    offsets: tuple[int, ...] = field(init=False)      # first parameter of each term
    blocks: tuple[_Block, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", _blocks(self.V, self.X, self.y, self.terms))
        kinds: list[str] = []
        owner: list[int] = []
        offsets: list[int] = []
        for t, term in enumerate(self.terms):
            offsets.append(len(kinds))
            kinds += term.kinds
            owner += [t] * len(term.kinds)
        object.__setattr__(self, "kinds", tuple(kinds))
        object.__setattr__(self, "owner", tuple(owner))
        object.__setattr__(self, "offsets", tuple(offsets))

    @property
    def n_params(self) -> int:
        return len(self.kinds)

    @property
    def held(self) -> np.ndarray:
        """Boolean mask of the parameters held at user-given values."""
        if self.fixed is None:
            return np.zeros(self.n_params, dtype=bool)
        return np.asarray(~np.isnan(self.fixed))

    @property
    def n_free(self) -> int:
        """Number of estimated variance components and correlations."""
        return int(self.n_params - self.held.sum())

    def with_fixed(self, values: np.ndarray) -> np.ndarray:
        """``values`` with the held parameters replaced by their fixed values."""
        out = np.array(values, dtype=float)
        if self.fixed is not None:
            held = self.held
            out[held] = self.fixed[held]
        return out

    def term_values(self, values: np.ndarray, t: int) -> np.ndarray:
        start = self.offsets[t]
        out: np.ndarray = values[start:start + len(self.terms[t].kinds)]
        return out

    def marginal(self, values: np.ndarray) -> np.ndarray:
        """:math:`M = V + \\sum_t Z_t D_t Z_t'` at natural parameter ``values``."""
        M = self.V.copy()
        for t, term in enumerate(self.terms):
            M += term.Z @ term.covariance(self.term_values(values, t)) @ term.Z.T
        return M

    def subset(self, keep: np.ndarray) -> Model:
        """The model on the rows ``keep`` (levels without rows dropped)."""
        terms = []
        for term in self.terms:
            Z = term.Z[keep]
            used = np.flatnonzero(Z.any(axis=0))
            pick: dict[str, Any] = {"Z": Z[:, used],
                                    "levels": tuple(term.levels[i] for i in used)}
            for name in ("inner", "outer", "times"):
                arr = getattr(term, name)
                pick[name] = None if arr is None else arr[used]
            pick["R"] = None if term.R is None else term.R[np.ix_(used, used)]
            terms.append(RandomTerm(label=term.label, struct=term.struct,
                                    inner_levels=term.inner_levels, prefix=term.prefix, **pick))
        W = None if self.W is None else self.W[np.ix_(keep, keep)]
        return Model(self.y[keep], self.V[np.ix_(keep, keep)], self.X[keep], tuple(terms),
                     self.reml, W, self.fixed)


@dataclass(frozen=True, eq=False)
class _Block:
    """Rows of one independent block of M (no shared level, no sampling covariance with
    other rows) and, per term, the levels those rows use and their indicators."""

    rows: np.ndarray
    V: np.ndarray
    X: np.ndarray
    y: np.ndarray
    cols: tuple[np.ndarray, ...]
    Z: tuple[np.ndarray, ...]


def _blocks(V: np.ndarray, X: np.ndarray, y: np.ndarray,
            terms: tuple[RandomTerm, ...]) -> tuple[_Block, ...]:
    """Split the rows into the connected components of "may covary" (V, or a random effect
    that can link them), so that M is factorised block by block."""
    link = V != 0
    for term in terms:
        q = len(term.levels)
        if term.outer is not None:
            pattern = term.outer[:, None] == term.outer[None, :]
        elif term.R is not None:
            pattern = term.R != 0
        else:
            pattern = np.eye(q, dtype=bool)
        link |= (term.Z @ pattern.astype(float) @ term.Z.T) != 0
    _, labels = connected_components(csr_matrix(link), directed=False)
    out = []
    for b in np.unique(labels):
        rows = np.flatnonzero(labels == b)
        cols, zs = [], []
        for term in terms:
            c = np.flatnonzero(term.Z[rows].any(axis=0))
            cols.append(c)
            zs.append(term.Z[np.ix_(rows, c)])
        out.append(_Block(rows, V[np.ix_(rows, rows)], X[rows], y[rows], tuple(cols), tuple(zs)))
    return tuple(out)


@dataclass(frozen=True)
class Evaluation:
    """Likelihood quantities at one parameter vector (``ll`` = -inf where M is not positive
    definite)."""

    ll: float
    grad: np.ndarray
    beta: np.ndarray
    vb: np.ndarray


def evaluate(model: Model, values: np.ndarray, free: np.ndarray | None = None,
             reml: bool | None = None, gradient: bool = True,
             beta: np.ndarray | None = None, spherical: bool = False) -> Evaluation:
    """The log-likelihood at natural parameter ``values`` and its gradient with respect to the
    unconstrained parameters listed in ``free`` (default all; ``spherical``: UN correlations
    parametrised by partial correlations, see
    :func:`~metaverdict.models.mv_structures.partial_to_correlation`). ``beta`` replaces the
    GLS coefficients in the residuals (weighted fits)."""
    reml = model.reml if reml is None else reml
    X = model.X
    k, p = X.shape
    nan = np.full(p, np.nan)
    failed = Evaluation(-np.inf, np.zeros(0), nan, np.full((p, p), np.nan))
    if not all(term.admissible(model.term_values(values, t))
               for t, term in enumerate(model.terms)):
        return failed
    D = [term.covariance(model.term_values(values, t)) for t, term in enumerate(model.terms)]
    logdet, xmx, xmy = 0.0, np.zeros((p, p)), np.zeros(p)
    parts = []
    for blk in model.blocks:
        Mb = blk.V.copy()
        for Dt, c, z in zip(D, blk.cols, blk.Z):
            Mb += z @ Dt[np.ix_(c, c)] @ z.T
        try:
            chol = linalg.cho_factor(Mb, lower=True)
        except linalg.LinAlgError:
            return failed
        logdet += 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
        Mib = linalg.cho_solve(chol, np.eye(len(blk.rows)))
        MiXb = Mib @ blk.X
        xmx += blk.X.T @ MiXb
        xmy += MiXb.T @ blk.y
        parts.append((Mib, MiXb))
    vb = np.linalg.inv(xmx)
    b = vb @ xmy if beta is None else beta
    rss = 0.0
    resid = []
    for blk, (Mib, _) in zip(model.blocks, parts):
        rb = blk.y - blk.X @ b
        resid.append(rb)
        rss += float(rb @ Mib @ rb)
    if reml:
        ll = -0.5 * ((k - p) * LOG_2PI + logdet + np.linalg.slogdet(xmx)[1] + rss) \
            + 0.5 * np.linalg.slogdet(X.T @ X)[1]
    else:
        ll = -0.5 * (k * LOG_2PI + logdet + rss)
    free = np.arange(model.n_params) if free is None else free
    grad = np.zeros(len(free))
    if gradient and len(free):
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n, j in enumerate(free):
            t = model.owner[j]
            term = model.terms[t]
            if t not in cache:
                cache[t] = _score_parts(model, t, parts, resid, vb if reml else None)
            A, bt = cache[t]
            jj = j - model.offsets[t]
            theta = term_unconstrained(term, model.term_values(values, t),
                                       spherical).astype(complex)
            theta[jj] += 1j * _H
            dD = term.covariance(term_natural(term, theta, spherical)).imag / _H
            grad[n] = -0.5 * float(np.sum(A * dD)) + 0.5 * float(bt @ dD @ bt)
    return Evaluation(float(ll), grad, b, vb)


def _score_parts(model: Model, t: int, parts: list[tuple[np.ndarray, np.ndarray]],
                 resid: list[np.ndarray], vb: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:math:`A_t = Z_t'QZ_t` and :math:`b_t = Z_t'M^{-1}r`, accumulated over the blocks
    (:math:`Q = M^{-1} - M^{-1}XV_\beta X'M^{-1}` for REML, ``vb`` given)."""
    q = len(model.terms[t].levels)
    p = model.X.shape[1]
    A, C, bt = np.zeros((q, q)), np.zeros((q, p)), np.zeros(q)
    for blk, (Mib, MiXb), rb in zip(model.blocks, parts, resid):
        c, z = blk.cols[t], blk.Z[t]
        zm = z.T @ Mib
        A[np.ix_(c, c)] += zm @ z
        C[c] += z.T @ MiXb
        bt[c] += zm @ rb
    if vb is not None:
        A -= C @ vb @ C.T
    return A, bt


def _bounds(kinds: tuple[str, ...], scale: float) -> list[tuple[float, float]]:
    out = []
    for kind in kinds:
        if kind == "var":
            out.append((np.log(scale) - 30.0, np.log(scale) + 12.0))
        elif kind == "cor":
            out.append((-12.0, 12.0))
        else:
            out.append((-25.0, 25.0))
    return out


@dataclass(frozen=True)
class Optimum:
    values: np.ndarray
    evaluation: Evaluation
    converged: bool
    iterations: int


def maximise(model: Model, start: np.ndarray, free: np.ndarray | None = None,
             polish: bool = True) -> Optimum:
    """Maximise the likelihood over the ``free`` parameters (default all), the others held at
    their values in ``start`` (natural scale); ``polish=False`` skips the Newton steps. With
    every parameter free, UN correlations are optimised as partial correlations (always a
    positive definite matrix, so that optima on its boundary are approached smoothly)."""
    spherical = free is None
    free = np.arange(model.n_params) if free is None else np.asarray(free, dtype=int)
    kinds = tuple(model.kinds[j] for j in free)
    scale = max(float(np.var(model.y)), float(np.mean(np.diag(model.V))), 1e-12)
    bounds = _bounds(kinds, scale)
    if spherical:
        th0 = np.concatenate([term_unconstrained(term, model.term_values(start, t), True)
                              for t, term in enumerate(model.terms)])
    else:
        th0 = unconstrained(start[free], kinds)
    th0 = np.clip(th0, [b[0] for b in bounds], [b[1] for b in bounds])

    def full(th: np.ndarray) -> np.ndarray:
        vals = np.array(start, dtype=float)
        if spherical:
            return np.concatenate([term_natural(term, th[model.offsets[t]:model.offsets[t]
                                                         + len(term.kinds)], True)
                                   for t, term in enumerate(model.terms)]).astype(float)
        vals[free] = natural(th, kinds)
        return vals

    def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
        ev = evaluate(model, full(th), free, spherical=spherical)
        if not np.isfinite(ev.ll):
            return 1e300, np.zeros_like(th)
        return -ev.ll, -ev.grad

    if not np.isfinite(objective(th0)[0]) or objective(th0)[0] >= 1e300:
        raise ConvergenceError("the marginal covariance is not positive definite at the "
                               "starting values")
    opt = optimize.minimize(objective, th0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000,
                                     "maxfun": 20000})
    th, iters = _newton(objective, opt.x, bounds) if polish else (opt.x, 0)
    ev = evaluate(model, full(th), free, spherical=spherical)
    grad_ok = bool(np.all(np.abs(ev.grad) < 1e-5 * (1 + abs(ev.ll))))
    return Optimum(full(th), ev, bool(opt.success) or grad_ok, int(opt.nit) + iters)


def _newton(objective: Any, th: np.ndarray, bounds: list[tuple[float, float]],
            max_iter: int = 30) -> tuple[np.ndarray, int]:
    """Newton steps on the parameters away from their bounds, with a finite-difference
    Hessian of the analytic gradient and step halving; stops when the step is below 1e-10."""
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    f, g = objective(th)
    for it in range(max_iter):
        inside = (th > lo + 1e-6) & (th < hi - 1e-6)
        idx = np.flatnonzero(inside)
        if not idx.size:
            return th, it
        h = 1e-5
        H = np.empty((idx.size, idx.size))
        for a, j in enumerate(idx):
            e = np.zeros_like(th)
            e[j] = h
            H[:, a] = (objective(th + e)[1][idx] - objective(th - e)[1][idx]) / (2 * h)
        H = (H + H.T) / 2
        try:
            if np.linalg.eigvalsh(H).min() <= 0:
                return th, it
            step = np.linalg.solve(H, g[idx])
        except np.linalg.LinAlgError:
            return th, it
        lam = 1.0
        for _ in range(30):
            new = th.copy()
            new[idx] = np.clip(th[idx] - lam * step, lo[idx], hi[idx])
            f_new, g_new = objective(new)
            if f_new <= f + 1e-12 * (1 + abs(f)):
                break
            lam /= 2
        else:
            return th, it
        th, f, g = new, f_new, g_new
        if np.max(np.abs(lam * step)) < 1e-10:
            return th, it + 1
    return th, max_iter


def start_values(model: Model) -> np.ndarray:
    """Starting values: the residual variance of an OLS fit beyond the average sampling
    variance, shared equally by the terms; correlations 0 (0.5 for AR, HAR, CAR)."""
    y, X, V = model.y, model.X, model.V
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    total = max(float(np.var(y - X @ beta)) - float(np.mean(np.diag(V))),
                0.01 * float(np.var(y)), 1e-8)
    n_terms = max(len(model.terms), 1)
    out = []
    for term in model.terms:
        for kind in term.kinds:
            if kind == "var":
                out.append(total / n_terms)
            else:
                out.append(0.5 if term.struct in ("AR", "HAR", "CAR") else 0.0)
    return np.array(out, dtype=float)
