"""The MMRM (restricted) likelihood with its exact gradient and Hessian, and the Kenward-Roger
building blocks, computed per missing-visit pattern.

Notation (Kenward & Roger 1997; mmrm's vignettes "Details of the model fitting" and
"Kenward-Roger"): participant i has the visits S_i, outcome vector y_i, design X_i and
covariance Sigma_i = Sigma[S_i, S_i]; V = blockdiag(Sigma_i), A = X' V^-1 X, Phi = A^-1,
beta = Phi X' V^-1 y, r = y - X beta, u_i = Sigma_i^-1 r_i, Z_i = Sigma_i^-1 X_i, and for each
covariance parameter theta_h, Sigma_h = dSigma/dtheta_h, Sigma_hj = d^2 Sigma/dtheta_h dtheta_j.

* objective (negative log-likelihood; ``reml`` adds the log det A term and uses N - p):
  -l = ((N - p) log 2pi + sum log det Sigma_i + log det A + r' V^-1 r) / 2
* gradient of -2l: g_h = <N, Sigma_h>, N = sum_i embed(Sigma_i^-1 - Z_i Phi Z_i' - u_i u_i')
  (ML drops the Z Phi Z' term), i.e. tr(P V_h) - y' P V_h P y
* Hessian of -2l: <N, Sigma_hj> - sum_i tr(Sigma_i^-1 Sigma_h Sigma_i^-1 Sigma_j)
  + 2 [sum_i u_i' Sigma_h Sigma_i^-1 Sigma_j u_i - w_h' Phi w_j] (w_h = sum_i Z_i' Sigma_h u_i)
  + REML only: 2 tr(Phi Q_hj) - tr(Phi P_h Phi P_j)
* Kenward-Roger: P_h = -sum_i Z_i' Sigma_h Z_i, Q_hj = sum_i Z_i' Sigma_h Sigma_i^-1 Sigma_j Z_i,
  R_hj = sum_i Z_i' Sigma_hj Z_i.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from metaverdict.errors import ConvergenceError
from metaverdict.trials.covariance import CovarianceModel, CovarianceValue

Array = NDArray[np.float64]
LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Pattern:
    """Participants sharing one set of observed visits.

    Attributes
    ----------
    visits : ndarray of int, shape (s,)
        Positions (0-based) in the covariance matrix.
    y : ndarray, shape (n, s)
    x : ndarray, shape (n, s, p)
    rows : ndarray of int, shape (n, s)
        Row positions in the model data.
    """

    visits: NDArray[np.intp]
    y: Array
    x: Array
    rows: NDArray[np.intp]

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def patterns_of(y: Array, x: Array, subject_codes: NDArray[np.intp],
                visit_codes: NDArray[np.intp]) -> list[Pattern]:
    """Group participants by their set of observed visits (rows sorted by visit within one)."""
    order = np.lexsort((visit_codes, subject_codes))
    subj = subject_codes[order]
    starts = np.flatnonzero(np.r_[True, subj[1:] != subj[:-1]])
    ends = np.r_[starts[1:], subj.size]
    groups: dict[tuple[int, ...], list[NDArray[np.intp]]] = {}
    for a, b in zip(starts, ends):
        rows = order[a:b]
        groups.setdefault(tuple(int(v) for v in visit_codes[rows]), []).append(rows)
    out = []
    for key in sorted(groups, key=lambda k: (len(k), k)):
        rows = np.stack(groups[key])
        out.append(Pattern(np.array(key, dtype=np.intp), y[rows], x[rows], rows))
    return out


class Evaluation:
    """Everything at one ``theta``: objective, gradient, Hessian and the KR pieces (lazily).

    Parameters
    ----------
    model : CovarianceModel
    patterns : list of Pattern
    theta : ndarray
    reml : bool
    """

    def __init__(self, model: CovarianceModel, patterns: list[Pattern], theta: Array,
                 reml: bool) -> None:
        self.theta = np.asarray(theta, dtype=float)
        self.reml = reml
        self.cov: CovarianceValue = model(self.theta)
        self.patterns = patterns
        self.p = patterns[0].x.shape[2]
        self.n_obs = sum(g.y.size for g in patterns)
        sig = self.cov.sigma
        self._chol: list[Array] = []
        self._inv: list[Array] = []
        self._z: list[Array] = []
        a = np.zeros((self.p, self.p))
        b = np.zeros(self.p)
        logdet = 0.0
        for g in patterns:
            s = sig[np.ix_(g.visits, g.visits)]
            try:
                k = np.linalg.cholesky(s)
            except np.linalg.LinAlgError:
                raise ConvergenceError("the covariance matrix is not positive definite at "
                                       f"theta = {self.theta.tolist()}") from None
            inv = linalg.cho_solve((k, True), np.eye(s.shape[0]))
            z = np.einsum("ab,ibp->iap", inv, g.x)
            a += np.einsum("iap,iaq->pq", g.x, z)
            b += np.einsum("iap,ia->p", z, g.y)
            logdet += g.n * 2.0 * float(np.log(np.diag(k)).sum())
            self._chol.append(k)
            self._inv.append(inv)
            self._z.append(z)
        try:
            ca = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise ConvergenceError("X' V^-1 X is singular: the fixed effects are not "
                                   "identifiable from these data") from None
        self.a = a
        self.phi = linalg.cho_solve((ca, True), np.eye(self.p))
        self.phi = (self.phi + self.phi.T) / 2.0
        self.beta = self.phi @ b
        self.logdet_a = 2.0 * float(np.log(np.diag(ca)).sum())
        self._u: list[Array] = []
        quad = 0.0
        for g, inv in zip(patterns, self._inv):
            r = g.y - g.x @ self.beta
            u = r @ inv
            quad += float((r * u).sum())
            self._u.append(u)
        self.logdet_v = logdet
        self.quad = quad
        n_eff = self.n_obs - (self.p if reml else 0)
        self.objective = 0.5 * (n_eff * LOG_2PI + logdet + quad
                                + (self.logdet_a if reml else 0.0))

    # -- gradient and Hessian of the objective (-l) -------------------------------------------

    def _embed(self, parts: list[Array]) -> Array:
        m = self.cov.sigma.shape[0]
        full = np.zeros((m, m))
        for g, part in zip(self.patterns, parts):
            full[np.ix_(g.visits, g.visits)] += part
        return full

    @cached_property
    def _m_parts(self) -> list[Array]:
        """M_i = sum over the pattern's participants of Z_i Phi Z_i' (s x s)."""
        return [np.einsum("iap,pq,ibq->ab", z, self.phi, z, optimize=True) for z in self._z]

    @cached_property
    def _zz_parts(self) -> list[Array]:
        """sum over the pattern's participants of Z_i[a]' Z_i[b], shape (s, s, p, p)."""
        return [np.einsum("iap,ibq->abpq", z, z, optimize=True) for z in self._z]

    @cached_property
    def _n_matrix(self) -> Array:
        parts = []
        for g, inv, u, mg in zip(self.patterns, self._inv, self._u, self._m_parts):
            part = g.n * inv - u.T @ u
            if self.reml:
                part -= mg
            parts.append(part)
        return self._embed(parts)

    @cached_property
    def gradient(self) -> Array:
        """d(-l)/dtheta."""
        return 0.5 * np.einsum("ab,hab->h", self._n_matrix, self.cov.d1)

    def _sub(self, g: Pattern, arr: Array) -> Array:
        return arr[..., g.visits[:, None], g.visits[None, :]]

    @cached_property
    def p_matrices(self) -> Array:
        """Kenward-Roger's P_h = X' dV^-1/dtheta_h X, shape (n_theta, p, p)."""
        out = np.zeros((self.theta.size, self.p, self.p))
        for g, zz in zip(self.patterns, self._zz_parts):
            out -= np.einsum("hab,abpq->hpq", self._sub(g, self.cov.d1), zz, optimize=True)
        return out

    @cached_property
    def hessian(self) -> Array:
        """d^2(-l)/dtheta^2 (observed, exact)."""
        nt = self.theta.size
        h = np.einsum("ab,hjab->hj", self._n_matrix, self.cov.d2)
        w = np.zeros((nt, self.p))
        for g, inv, z, u, mg in zip(self.patterns, self._inv, self._z, self._u, self._m_parts):
            sh = self._sub(g, self.cov.d1)
            t = inv @ sh                                     # Sigma_i^-1 Sigma_h
            h -= g.n * np.einsum("hab,jba->hj", t, t)
            inner = u.T @ u + mg if self.reml else u.T @ u   # 2 tr(Phi Q_hj) joins the u part
            h += 2.0 * np.einsum("hab,jbc,ca->hj", sh, t, inner, optimize=True)
            w += np.einsum("iap,hab,ib->hp", z, sh, u, optimize=True)
        h -= 2.0 * w @ self.phi @ w.T
        if self.reml:
            cphi = np.linalg.cholesky(self.phi)
            pt = np.einsum("pq,hpr,rs->hqs", cphi, self.p_matrices, cphi, optimize=True)
            h -= np.einsum("hpq,jpq->hj", pt, pt)
        return 0.5 * (h + h.T) / 2.0

    # -- Kenward-Roger adjusted covariance and the empirical sandwich -------------------------

    def kenward_roger_vcov(self, w_theta: Array, linear: bool) -> Array:
        """Phi_A = Phi + 2 Phi [sum_hj W_hj (Q_hj - P_h Phi P_j - R_hj / 4)] Phi."""
        inner = np.zeros((self.p, self.p))
        d_w = np.einsum("hj,hjab->ab", w_theta, self.cov.d2)
        for g, inv, zz in zip(self.patterns, self._inv, self._zz_parts):
            sh = self._sub(g, self.cov.d1)
            t = inv @ sh
            mid = np.einsum("hab,hj,jbc->ac", sh, w_theta, t, optimize=True)
            if not linear:
                mid = mid - d_w[np.ix_(g.visits, g.visits)] / 4.0
            inner += np.einsum("ab,abpq->pq", mid, zz)
        pm = self.p_matrices
        inner -= np.einsum("hj,hpq,qr,jrs->ps", w_theta, pm, self.phi, pm, optimize=True)
        out = self.phi + 2.0 * self.phi @ inner @ self.phi
        return (out + out.T) / 2.0

    def empirical_vcov(self) -> Array:
        """CR0 sandwich Phi (sum_i X_i' u_i u_i' X_i) Phi."""
        meat = np.zeros((self.p, self.p))
        for g, u in zip(self.patterns, self._u):
            s = np.einsum("iap,ia->ip", g.x, u)
            meat += s.T @ s
        out = self.phi @ meat @ self.phi
        return (out + out.T) / 2.0

    def subject_covariance(self, g_index: int) -> Array:
        """Sigma_i of pattern ``g_index``."""
        g = self.patterns[g_index]
        return self.cov.sigma[np.ix_(g.visits, g.visits)]
