"""GRADE certainty levels and the bases of a body of evidence and of its rating, as enums.

Each is an :class:`enum.StrEnum`: a member *is* its string (``Level.LOW == "low"``, JSON
``"low"``, ``f"{Level.LOW}"`` is ``low``), so output and comparisons with plain strings are
unchanged, while code compares with members instead of spelling the words again.

>>> Level.HIGH.lowered(2)
<Level.LOW: 'low'>
>>> Level.lower_of("moderate", Level.VERY_LOW)
<Level.VERY_LOW: 'very low'>
>>> Basis("single trial") is Basis.SINGLE_TRIAL
True
"""
from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """A GRADE certainty level, from ``high`` down to ``very low``."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    VERY_LOW = "very low"

    @property
    def rank(self) -> int:
        """0 for ``high`` ... 3 for ``very low`` (larger is less certain)."""
        return _ORDER.index(self)

    def lowered(self, steps: int) -> Level:
        """This level lowered by ``steps`` (floor ``very low``)."""
        return _ORDER[min(self.rank + max(steps, 0), len(_ORDER) - 1)]

    @classmethod
    def lower_of(cls, a: str, b: str) -> Level:
        """The less certain of two levels (members or their strings)."""
        return max(cls(a), cls(b), key=lambda x: x.rank)


_ORDER: tuple[Level, ...] = tuple(Level)
#: The levels from ``high`` to ``very low`` (plain iteration order of :class:`Level`).
LEVELS: tuple[Level, ...] = _ORDER


class Basis(StrEnum):
    """What a body of evidence is: trials pooled here, one trial, or a review's result."""

    POOLED_TRIALS = "pooled primary trials"
    SINGLE_TRIAL = "single trial"
    REVIEW = "review pooled result"


class RatingBasis(StrEnum):
    """How a certainty level was reached (see :mod:`metaverdict.grade.certainty`)."""

    TOOL = "metaverdict rating"
    LOWER_OF_REVIEW = "lower of the review's rating and metaverdict's checks"
