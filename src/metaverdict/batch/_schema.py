"""The batch engine's schema and input checks: output fields, the rows of the result buffer,
the ``reason`` codes, and the validation shared by the frame, array, Dask and file entry
points (each error names the analysis, the row and the field)."""
from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd

from metaverdict.errors import InputError
from metaverdict.models.inference import TESTS

__all__ = ["FIELDS", "GlobalSearch", "KNHA_FIELDS", "KernelMethod", "REASONS", "REASON_DTYPE",
           "Row", "TESTS", "check_chunk_size",
           "check_level", "check_threads", "field_dtype", "first_invalid", "float_array",
           "frame_columns", "label", "raise_invalid", "require_columns"]

#: Output columns (after the analysis key), the field names of a single fit.
FIELDS = ("k", "estimate", "se", "statistic", "pvalue", "ci_lower", "ci_upper", "tau2", "tau2_se",
          "i2", "h2", "q", "q_df", "q_pvalue", "pi_lower", "pi_upper", "converged", "iterations",
          "reason")
#: Extra output columns with ``test="knha"``.
KNHA_FIELDS = ("df", "s2w")


class Row(IntEnum):
    """The rows of the ``(len(Row), n)`` result buffer that the kernels fill, one per computed
    field (named as in :data:`FIELDS`; ``converged`` is stored as 0/1 and ``iterations`` as a
    float count until the output table is built)."""

    estimate = 0
    se = 1
    statistic = 2
    pvalue = 3
    ci_lower = 4
    ci_upper = 5
    tau2 = 6
    tau2_se = 7
    i2 = 8
    h2 = 9
    q = 10
    q_pvalue = 11
    pi_lower = 12
    pi_upper = 13
    converged = 14
    iterations = 15
    s2w = 16


class KernelMethod(IntEnum):
    """The estimators of the compiled kernel (:mod:`metaverdict.batch.compiled`)."""

    EE = 0
    DL = 1
    HE = 2
    ML = 3
    REML = 4
    PM = 5


class GlobalSearch(IntEnum):
    """:attr:`~metaverdict.models.random_effects.SolverControl.global_search` as a code."""

    OFF = 0
    ON = 1
    SCREENED = 2


#: Analyses per block of the compiled kernel, laid across SIMD lanes (a compile-time
#: constant there, so that its loops over the lanes vectorise without run-time checks).
LANES = 32

#: The largest k - 1 for which the compiled kernel computes the Q test's χ² tail in closed
#: form (SciPy above it).
CLOSED_FORM_MAX_DF = 60

#: The values of the ``reason`` column other than ``""`` (an ordinary fit).
REASONS = {
    "k1_z": "k = 1: z test used (Hartung-Knapp needs k >= 2), as metafor",
    "failed": "not computable in double precision (a non-finite estimate, se, tau2 or "
              "statistic, e.g. from variances near 1e-308 or effects whose squares overflow): "
              "numeric fields set to NaN",
    "no_convergence": "the tau2 iteration did not converge (control.max_iter reached)",
    "tau2_se": "tau2_se not computable in double precision: set to NaN",
}
#: The dtype of the ``reason`` column: categorical (a code per analysis, not a string), with
#: ``""`` and the values of :data:`REASONS` as its categories.
REASON_DTYPE = pd.CategoricalDtype(["", *REASONS.values()])
#: The category code of each reason (0 is ``""``).
REASON_CODE = {key: i + 1 for i, key in enumerate(REASONS)}
#: Rows that must be finite in every fit (a statistic may be +-inf when se = 0).
MUST_BE_FINITE = (Row.estimate, Row.se, Row.pvalue, Row.ci_lower, Row.ci_upper, Row.tau2, Row.i2,
                  Row.h2, Row.q, Row.q_pvalue, Row.pi_lower, Row.pi_upper)


def field_dtype(name: str) -> Any:
    """The dtype of output column ``name`` (:data:`FIELDS`, :data:`KNHA_FIELDS`)."""
    if name in ("k", "q_df", "iterations"):
        return np.int64
    if name == "converged":
        return bool
    if name == "reason":
        return REASON_DTYPE
    return np.float64


# ----------------------------------------------------------------------------- arguments
def check_level(level: Any) -> float:
    """``level`` as a float in (0, 1), or an :class:`InputError`."""
    if (isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real)
            or not 0 < float(level) < 1):
        raise InputError(f"field 'level': confidence level must be a number in (0, 1) "
                         f"(e.g. 0.95), got {level!r}")
    return float(level)


def check_chunk_size(chunk_size: Any, field: str = "chunk_size") -> int:
    """``chunk_size`` as an int >= 1, or an :class:`InputError`."""
    if (isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, numbers.Integral)
            or chunk_size < 1):
        raise InputError(f"field {field!r}: must be a whole number >= 1, got {chunk_size!r}")
    return int(chunk_size)


def check_threads(threads: Any) -> int:
    """``threads`` (``None``: the CPUs this process may run on) as an int >= 1."""
    if threads is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    return check_chunk_size(threads, "threads")


def require_columns(present: Sequence[Any], fields: Sequence[tuple[str, str]],
                    where: str = "in the data") -> None:
    """Each ``(field, column)`` of ``fields`` names a different column, present exactly once
    in ``present``; the message names the field (``where`` says where the columns come from,
    e.g. ``"in 'studies.csv'"``)."""
    present = list(present)
    for i, (f1, c1) in enumerate(fields):
        for f2, c2 in fields[i + 1:]:
            if c1 == c2:
                raise InputError(f"fields {f1!r} and {f2!r}: both name column {c1!r}; "
                                 "they must be different columns")
    for field, col in fields:
        if col not in present:
            raise InputError(f"field {field!r}: no column {col!r} {where} (columns: {present})")
        if present.count(col) > 1:
            raise InputError(f"field {field!r}: column {col!r} appears {present.count(col)} "
                             f"times {where}; rename the duplicates")


