"""What every result object shares: ``to_dict()`` for JSON, a short ``repr``, and read-only
arrays.

Result classes are frozen dataclasses that inherit :class:`ResultMixin`; their ``summary()``
builds a journal-style table with :func:`format_table`. Their NumPy arrays are read-only
(:func:`read_only`) and tables they hand out are new DataFrames on every access, so that a
result cannot be changed after the fit.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def to_builtin(value: Any) -> Any:
    """Convert NumPy/pandas values to JSON-ready Python objects (NaN and inf become None).

    Dataclasses become dicts of all their fields but the private ones (names starting with
    ``_``), plus the properties a :class:`ResultMixin` class names in ``_dict_properties``.
    """
    if isinstance(value, pd.DataFrame):
        return {c: to_builtin(value[c].to_list()) for c in value.columns}
    if isinstance(value, pd.Series):
        return to_builtin(value.to_list())
    if isinstance(value, np.ndarray):
        return to_builtin(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return to_builtin(value.value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value) if not f.name.startswith("_")]
        names += list(getattr(value, "_dict_properties", ()))
        return to_builtin({name: getattr(value, name) for name in names})
    return value


def read_only(a: Any) -> Any:
    """``a`` as a read-only NumPy array (a read-only view when ``a`` is writable, so that the
    caller's array stays writable); ``None`` stays ``None``."""
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.flags.writeable:
        arr = arr.view()
        arr.setflags(write=False)
    return arr


def fmt(x: float | None, digits: int = 4) -> str:
    """Format a number for a table: fixed digits, ``<.0001`` style for tiny p-values handled by
    :func:`fmt_p`."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """Format a p-value as journals do (``<.0001`` below 1e-4)."""
    if p is None or math.isnan(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


_RELATION_SIGNS = {"<=": "\u2264", ">=": "\u2265", "=": "=", "<": "<", ">": ">"}


def fmt_p_relation(relation: str | None, p: float) -> str:
    """A reported P-value with its relation as a clinician reads it: ``P \u2264 0.003``,
    ``P < 0.00001`` (decimals, never ``1e-05``; ``\u2264``/``\u2265`` for ``<=``/``>=``)."""
    digits = f"{p:.12f}".rstrip("0").rstrip(".") if p < 0.001 else f"{p:g}"
    return f"P {_RELATION_SIGNS.get(relation or '=', relation)} {digits}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Right-aligned plain-text table (first column left-aligned)."""
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


class ResultMixin:
    """``to_dict()`` and a one-line ``repr`` for frozen result dataclasses.

    Subclasses list the fields shown in ``repr`` in ``_repr_fields``, and the properties that
    ``to_dict()`` adds to the public fields in ``_dict_properties``.
    """

    _repr_fields: tuple[str, ...] = ()
    _dict_properties: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Every public field (and the properties named in ``_dict_properties``) as JSON-ready
        Python objects."""
        out: dict[str, Any] = to_builtin(self)
        return out

    def __repr__(self) -> str:
        parts = []
        for name in self._repr_fields:
            v = getattr(self, name)
            if isinstance(v, enum.Enum):
                v = v.value
            shown = fmt(float(v)) if isinstance(v, (float, np.floating)) else repr(v)
            parts.append(f"{name}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


class TableResult(ResultMixin):
    """A result that holds one DataFrame, ``_table`` (a field of the subclass), shown as the
    property ``table``: a new copy on each access, so that the frozen result cannot be changed
    through it, and part of ``to_dict()``."""

    _table: pd.DataFrame
    _dict_properties: tuple[str, ...] = ("table",)

    @property
    def table(self) -> pd.DataFrame:
        """The result's table (a copy; the class docstring lists its columns)."""
        return self._table.copy()
