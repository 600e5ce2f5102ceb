"""The :class:`Verdict` value: a body of evidence (or an opinion) judged against the MCID.

It is built by :func:`metaverdict.verdict.verdicts.verdict_for` and worded by
:mod:`metaverdict.verdict.wording`; both import it from here, so neither imports the other's
caller.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metaverdict._results import ResultMixin
from metaverdict.grade.body import Body
from metaverdict.grade.certainty import Certainty
from metaverdict.grade.levels import Level
from metaverdict.grade.mcid import MCIDMatch
from metaverdict.verdict.claims import Claim
from metaverdict.verdict.rules import Category, Direction


@dataclass(frozen=True, repr=False)
class Verdict(ResultMixin):
    """The verdict on one body of evidence (or on an opinion without trial evidence).

    Attributes
    ----------
    claim : Claim
        Treatment, comparator, condition, outcome, window.
    category : Category
        One of :data:`metaverdict.verdict.rules.CATEGORIES`.
    direction : Direction
        ``benefit``, ``harm``, ``none`` (no significant difference) or ``unknown``.
    statistically_significant, clinically_important : bool or None
        None where the data cannot tell.
    rule : str
        The rule that decided the category, with the numbers.
    reasons : tuple of str
        What the verdict rests on and what missing numbers cost.
    statement : str
        GRADE-style sentence (see :mod:`metaverdict.verdict.wording`).
    label, timepoint, day : str, str, float
        What distinguishes this body (instrument/site), the timepoint as reported, and a day
        count to order a time course by (inf when unknown).
    effect : str
        The effect as text (measure, estimate, CI, or P-value/bound).
    mcid : MCIDMatch or None
    certainty : Certainty or None
    body : Body or None
        The evidence (None for an opinion-only verdict).
    sources : tuple of str
        Source keys; ``dois`` their DOIs where known.
    borderline : bool
        True when the estimate lies within 10% of the MCID (see ``reasons``).
    """

    claim: Claim
    category: Category
    direction: Direction
    statistically_significant: bool | None
    clinically_important: bool | None
    rule: str
    reasons: tuple[str, ...]
    statement: str
    label: str
    timepoint: str
    day: float
    effect: str
    mcid: MCIDMatch | None
    certainty: Certainty | None
    sources: tuple[str, ...]
    dois: tuple[str, ...]
    body: Body | None = field(default=None, compare=False)
    borderline: bool = False
    _repr_fields = ("claim", "category", "timepoint")

    @property
    def level(self) -> Level | None:
        """The certainty level, or None for an opinion."""
        return self.certainty.level if self.certainty else None

    def summary(self) -> str:
        """Claim, category, effect, MCID, certainty with reasons, statement."""
        lines = [f"{self.claim.describe()} — {self.label} [{self.timepoint}]",
                 f"verdict: {self.category} ({self.rule})",
                 f"effect: {self.effect}"]
        if self.mcid is not None:
            lines.append(self.mcid.describe())
        if self.certainty is not None:
            lines.append(f"certainty: {self.certainty.level}; "
                         + "; ".join(self.certainty.reasons or ["no downgrades"]))
        lines += [f"- {r}" for r in self.reasons]
        lines.append(self.statement)
        return "\n".join(lines)

    def row(self) -> dict[str, Any]:
        """One flat summary-of-findings row (for tables and reports)."""
        return {"treatment": self.claim.treatment, "comparator": self.claim.comparator,
                "condition": self.claim.condition, "outcome": self.claim.outcome,
                "window": self.claim.window, "timepoint": self.timepoint, "label": self.label,
                "effect": self.effect,
                "mcid": self.mcid.describe() if self.mcid else "none for this scale",
                "certainty": self.level or "", "certainty_reasons":
                    "; ".join(self.certainty.reasons) if self.certainty else "",
                "category": self.category, "direction": self.direction,
                "statement": self.statement, "sources": ", ".join(self.sources)}
