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


class InterceptProjection:
    """``P`` for the intercept-only model, by closed forms in sums over studies.

    With :math:`s_m = \\sum_i w_i^m`: :math:`\\operatorname{tr} P = s_1 - s_2/s_1`,
    :math:`\\operatorname{tr} P^2 = s_2 - 2 s_3/s_1 + s_2^2/s_1^2`,
    :math:`(Py)_i = w_i (y_i - \\hat\\mu)`.

    Every statistic is computed on first use (``functools.cached_property``), so an estimator
    pays only for the sums it needs; sums over studies are dot products (``vecdot``).
    """

    p = 1

    def __init__(self, w: Array, y: Array) -> None:
        xp = array_namespace(w, y)
        self._xp, self.w, self._y = xp, w, y
        self.sum_w = row_sum(w, xp)
        self.beta = (xp.vecdot(w, y) / self.sum_w)[..., None]

    @cached_property
    def resid(self) -> Array:
        return self._y - self.beta

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
        """y'P³y = u'Pu with u = Py, so that d(y'P²y)/dτ² = -2 y'P³y."""
        xp, u = self._xp, self._py
        return xp.vecdot(self.w * u, u) - xp.vecdot(self.w, u) ** 2 / self.sum_w

    @cached_property
    def w2(self) -> Array:
        return self.w * self.w

    @cached_property
    def sum_w2(self) -> Array:
        return self._xp.vecdot(self.w, self.w)

    @cached_property
    def tr_p(self) -> Array:
        return self.sum_w - self.sum_w2 / self.sum_w

    @cached_property
    def ss_p(self) -> Array:
        s1 = self.sum_w
        return self.sum_w2 - 2 * self._xp.vecdot(self.w2, self.w) / s1 + (self.sum_w2 / s1) ** 2

    def tr_pv(self, v: Array) -> Array:
        xp = self._xp
        return xp.vecdot(self.w, v) - xp.vecdot(self.w2, v) / self.sum_w

    def ss_pv(self, v: Array) -> Array:
        xp, s1 = self._xp, self.sum_w
        w2v = self.w2 * v
        return (xp.vecdot(w2v, v) - 2 * xp.vecdot(w2v * v, self.w) / s1
                + (row_sum(w2v, xp) / s1) ** 2)

    def pvp(self, v: Array) -> Array:
        xp, s1 = self._xp, self.sum_w
        w2v = self.w2 * v
        s_w2v = row_sum(w2v, xp)
        return s_w2v - 2 * xp.vecdot(w2v, self.w) / s1 + self.sum_w2 * s_w2v / s1 ** 2

    def logdet_xwx(self) -> Array:
        return self._xp.log(self.sum_w)

    def vb(self) -> Array:
        """(X'WX)^{-1}, shape (batch, 1, 1)."""
        return (1 / self.sum_w)[..., None, None]


class DesignProjection:
    """``P`` for a general design ``X`` (NumPy, shape ``(batch, k, p)``), via the k x k matrix."""

    def __init__(self, w: np.ndarray, y: np.ndarray, X: np.ndarray) -> None:
        self.w, self.X = w, X
        self.p = X.shape[-1]
        self.sum_w = w.sum(axis=-1)
        self.sum_w2 = np.sum(w * w, axis=-1)
        xtw = np.swapaxes(X, -1, -2) * w[..., None, :]
        self._xwx_inv = np.linalg.inv(xtw @ X)
        hat = X @ self._xwx_inv @ xtw                       # (batch, k, k)
        self.P = w[..., :, None] * (np.eye(X.shape[-2]) - hat)
        self.beta = (self._xwx_inv @ (xtw @ y[..., None]))[..., 0]
        self.resid = y - (X @ self.beta[..., None])[..., 0]
        py = (self.P @ y[..., None])[..., 0]
        self.rss = np.sum(py * y, axis=-1)
        self.ypy2 = np.sum(py * py, axis=-1)
        self.ypy3 = np.sum(py * (self.P @ py[..., None])[..., 0], axis=-1)
        self.tr_p = np.trace(self.P, axis1=-2, axis2=-1)
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
        out: np.ndarray = -np.linalg.slogdet(self._xwx_inv)[1]
        return out

    def vb(self) -> np.ndarray:
        return self._xwx_inv


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

