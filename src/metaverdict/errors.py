"""Exceptions raised by metaverdict.

Every error caused by the caller's data is an :class:`InputError` (a ``ValueError``), and its
message names the study (row label) and the field at fault, so that a reviewer can find the
offending number in the spreadsheet it came from.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class InputError(ValueError):
    """Bad input: the message names the study/row and the field, and says what would be right."""


class ConvergenceError(RuntimeError):
    """An iterative estimator found no solution (e.g. no maximum of the likelihood exists)."""


def row_error(labels: Sequence[Any] | None, index: int, field: str, problem: str) -> InputError:
    """Build an :class:`InputError` for one study.

    Parameters
    ----------
    labels : sequence or None
        Study labels (row labels); position ``index`` is used, or ``row <index+1>`` without labels.
    index : int
        0-based position of the study.
    field : str
        Name of the input field (column or argument) at fault.
    problem : str
        What is wrong and what would be right, e.g. ``"must be > 0, got -1.0"``.
    """
    where = f"study {labels[index]!r}" if labels is not None else f"row {index + 1}"
    return InputError(f"{where}, field {field!r}: {problem}")
