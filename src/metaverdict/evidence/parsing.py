"""Small parsers for reported text: P-values ("<=0.003") and group values ("55.1%", "27 (90%)")."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-"})
_P = re.compile(r"^\s*(p\s*)?(<=|>=|≤|≥|<|>|=)?\s*(\d*\.?\d+(?:[eE]-?\d+)?)", re.IGNORECASE)
_RELATION = {"≤": "<=", "≥": ">=", None: "="}


@dataclass(frozen=True)
class PValue:
    """A reported P-value: ``relation`` ("<=", "<", "=", ">", ">=") and ``value``.

    ``first_of_several`` is True when the text reports more than one value (e.g.
    ``"0.163 (abstract) / 0.094 (news report)"``); the first is kept.
    """

    relation: str
    value: float
    first_of_several: bool


def parse_p_value(text: str) -> PValue:
    """Parse a reported P-value such as ``"<=0.003"``, ``"<.0001"``, ``"0.05"``, ``">0.05"``.

    Raises
    ------
    ValueError
        If no number is found or it lies outside [0, 1].
    """
    t = text.strip().translate(_MINUS)
    m = _P.match(t)
    if not m:
        raise ValueError("must be a P-value such as '0.03', '<0.001' or '<=0.003'")
    value = float(m.group(3))
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a P-value between 0 and 1")
    relation = _RELATION.get(m.group(2), m.group(2))
    several = len(re.findall(r"\d*\.?\d+", t[m.end():])) > 0
    return PValue(relation, value, several)


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_number(text: str) -> float:
    """Parse a finite number written with a Unicode minus or a decimal point (``"-1.5"``,
    ``"−0.3"``, ``"2e-3"``); ValueError otherwise, also for ``inf``, ``nan``, ``1_000``, complex
    numbers and values that overflow a double."""
    t = text.strip().translate(_MINUS)
    if t.lstrip("+-").lower() in ("inf", "infinity", "nan"):
        raise ValueError(f"number out of range (not finite): {text!r}")
    if not _NUMBER.fullmatch(t):
        raise ValueError(f"not a number: {text!r}")
    x = float(t)
    if not math.isfinite(x):
        raise ValueError(f"number out of range: {text!r}")
    return x


def parse_group_value(text: str) -> tuple[float | None, bool]:
    """Parse a group-level value: ``"21.3"`` -> (21.3, False), ``"55.1%"`` -> (55.1, True),
    ``"27 (90%)"`` -> (90.0, True) (the percentage), ``"<1%"`` -> (None, True)."""
    t = text.strip().translate(_MINUS)
    m = re.fullmatch(r"-?\d*\.?\d+", t)
    if m:
        return float(t), False
    m = re.fullmatch(r"(-?\d*\.?\d+)\s*%", t)
    if m:
        return float(m.group(1)), True
    m = re.fullmatch(r"\d+\s*\(\s*(\d*\.?\d+)\s*%\s*\)", t)
    if m:
        return float(m.group(1)), True
    return None, "%" in t
