"""The weighted residual projection behind every tau² estimator, for a batch of analyses.

For weights ``w`` (one vector per analysis) and design ``X`` the estimators of
:mod:`metaverdict.models.random_effects` need only a handful of statistics of

.. math::  P = W - W X (X^\\top W X)^{-1} X^\\top W,\\qquad W = \\operatorname{diag}(w),

namely :math:`y^\\top P y` (the generalised Q), :math:`\\operatorname{tr} P`,
:math:`\\operatorname{tr} P^2`, :math:`y^\\top P^2 y` and, with ``V = diag(v)``,
:math:`\\operatorname{tr} PV`, :math:`\\operatorname{tr} (PV)^2` and :math:`\\operatorname{tr} PVP`
(metafor's ``sum(PV*P)``). Two classes provide them with the same attribute names:

* :class:`InterceptProjection`: ``X`` a column of ones; closed forms in sums over studies,
  O(k) per analysis, arrays of shape ``(batch, k)`` of any array-API library (NumPy, CuPy,
  PyTorch, JAX), so the same code serves one fit and a billion;
* :class:`DesignProjection`: a general design ``X`` of shape ``(batch, k, p)`` (meta-regression),
  NumPy, forming the k x k matrix ``P``.

A single fit is a batch of one. Formulas: Viechtbauer (2005), *J Educ Behav Stat* 30:261-293;
metafor's ``rma.uni`` notes.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Protocol

import numpy as np
from array_api_compat import array_namespace, device

Array = Any


class Projection(Protocol):
    """Statistics of ``P`` for one weight vector per analysis (all arrays of shape ``(batch,)``)."""

    p: int
    beta: Array        # (batch, p) weighted least-squares coefficients
    rss: Array         # y' P y
    tr_p: Array        # tr P
    ss_p: Array        # tr P^2
    ypy2: Array        # y' P^2 y
    ypy3: Array        # y' P^3 y
    sum_w: Array
    sum_w2: Array

    def tr_pv(self, v: Array) -> Array: ...
    def ss_pv(self, v: Array) -> Array: ...
    def pvp(self, v: Array) -> Array: ...
    def logdet_xwx(self) -> Array: ...


def row_sum(a: Array, xp: Any = None) -> Array:
    """Sum over the last axis as a dot product with ones: one fused pass (NumPy's ``sum`` over
    a short last axis is several times slower than ``vecdot``)."""
    xp = xp or array_namespace(a)
    return xp.vecdot(a, xp.ones(a.shape[-1], dtype=a.dtype, device=device(a)))


def _others(a: Array, xp: Any) -> Array:
    """``Σ_{j≠i} a_j`` for every ``i`` of non-negative ``a`` (last axis), without cancellation.

    ``S - a_i`` is accurate to a few ulps wherever ``a_i <= S/2``, which holds for every entry
    but possibly the largest; for the largest the sum of the others is formed directly."""
    total = row_sum(a, xp)
    amax = xp.max(a, axis=-1, keepdims=True)
    is_max = a == amax
    n_max = row_sum(xp.astype(is_max, a.dtype), xp)
    rest = row_sum(xp.where(is_max, xp.zeros_like(a), a), xp) + (n_max - 1) * amax[..., 0]
    return xp.where(is_max, rest[..., None], total[..., None] - a)


class InterceptProjection:
    """``P`` for the intercept-only model, by closed forms in sums over studies.

    With :math:`s_m = \\sum_i w_i^m`: :math:`\\operatorname{tr} P = s_1 - s_2/s_1`,
    :math:`\\operatorname{tr} P^2 = s_2 - 2 s_3/s_1 + s_2^2/s_1^2`,
    :math:`(Py)_i = w_i (y_i - \\hat\\mu)`.

    The differences above cancel catastrophically when one weight dominates (sampling
    variances 1e-12 next to 1e5), so every statistic is computed from sums of non-negative
    terms instead: with :math:`u_i = w_i/s_1` and :math:`c_i = 1 - u_i =
    \\sum_{j\\ne i} w_j / s_1` (formed as a sum of the other weights),
    :math:`P_{ii} = w_i c_i` and :math:`P_{ij} = -w_i u_j`, so that e.g.
    :math:`\\operatorname{tr} P = \\sum w_i c_i` and
    :math:`\\operatorname{tr} P^2 = \\sum (w_i c_i)^2 + \\sum_i u_i^2 \\sum_{j\\ne i} w_j^2`.
    Residuals are taken about the effect of the study with the largest weight
    (:math:`\\hat\\mu = y_m + \\sum_j u_j (y_j - y_m)`), so the dominant study's residual keeps
    its relative precision.

    Every statistic is computed on first use (``functools.cached_property``), so an estimator
    pays only for the sums it needs; sums over studies are dot products (``vecdot``).
    """

    p = 1

    def __init__(self, w: Array, y: Array) -> None:
        xp = array_namespace(w, y)
        self._xp, self.w, self._y = xp, w, y
        self.sum_w = row_sum(w, xp)
        wmax = xp.max(w, axis=-1, keepdims=True)
        is_max = w == wmax
        n_max = row_sum(xp.astype(is_max, w.dtype), xp)
        y_ref = row_sum(xp.where(is_max, y, xp.zeros_like(y)), xp) / n_max
        dy = y - y_ref[..., None]
        shift = xp.vecdot(w, dy) / self.sum_w
        self.resid = dy - shift[..., None]
        self.beta = (y_ref + shift)[..., None]

    @cached_property
    def _u(self) -> Array:           # normalised weights w / s1
        return self.w / self.sum_w[..., None]

    @cached_property
    def _c(self) -> Array:           # 1 - u, as the share of the other weights
        return _others(self.w, self._xp) / self.sum_w[..., None]

    @cached_property
    def _diag(self) -> Array:        # P_ii = w_i c_i
        return self.w * self._c

    @cached_property
    def _py(self) -> Array:          # P y = w (y - mu)
        return self.w * self.resid

    @cached_property
    def rss(self) -> Array:
        return self._xp.vecdot(self._py, self.resid)

    @cached_property
    def ypy2(self) -> Array:
        return self._xp.vecdot(self._py, self._py)

    @cached_property
    def ypy3(self) -> Array:
        """y'P³y = u'Pu with u = Py, as the weighted sum of squares Σ w (u - ū)² about
        ū = Σ w u / Σ w (no cancellation), so that d(y'P²y)/dτ² = -2 y'P³y."""
        xp, u = self._xp, self._py
        z = u - (xp.vecdot(self._u, u))[..., None]
        return xp.vecdot(self.w * z, z)

    @cached_property
    def w2(self) -> Array:
        return self.w * self.w

    @cached_property
    def sum_w2(self) -> Array:
        return self._xp.vecdot(self.w, self.w)

    @cached_property
    def tr_p(self) -> Array:
        return row_sum(self._diag, self._xp)

    @cached_property
    def ss_p(self) -> Array:
        xp, d, u = self._xp, self._diag, self._u
        return xp.vecdot(d, d) + xp.vecdot(u * u, _others(self.w2, xp))

    def tr_pv(self, v: Array) -> Array:
        return self._xp.vecdot(self._diag, v)

    def ss_pv(self, v: Array) -> Array:
        xp, u = self._xp, self._u
        dv = self._diag * v
        return xp.vecdot(dv, dv) + xp.vecdot(u * u * v, _others(self.w2 * v, xp))

    def pvp(self, v: Array) -> Array:
        xp, d, u = self._xp, self._diag, self._u
        return xp.vecdot(d * d, v) + xp.vecdot(u * u * v, _others(self.w2, xp))

    def logdet_xwx(self) -> Array:
        return self._xp.log(self.sum_w)

    def vb(self) -> Array:
        """(X'WX)^{-1}, shape (batch, 1, 1)."""
        return (1 / self.sum_w)[..., None, None]


class DesignProjection:
    """``P`` for a general design ``X`` (NumPy, shape ``(batch, k, p)``), via the k x k matrix.

    Formed from the complete QR decomposition of the column-scaled :math:`W^{1/2}X = [Q\\;
    Q_\\perp] R`: :math:`P = W^{1/2} Q_\\perp Q_\\perp' W^{1/2}` and
    :math:`y'Py = \\lVert Q_\\perp' W^{1/2} y \\rVert^2`, so that neither :math:`X'WX` nor its
    inverse is formed and ``P`` stays positive semi-definite however unequal the weights."""

    def __init__(self, w: np.ndarray, y: np.ndarray, X: np.ndarray) -> None:
        self.w, self.X = w, X
        self.p = p = X.shape[-1]
        self.sum_w = w.sum(axis=-1)
        self.sum_w2 = np.sum(w * w, axis=-1)
        sw = np.sqrt(w)
        xs = sw[..., :, None] * X
        scale = np.max(np.abs(xs), axis=-2)                         # (batch, p)
        scale = np.where(scale > 0, scale, 1.0)
        qf, r = np.linalg.qr(xs / scale[..., None, :], mode="complete")
        r = r[..., :p, :]
        q, qp = qf[..., :, :p], qf[..., :, p:]
        self._logdet = 2 * np.sum(np.log(np.abs(np.diagonal(r, axis1=-2, axis2=-1)))
                                  + np.log(scale), axis=-1)
        rinv = _triangular_inverse(r) / scale[..., :, None]           # D^-1 R^-1
        self._xwx_inv = rinv @ np.swapaxes(rinv, -1, -2)
        m = qp @ np.swapaxes(qp, -1, -2)                              # I - hat, PSD
        self.P = sw[..., :, None] * m * sw[..., None, :]
        z = sw * y
        self.beta = (rinv @ (np.swapaxes(q, -1, -2) @ z[..., None]))[..., 0]
        self.resid = y - (X @ self.beta[..., None])[..., 0]
        e = (np.swapaxes(qp, -1, -2) @ z[..., None])[..., 0]         # Q_perp' W^1/2 y
        self.rss = np.sum(e * e, axis=-1)
        py = sw * (qp @ e[..., None])[..., 0]
        self.ypy2 = np.sum(py * py, axis=-1)
        f = (np.swapaxes(qp, -1, -2) @ (sw * py)[..., None])[..., 0]
        self.ypy3 = np.sum(f * f, axis=-1)
        self.tr_p = np.sum(w * np.sum(qp * qp, axis=-1), axis=-1)
        self.ss_p = np.sum(self.P * self.P, axis=(-2, -1))

    def tr_pv(self, v: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.sum(np.diagonal(self.P, axis1=-2, axis2=-1) * v, axis=-1)
        return out

    def ss_pv(self, v: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.sum(self.P * self.P * v[..., :, None] * v[..., None, :],
                                 axis=(-2, -1))
        return out

    def pvp(self, v: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.sum(self.P * self.P * v[..., None, :], axis=(-2, -1))
        return out

    def logdet_xwx(self) -> np.ndarray:
        out: np.ndarray = self._logdet
        return out

    def vb(self) -> np.ndarray:
        return self._xwx_inv


def _triangular_inverse(r: np.ndarray) -> np.ndarray:
    """Inverse of a stack of upper-triangular matrices (the pseudo-inverse of a singular one,
    which a checked design does not produce; no ``LinAlgError``)."""
    eye = np.broadcast_to(np.eye(r.shape[-1]), r.shape)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out: np.ndarray = np.linalg.solve(r, eye)
        if np.all(np.isfinite(out)):
            return out
    except np.linalg.LinAlgError:
        pass
    out = np.linalg.pinv(r)
    return out


class Design:
    """Factory of projections for one design: ``None`` (intercept only) or ``X`` (batch, k, p)."""

    def __init__(self, X: np.ndarray | None = None) -> None:
        self.X = X
        self.p = 1 if X is None else X.shape[-1]

    def subset(self, idx: Array) -> "Design":
        """The design of the analyses at positions ``idx`` of the batch."""
        return self if self.X is None else Design(self.X[np.asarray(idx)])

    def project(self, w: Array, y: Array) -> InterceptProjection | DesignProjection:
        if self.X is None:
            return InterceptProjection(w, y)
        return DesignProjection(w, y, self.X)

