"""The array namespace the kernels compute with, resolved once per call of a kernel.

The tau² and pooling kernels are written against the array API standard, so one code path
serves a single fit (a batch of one, NumPy) and a billion fits on a GPU (CuPy, PyTorch, JAX
through ``array_api_compat``). For NumPy arrays :func:`namespace` skips
``array_api_compat.array_namespace`` (several microseconds per call, more than the arithmetic
of a small fit) and returns :data:`NUMPY`: NumPy itself, with the reductions (``sum``, ``max``,
``min``, ``mean``, ``any``, ``all``) taken as ufunc methods (``np.add.reduce``...), which give
the same values without the dispatch layer of ``np.sum`` and friends.

>>> import numpy as np
>>> namespace(np.ones(3)) is NUMPY
True
>>> float(NUMPY.sum(np.arange(4.0)))
6.0
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

Array = Any

# the reductions as Any-typed callables: NumPy's stubs type keepdims as a literal
_SUM: Any = np.add.reduce
_MAX: Any = np.maximum.reduce
_MIN: Any = np.minimum.reduce
_ANY: Any = np.logical_or.reduce
_ALL: Any = np.logical_and.reduce

#: NumPy 2.1 and later implement every function of the array API standard the kernels use
#: (``astype``, ``vecdot``, ``concat``, ``cumulative_sum``); older versions go through
#: array_api_compat's NumPy wrapper.
if hasattr(np, "cumulative_sum") and hasattr(np, "astype"):
    _BASE: Any = np
else:                                                    # NumPy < 2.1
    _BASE = importlib.import_module("array_api_compat.numpy")


class NumPyNamespace:
    """NumPy as an array-API namespace for the kernels (see the module docstring).

    Names other than the reductions are those of the base namespace (NumPy, or
    ``array_api_compat.numpy`` before NumPy 2.1), looked up once and then kept on the instance.
    """

    def __init__(self, base: Any) -> None:
        self._base = base

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._base, name)
        setattr(self, name, value)
        return value

    @staticmethod
    def sum(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return _SUM(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return _MAX(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def min(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return _MIN(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def mean(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        n = x.size if axis is None else x.shape[axis]
        return _SUM(x, axis=axis, keepdims=keepdims) / n

    @staticmethod
    def any(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return _ANY(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def all(x: Array, axis: int | None = None, keepdims: bool = False) -> Array:
        return _ALL(x, axis=axis, keepdims=keepdims)


#: The namespace of NumPy arrays.
NUMPY = NumPyNamespace(_BASE)


def namespace(*arrays: Array) -> Any:
    """The array namespace of ``arrays``: :data:`NUMPY` when every one is a NumPy array, else
    ``array_api_compat.array_namespace(*arrays)``."""
    for a in arrays:
        if type(a) is not np.ndarray:
            return array_namespace(*arrays)
    return NUMPY


_ONES: dict[tuple[int, np.dtype[Any]], np.ndarray] = {}
_CACHED_ONES_UP_TO = 4096


def ones_row(a: Array, xp: Any) -> Array:
    """A vector of ones as long as the last axis of ``a`` (its dtype and device); for NumPy a
    shared read-only vector, made once per length."""
    k = a.shape[-1]
    if xp is not NUMPY:
        return xp.ones(k, dtype=a.dtype, device=device(a))
    if k > _CACHED_ONES_UP_TO:
        return np.ones(k, dtype=a.dtype)
    key = (k, a.dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = np.ones(k, dtype=a.dtype)
        ones.setflags(write=False)
        _ONES[key] = ones
    return ones
