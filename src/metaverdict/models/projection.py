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

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from array_api_compat import device

from metaverdict.models.backend import NUMPY, namespace, ones_row

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
    xp = xp or namespace(a)
    return xp.vecdot(a, ones_row(a, xp))


class _lazy:
    """An attribute computed on first use and then stored on the instance, as
    ``functools.cached_property`` but without the lock Python 3.11 takes on every first use
    (which costs more than the arithmetic of a small fit)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.name = fn, fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


#: Up to this many studies the sums of the other entries are one matrix product (exact sums
#: of non-negative terms, and faster than the O(k) formula below for small k).
OTHERS_BY_MATMUL = 64
_OFF_DIAGONAL: dict[tuple[int, Any], np.ndarray] = {}


def _others(a: Array, xp: Any) -> Array:
    """``Σ_{j≠i} a_j`` for every ``i`` of non-negative ``a`` (last axis), without cancellation.

    Up to :data:`OTHERS_BY_MATMUL` studies the product with the matrix of ones off the
    diagonal (each entry a sum of non-negative terms). Beyond, ``S - a_i``, which is accurate
    to a few ulps wherever ``a_i <= S/2``: for every entry but possibly the largest, for which
    the sum of the others is formed directly."""
    k = a.shape[-1]
    if k <= OTHERS_BY_MATMUL:
        return a @ _off_diagonal_ones(k, a, xp)
    total = row_sum(a, xp)
    amax = xp.max(a, axis=-1, keepdims=True)
    is_max = a == amax
    n_max = row_sum(xp.astype(is_max, a.dtype), xp)
    rest = row_sum(xp.where(is_max, 0.0, a), xp) + (n_max - 1) * amax[..., 0]
    return xp.where(is_max, rest[..., None], total[..., None] - a)


def _off_diagonal_ones(k: int, like: Array, xp: Any) -> Array:
    """The k x k matrix of ones with zeros on the diagonal (NumPy: made once per k)."""
    if xp is not NUMPY:
        dev = device(like)
        return (xp.ones((k, k), dtype=like.dtype, device=dev)
                - xp.eye(k, dtype=like.dtype, device=dev))
    key = (k, like.dtype)
    m = _OFF_DIAGONAL.get(key)
    if m is None:
        m = np.ones((k, k), dtype=like.dtype) - np.eye(k, dtype=like.dtype)
        m.setflags(write=False)
        _OFF_DIAGONAL[key] = m
    return m


def reference_point(w: Array, y: Array, xp: Any) -> tuple[Array, Array]:
    """The effect ``y_ref`` of the study with the largest weight (the mean over ties) and the
    effects about it, ``y - y_ref``: the origin :class:`InterceptProjection` takes residuals
    from, so that the dominant study's residual keeps its relative precision."""
    is_max = w == xp.max(w, axis=-1, keepdims=True)
    n_max = row_sum(xp.astype(is_max, w.dtype), xp)
    y_ref = row_sum(xp.where(is_max, y, 0.0), xp) / n_max
    return y_ref, y - y_ref[..., None]


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

    Every statistic is computed on first use, so an estimator pays only for the sums it
    needs; sums over studies are dot products (``vecdot``). ``xp`` is the array namespace
    (default: that of ``w`` and ``y``); ``reference``: :func:`reference_point` for these
    ``y``, when known (the study with the largest weight is the one with the smallest
    variance, whatever tau²). ``w`` and ``y`` may broadcast against each other (``y`` of
    shape ``(batch, 1, k)`` with weights ``(batch, m, k)``: m values of tau² per analysis).
    """

    p = 1

    def __init__(self, w: Array, y: Array, xp: Any = None,
                 reference: tuple[Array, Array] | None = None) -> None:
        xp = xp or namespace(w, y)
        self._xp, self.w = xp, w
        self._ones = ones = ones_row(w, xp)
        k = w.shape[-1]
        self._off = _off_diagonal_ones(k, w, xp) if k <= OTHERS_BY_MATMUL else None
        self.sum_w = xp.vecdot(w, ones)
        self._y_ref, dy = reference if reference is not None else reference_point(w, y, xp)
        self._shift = shift = xp.vecdot(w, dy) / self.sum_w
        self.resid = dy - shift[..., None]

    def _others(self, a: Array) -> Array:
        """``Σ_{j≠i} a_j`` for every ``i`` (see :func:`_others`)."""
        return a @ self._off if self._off is not None else _others(a, self._xp)

    @_lazy
    def beta(self) -> Array:         # (batch, 1): the weighted mean
        return (self._y_ref + self._shift)[..., None]

    @_lazy
    def _u(self) -> Array:           # normalised weights w / s1
        return self.w / self.sum_w[..., None]

    @_lazy
    def _others_w2(self) -> Array:   # Σ_{j≠i} w_j²
        return self._others(self.w2)

    @_lazy
    def _diag(self) -> Array:        # P_ii = w_i c_i, c_i = 1 - u_i as the share of the others
        return self.w * (self._others(self.w) / self.sum_w[..., None])

    @_lazy
    def _py(self) -> Array:          # P y = w (y - mu)
        return self.w * self.resid

    @_lazy
    def rss(self) -> Array:
        return self._xp.vecdot(self._py, self.resid)

    @_lazy
    def ypy2(self) -> Array:
        py = self._py
        return self._xp.vecdot(py, py)

    @_lazy
    def ypy3(self) -> Array:
        """y'P³y = u'Pu with u = Py, as the weighted sum of squares Σ w (u - ū)² about
        ū = Σ w u / Σ w (no cancellation), so that d(y'P²y)/dτ² = -2 y'P³y."""
        xp, u = self._xp, self._py
        z = u - (xp.vecdot(self._u, u))[..., None]
        return xp.vecdot(self.w * z, z)

    @_lazy
    def w2(self) -> Array:
        return self.w * self.w

    @_lazy
    def sum_w2(self) -> Array:
        return self._xp.vecdot(self.w, self.w)

    @_lazy
    def tr_p(self) -> Array:
        return self._xp.vecdot(self._diag, self._ones)

    @_lazy
    def ss_p(self) -> Array:
        xp, d, w2 = self._xp, self._diag, self.w2
        return xp.vecdot(d, d) + xp.vecdot(w2, self._others(w2)) / (self.sum_w * self.sum_w)

    def tr_pv(self, v: Array) -> Array:
        return self._xp.vecdot(self._diag, v)

    def ss_pv(self, v: Array) -> Array:
        xp, u = self._xp, self._u
        dv = self._diag * v
        return xp.vecdot(dv, dv) + xp.vecdot(u * u * v, self._others(self.w2 * v))

    def pvp(self, v: Array) -> Array:
        xp, d, u = self._xp, self._diag, self._u
        return xp.vecdot(d * d, v) + xp.vecdot(u * u * v, self._others_w2)

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
        self.w, self.X, self._y = w, X, y
        self.p = p = X.shape[-1]
        self._sw = sw = np.sqrt(w)
        xs = sw[..., :, None] * X
        scale = np.maximum.reduce(np.abs(xs), axis=-2)              # (batch, p)
        self._scale = scale = np.where(scale > 0, scale, 1.0)
        qf, r = np.linalg.qr(xs / scale[..., None, :], mode="complete")
        self._r = r[..., :p, :]
        self._q, self._qp = qf[..., :, :p], qf[..., :, p:]
        self._z = sw * y
        e = (np.swapaxes(self._qp, -1, -2) @ self._z[..., None])[..., 0]   # Q_perp' W^1/2 y
        self._e = e
        self.rss = np.add.reduce(e * e, axis=-1)

    @_lazy
    def sum_w(self) -> Array:
        return np.add.reduce(self.w, axis=-1)

    @_lazy
    def sum_w2(self) -> Array:
        return np.add.reduce(self.w * self.w, axis=-1)

    @_lazy
    def _rinv(self) -> np.ndarray:   # D^-1 R^-1
        return _triangular_inverse(self._r) / self._scale[..., :, None]

    @_lazy
    def beta(self) -> Array:
        return (self._rinv @ (np.swapaxes(self._q, -1, -2) @ self._z[..., None]))[..., 0]

    @_lazy
    def resid(self) -> Array:
        return self._y - (self.X @ self.beta[..., None])[..., 0]

    @_lazy
    def P(self) -> Array:
        qp, sw = self._qp, self._sw
        m = qp @ np.swapaxes(qp, -1, -2)                              # I - hat, PSD
        return sw[..., :, None] * m * sw[..., None, :]

    @_lazy
    def _py(self) -> Array:
        return self._sw * (self._qp @ self._e[..., None])[..., 0]

    @_lazy
    def ypy2(self) -> Array:
        py = self._py
        return np.add.reduce(py * py, axis=-1)

    @_lazy
    def ypy3(self) -> Array:
        f = (np.swapaxes(self._qp, -1, -2) @ (self._sw * self._py)[..., None])[..., 0]
        return np.add.reduce(f * f, axis=-1)

    @_lazy
    def tr_p(self) -> Array:
        qp = self._qp
        return np.add.reduce(self.w * np.add.reduce(qp * qp, axis=-1), axis=-1)

    @_lazy
    def ss_p(self) -> Array:
        return np.add.reduce(self.P * self.P, axis=(-2, -1))

    def tr_pv(self, v: np.ndarray) -> Array:
        out: Array = np.add.reduce(np.diagonal(self.P, axis1=-2, axis2=-1) * v, axis=-1)
        return out

    def ss_pv(self, v: np.ndarray) -> Array:
        out: Array = np.add.reduce(self.P * self.P * v[..., :, None] * v[..., None, :],
                                        axis=(-2, -1))
        return out

    def pvp(self, v: np.ndarray) -> Array:
        out: Array = np.add.reduce(self.P * self.P * v[..., None, :], axis=(-2, -1))
        return out

    def logdet_xwx(self) -> Array:
        out: Array = 2 * np.add.reduce(
            np.log(np.abs(np.diagonal(self._r, axis1=-2, axis2=-1))) + np.log(self._scale),
            axis=-1)
        return out

    def vb(self) -> Array:
        rinv = self._rinv
        out: Array = rinv @ np.swapaxes(rinv, -1, -2)
        return out


def _triangular_inverse(r: np.ndarray) -> np.ndarray:
    """Inverse of a stack of upper-triangular matrices (the pseudo-inverse of a singular one,
    which a checked design does not produce; no ``LinAlgError``)."""
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out: np.ndarray = np.linalg.solve(r, _identity(r.shape[-1]))
        if np.isfinite(out).all():
            return out
    except np.linalg.LinAlgError:
        pass
    out = np.linalg.pinv(r)
    return out


_IDENTITY: dict[int, np.ndarray] = {}


def _identity(p: int) -> np.ndarray:
    """The p x p identity matrix (read-only, made once per p)."""
    eye = _IDENTITY.get(p)
    if eye is None:
        eye = np.eye(p)
        eye.setflags(write=False)
        _IDENTITY[p] = eye
    return eye


class Design:
    """Factory of projections for one design: ``None`` (intercept only) or ``X`` (batch, k, p)."""

    def __init__(self, X: np.ndarray | None = None) -> None:
        self.X = X
        self.p = 1 if X is None else X.shape[-1]

    def subset(self, idx: Array) -> "Design":
        """The design of the analyses at positions ``idx`` of the batch."""
        return self if self.X is None else Design(self.X[np.asarray(idx)])

    def project(self, w: Array, y: Array, xp: Any = None,
                reference: tuple[Array, Array] | None = None
                ) -> InterceptProjection | DesignProjection:
        """The projection with weights ``w`` (batch, k) for effects ``y`` (``xp``: the array
        namespace, default that of ``w`` and ``y``; ``reference``: see
        :class:`InterceptProjection`; a design ``X`` is NumPy)."""
        if self.X is None:
            return InterceptProjection(w, y, xp, reference)
        return DesignProjection(w, y, self.X)

    def broadcast(self) -> "Design":
        """The design for weights of shape ``(batch, m, k)`` (m weight vectors per analysis)."""
        return self if self.X is None else Design(self.X[:, None])