# ----------------------------------------------------------------------------- values
def label(x: Any) -> Any:
    """A row label or key as a plain Python value (``12``, not ``np.int64(12)``)."""
    return x.item() if isinstance(x, np.generic) else x


def _show(x: Any) -> str:
    """A cell for a message: ``'a'`` for text (not ``np.str_('a')``)."""
    return repr(label(x))


def _not_real(x: Any) -> bool:
    """Whether ``x`` (one entry of an object array) is not a real number (missing values
    are numbers here: NaN, reported as not finite)."""
    if x is None or x is pd.NA:
        return False
    if isinstance(x, (bool, np.bool_, complex, np.complexfloating)):
        return True
    if isinstance(x, numbers.Real):
        return False
    try:
        float(x)
    except (TypeError, ValueError):
        return True
    return isinstance(x, (bytes, np.datetime64, np.timedelta64))


def float_array(value: Any, field: str) -> np.ndarray:
    """``value`` as a float64 array (no copy if it is one); text, complex, boolean and date
    values are rejected, naming the first one by analysis and study (its index in an
    ``(n, k)`` array)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iuf":
        out: np.ndarray = arr.astype(np.float64, copy=False)
        return out
    flat = arr.reshape(-1)
    bad = 0 if arr.dtype.kind != "O" else next(
        (i for i, x in enumerate(flat) if _not_real(x)), -1)
    if bad < 0:
        out = flat.astype(np.float64).reshape(arr.shape)
        return out
    where = np.unravel_index(bad, arr.shape) if arr.ndim else ()
    place = (f"analysis {int(where[0])}, study {int(where[1])}, " if len(where) == 2
             else f"element {tuple(int(w) for w in where)}, " if where else "")
    raise InputError(f"{place}field {field!r}: not a real number: {_show(flat[bad])}")


def _float_column(frame: pd.DataFrame, keys: pd.Series, field: str) -> np.ndarray:
    """Column ``field`` as float64 (missing values as NaN; a float64 column without a copy);
    a boolean, complex, date or text entry is reported with its analysis key and row label."""
    col = frame[field]
    kind = getattr(col.dtype, "kind", "O")
    if isinstance(col.dtype, np.dtype) and kind in "iuf":
        out: np.ndarray = col.to_numpy().astype(np.float64, copy=False)
        return out
    if kind in "iuf":                       # nullable (masked) numbers: NA becomes NaN
        out = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    values = col.to_numpy(dtype=object)
    if kind in "bcmM":              # bool, complex, datetime, timedelta: the first non-missing
        present = np.flatnonzero(col.notna().to_numpy())
        bad = int(present[0]) if present.size else -1
    else:
        bad = next((i for i, x in enumerate(values) if _not_real(x)), -1)
    if bad < 0:
        out = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    raise InputError(f"analysis {label(keys.iloc[bad])!r}, row {label(frame.index[bad])!r}, "
                     f"field {field!r}: not a real number: {_show(values[bad])}")


def frame_columns(frame: Any, by: str, yi: str, vi: str
                  ) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The key column and the effect and variance columns as float64 arrays, checked for
    missing or repeated columns, an empty table, missing keys and entries that are not real
    numbers. Whether the values are finite (and the variances > 0) is checked by the fit
    (:func:`first_invalid`, :func:`raise_invalid`)."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"expected a pandas or Dask DataFrame, got {type(frame).__name__}")
    require_columns(list(frame.columns), (("by", by), ("yi", yi), ("vi", vi)))
    if len(frame) == 0:
        raise InputError("no studies to pool: the table is empty (k = 0 for every analysis)")
    keys = frame[by]
    if keys.dtype.kind not in "iub":                  # integer keys cannot be missing
        missing = np.flatnonzero(keys.isna().to_numpy())
        if missing.size:
            raise InputError(f"row {label(frame.index[missing[0]])!r}, field {by!r}: "
                             f"missing analysis key")
    return keys, _float_column(frame, keys, yi), _float_column(frame, keys, vi)


def first_invalid(y: np.ndarray, v: np.ndarray) -> int:
    """The first position (of the flattened arrays) where ``y`` is not finite or ``v`` is not
    a finite number > 0, or -1 when every value is valid."""
    y, v = y.reshape(-1), v.reshape(-1)
    step = 1 << 20                                       # bounded temporaries
    for start in range(0, len(y), step):
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(y[start:start + step]) & np.isfinite(v[start:start + step])
                    & (v[start:start + step] > 0))
        if bad.any():
            return start + int(np.argmax(bad))
    return -1


def raise_invalid(y: np.ndarray, v: np.ndarray, where: Any, fields: tuple[str, str]) -> None:
    """Raise an :class:`InputError` for the first invalid value of ``y``/``v`` (see
    :func:`first_invalid`), if any. ``where(i)`` describes position ``i`` (e.g.
    ``"analysis 'a', row 12"``); ``fields``: the names of the effect and variance fields."""
    i = first_invalid(y, v)
    if i < 0:
        return
    yf, vf = y.reshape(-1), v.reshape(-1)
    field, value = (fields[0], yf[i]) if not np.isfinite(yf[i]) else (fields[1], vf[i])
    rule = "must be a finite number" if field == fields[0] else "must be a finite number > 0"
    raise InputError(f"{where(i)}, field {field!r}: {rule}, got {value}")
