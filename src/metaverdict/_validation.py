"""Input checks shared by every public function: one place that turns bad numbers into
:class:`~metaverdict.errors.InputError` messages naming the study and the field."""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from metaverdict.errors import InputError, row_error


def study_labels(labels: Any, k: int) -> list[Any] | None:
    """Normalise study labels (a sequence, a pandas Index or None) to a list of length ``k``."""
    if labels is None:
        return None
    out = list(labels)
    if len(out) != k:
        raise InputError(f"field 'labels': expected {k} study labels, got {len(out)}")
    return out


def as_float_array(value: Any, field: str,
                   labels: Sequence[Any] | None = None) -> npt.NDArray[np.float64]:
    """Convert ``value`` to a 1-d float64 array; non-numeric entries are reported by study."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"field {field!r}: expected a 1-d sequence of numbers, "
                         f"got shape {arr.shape}")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        for i, v in enumerate(arr):
            try:
                float(v)
            except (TypeError, ValueError):
                raise row_error(labels, i, field, f"not a number: {v!r}") from None
        raise


def check_same_length(arrays: Mapping[str, np.ndarray]) -> int:
    """Return the common length of ``arrays`` or raise naming the fields that disagree."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{n}: {m}" for n, m in lengths.items())
        raise InputError(f"mismatched lengths ({detail}); every field needs one entry per study")
    return next(iter(lengths.values()), 0)


def check_finite(arr: np.ndarray, field: str, labels: Sequence[Any] | None = None) -> None:
    """Raise for the first NaN or infinite entry."""
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise row_error(labels, int(bad[0]), field, f"must be a finite number, got {arr[bad[0]]}")


def check_bounds(arr: np.ndarray, field: str, labels: Sequence[Any] | None = None, *,
                 lower: float | None = None, upper: float | None = None,
                 lower_strict: bool = False, upper_strict: bool = False,
                 integer: bool = False) -> None:
    """Raise for the first entry outside [lower, upper] (strict bounds exclude the end point)."""
    if _all_within(arr, lower, upper, lower_strict, upper_strict, integer):
        return
    check_finite(arr, field, labels)
    checks = []
    if lower is not None:
        checks.append(((arr <= lower) if lower_strict else (arr < lower),
                       f"must be {'>' if lower_strict else '>='} {lower:g}"))
    if upper is not None:
        checks.append(((arr >= upper) if upper_strict else (arr > upper),
                       f"must be {'<' if upper_strict else '<='} {upper:g}"))
    if integer:
        checks.append((arr != np.round(arr), "must be a whole number (a count)"))
    for mask, rule in checks:
        bad = np.flatnonzero(mask)
        if bad.size:
            raise row_error(labels, int(bad[0]), field, f"{rule}, got {arr[bad[0]]:g}")


def _all_within(arr: np.ndarray, lower: float | None, upper: float | None, lower_strict: bool,
                upper_strict: bool, integer: bool) -> bool:
    """Whether every entry is finite and within the bounds (the quick check before the
    detailed one that names the first offender)."""
    ok = np.isfinite(arr)           # (comparisons with NaN are False, without a warning)
    if lower is not None:
        ok &= (arr > lower) if lower_strict else (arr >= lower)
    if upper is not None:
        ok &= (arr < upper) if upper_strict else (arr <= upper)
    if integer:
        ok &= arr == np.round(arr)
    return bool(ok.all())


def choice(value: str, options: Mapping[str, str] | Sequence[str], field: str) -> str:
    """Return the canonical spelling of ``value`` among ``options`` (case-insensitive)."""
    if isinstance(options, Mapping):
        if isinstance(value, str) and value in options:      # the spelling of a key
            return options[value]
    elif isinstance(value, str) and value in options:
        return value
    opts = dict(options) if isinstance(options, Mapping) else {o: o for o in options}
    lookup = {k.upper(): v for k, v in opts.items()}
    if not isinstance(value, str) or value.upper() not in lookup:
        raise InputError(f"field {field!r}: unknown value {value!r}; "
                         f"choose one of {', '.join(opts)}")
    return lookup[value.upper()]


def check_level(level: Any) -> float:
    """``level`` as a float in (0, 1) (a real number, NumPy scalars included), else
    :class:`InputError` (with a hint when a percentage such as 95 was given)."""
    if (isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real)
            or not 0 < float(level) < 1):
        hint = " (a proportion such as 0.95, not a percentage)" if (
            isinstance(level, numbers.Real) and 1 <= float(level) <= 100) else ""
        raise InputError(f"field 'level': confidence level must be a number in (0, 1), "
                         f"got {level!r}{hint}")
    return float(level)
