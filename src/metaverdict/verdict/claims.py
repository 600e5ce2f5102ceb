"""What a verdict is about: a :class:`Claim` (treatment, comparator, condition, outcome,
timepoint window), as found in the evidence store."""
from __future__ import annotations

from dataclasses import dataclass

from metaverdict._results import ResultMixin
from metaverdict.grade.body import Body

WINDOW_ORDER: tuple[str, ...] = ("immediate", "short", "medium", "long", "unspecified",
                                 "baseline", "any")


@dataclass(frozen=True, repr=False)
class Claim(ResultMixin):
    """One question the evidence can answer.

    Attributes
    ----------
    treatment : str
        Treatment term (``dry needling``, ``platelet-rich plasma injection`` ...).
    comparator : str
        Comparator kind (``sham``, ``placebo``, ``no-treatment``, ``usual-care``,
        ``other-active``).
    condition : str
        Condition term.
    outcome : str
        Outcome domain (``pain``, ``function`` ...).
    window : str
        Timepoint window (``immediate``, ``short``, ``medium``, ``long``, ``unspecified``), or
        ``any`` for an opinion.
    """

    treatment: str
    comparator: str
    condition: str
    outcome: str
    window: str
    _repr_fields = ("treatment", "comparator", "condition", "outcome", "window")

    @classmethod
    def of(cls, body: Body) -> Claim:
        """The claim a body of evidence answers."""
        return cls(body.treatment, body.comparator, body.condition, body.outcome, body.window)

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """Sort key: treatment, condition, outcome, comparator, window order."""
        w = WINDOW_ORDER.index(self.window) if self.window in WINDOW_ORDER else len(WINDOW_ORDER)
        return (self.treatment, self.condition, self.outcome, self.comparator, w)

    def describe(self) -> str:
        """E.g. ``dry needling vs sham, post-marathon muscle soreness, pain (immediate)``."""
        return (f"{self.treatment} vs {self.comparator}, {self.condition}, {self.outcome} "
                f"({self.window})")
