"""Which answers an edit changed, and why, in words.

:func:`answer_changes` compares the answers of two store states (before and after an edit,
both computed by :func:`metaverdict.synthesis.synthesize`) question by question and says
what changed (verdict, certainty, statement, the source the answer rests on, the effect)
and why: the edit that was made, and where the chosen source changed, which source the
answer now rests on. New questions and questions no longer answered are listed too.

>>> from metaverdict.synthesis.answers import Answer, Question
>>> from metaverdict.verdict.rules import Direction
>>> q = Question("dry needling", "neck pain", "pain", "sham", "short")
>>> old = Answer(q, "may reduce pain", "...", "low", "inconclusive", Direction.UNKNOWN, None)
>>> new = Answer(q, "may reduce pain", "...", "low", "no important difference",
...              Direction.NONE, None)
>>> change = compare(old, new, "trial smith2024 was added", "dry-needling", "q")
>>> print(change.sentence)
dry needling vs sham, pain, short term (neck pain): verdict changed from inconclusive to no
important difference because trial smith2024 was added.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metaverdict.report.document import slug
from metaverdict.synthesis import Answer, Synthesis
from metaverdict.web.views import question_slug


@dataclass(frozen=True)
class AnswerChange:
    """One answer that an edit changed (or added, or removed)."""

    treatment: str
    question: str
    url: str
    kind: str
    what: tuple[str, ...]
    because: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def sentence(self) -> str:
        """``<question>: verdict changed from X to Y because <edit>.``"""
        if self.kind == "new":
            a = self.after or {}
            return (f"{self.question}: newly answered ({a.get('verdict')}, "
                    f"{a.get('certainty') or 'not rated'}) because {self.because}.")
        if self.kind == "removed":
            return f"{self.question}: no longer answered because {self.because}."
        return f"{self.question}: {'; '.join(self.what)} because {self.because}."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (stored with the audit entry)."""
        return {"treatment": self.treatment, "question": self.question, "url": self.url,
                "kind": self.kind, "what": list(self.what), "because": self.because,
                "sentence": self.sentence, "before": self.before, "after": self.after}


def _facts(a: Answer) -> dict[str, Any]:
    return {"verdict": str(a.verdict), "certainty": str(a.certainty) if a.certainty else None,
            "headline": a.headline, "source": a.source_id,
            "effect": a.chosen.effect if a.chosen else None,
            "others": {o.id: o.relation for o in a.other_sources}}


def compare(before: Answer, after: Answer, because: str, treatment_slug: str,
            qslug: str) -> AnswerChange | None:
    """The change from ``before`` to ``after`` (answers to the same question), or None:
    verdict, certainty, bottom line, chosen source (else effect), and the other sources."""
    b, a = _facts(before), _facts(after)
    what = []
    if b["verdict"] != a["verdict"]:
        what.append(f"verdict changed from {b['verdict']} to {a['verdict']}")
    if b["certainty"] != a["certainty"]:
        what.append(f"certainty changed from {b['certainty'] or 'not rated'} to "
                    f"{a['certainty'] or 'not rated'}")
    if b["headline"] != a["headline"]:
        what.append(f"the bottom line now reads \u201c{a['headline']}\u201d (was "
                    f"\u201c{b['headline']}\u201d)")
    if b["source"] != a["source"]:
        what.append(f"the answer now rests on {a['source'] or 'no source'} (was "
                    f"{b['source'] or 'none'})")
    elif b["effect"] != a["effect"]:
        what.append(f"the effect changed from {b['effect']} to {a['effect']}")
    added = [f"{k} ({rel})" for k, rel in a["others"].items() if k not in b["others"]]
    gone = [k for k in b["others"] if k not in a["others"]]
    if added:
        what.append(f"{', '.join(added)} now also answer{'s' if len(added) == 1 else ''} it")
    if gone:
        what.append(f"{', '.join(gone)} no longer listed as another source")
    if not what:
        return None
    return AnswerChange(after.question.treatment, after.question.describe(),
                        f"/treatments/{treatment_slug}/questions/{qslug}", "changed",
                        tuple(what), because, b, a)


def answer_changes(before: Mapping[str, Synthesis], after: Mapping[str, Synthesis],
                   because: str) -> list[AnswerChange]:
    """Every answer that differs between two states, treatment by treatment.

    Parameters
    ----------
    before, after : mapping of treatment term to Synthesis
        The syntheses before and after the edit.
    because : str
        The edit, in words ("trial smith2024 was added").
    """
    out: list[AnswerChange] = []
    for term in list(dict.fromkeys([*before, *after])):
        old = {question_slug(a.question): a for a in (before[term].answers
                                                      if term in before else ())}
        new = {question_slug(a.question): a for a in (after[term].answers
                                                      if term in after else ())}
        tslug = slug(term)
        for qs, a in new.items():
            if qs not in old:
                out.append(AnswerChange(term, a.question.describe(),
                                        f"/treatments/{tslug}/questions/{qs}", "new", (),
                                        because, None, _facts(a)))
            elif (c := compare(old[qs], a, because, tslug, qs)) is not None:
                out.append(c)
        for qs, a in old.items():
            if qs not in new:
                out.append(AnswerChange(term, a.question.describe(), f"/treatments/{tslug}",
                                        "removed", (), because, _facts(a), None))
    return out
