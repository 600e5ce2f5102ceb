"""Questions and their answers: one answer per clinical question.

A **question** is treatment × condition (``None`` = all conditions, for reviews that pool
several) × outcome domain × comparator class × term (:mod:`metaverdict.synthesis.terms`).
Every verdict of :func:`metaverdict.synthesis.assess.assess` belongs to exactly one question.

Each question gets one **answer**:

1. *Per source*: a source's verdicts for the question are reduced to one representative —
   not a subgroup (a label that names a subgroup), then one with a CI, then the latest
   timepoint within the term. The source's other verdicts (subgroups, other timepoints of the
   same term) are the answer's ``details``, never counted again.
2. *Between sources* (:data:`SELECTION_RULE`): trials pooled here (each trial once) first;
   then the highest certainty; then a result with a CI; then an estimate; then the most recent
   source; then the most studies (k).
3. The other sources are listed as ``consistent`` (same direction: benefit, harm or no
   significant difference), ``conflicting`` (another direction) or ``unclear`` (a direction
   cannot be told), with their own category and certainty; their overlap with the chosen
   source is :func:`metaverdict.synthesis.overlap.overlap` ("overlap unknown" where the
   reviews' included trials are not recorded).

What the reader sees first is the GRADE informative statement of the chosen verdict
(:func:`metaverdict.verdict.wording.headline`), its certainty and category, the effect and,
where one can be given, its absolute effect (:mod:`metaverdict.synthesis.absolute`).

Every treatment has an adverse-events answer: where no adverse-event result is stored, the
answer says so (``verdict = "no result stored"``), so harms are never silently absent.

A source whose numbers come from simulated data (stored with ``simulated`` true; read only when
asked, see :func:`metaverdict.synthesis.read_evidence`) is named with the label
:data:`SIMULATED_LABEL` wherever an answer names it, and the answer's ``simulated`` is True when
its chosen source is simulated.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaverdict._results import ResultMixin, format_table
from metaverdict.evidence.queries import IncludedTrialRow, ResultRow
from metaverdict.evidence.vocabulary import Vocabulary
from metaverdict.grade.body import is_ratio
from metaverdict.grade.levels import LEVELS, Basis, Level
from metaverdict.synthesis.absolute import AbsoluteEffect, TypicalSD, absolute_effect
from metaverdict.synthesis.overlap import Overlap, overlap
from metaverdict.synthesis.probability import MCIDProbability, SkepticalPrior, body_probability
from metaverdict.synthesis.terms import TERMS, visit_days
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import Category, Direction
from metaverdict.verdict.wording import headline

#: Conditions that stand for "all conditions" (reviews pooling several conditions).
ALL_CONDITIONS = frozenset({"mixed musculoskeletal pain"})
#: The verdict of a question nothing answers (the always-shown adverse-events row).
NO_RESULT = "no result stored"
ADVERSE_EVENTS = "adverse-events"
SELECTION_RULE = ("one result per source (not a subgroup, with a CI, the latest timepoint of "
                  "the term); between sources: trials pooled here first, then the highest "
                  "certainty, then a result with a CI, then an estimate, then the most recent "
                  "source, then the most studies")
COMPARATOR_ORDER: tuple[str, ...] = ("sham", "sham-or-no-treatment", "no-treatment", "active",
                                     "add-on", "usual-care", "mixed", "technique", "any")
OUTCOME_ORDER: tuple[str, ...] = ("pain", "function", ADVERSE_EVENTS, "recurrence",
                                  "treatment-success", "cramping")
DIRECTIONS: tuple[Direction, ...] = tuple(Direction)
#: How a simulated source is labelled wherever it is named.
SIMULATED_LABEL = "SIMULATED"


def source_name(key: str, simulated: bool) -> str:
    """A source key as displayed: ``"demo (SIMULATED)"`` for a simulated source."""
    return f"{key} ({SIMULATED_LABEL})" if simulated else key
_SUBGROUP = re.compile(r"subgroup", re.I)


@dataclass(frozen=True, repr=False)
class Question(ResultMixin):
    """One clinical question (see the module docstring)."""

    treatment: str
    condition: str | None
    outcome: str
    comparator_class: str
    term: str
    comparator: str = ""
    _repr_fields = ("treatment", "condition", "outcome", "comparator_class", "term")

    @property
    def key(self) -> tuple[Any, ...]:
        """Sort key: outcome, comparator class, term (days in order), condition."""
        def idx(seq: Sequence[str], x: str) -> int:
            return seq.index(x) if x in seq else len(seq)
        day = visit_days(self.term)
        term = (len(TERMS) + day) if day is not None else float(idx(TERMS, self.term))
        return (idx(OUTCOME_ORDER, self.outcome), self.outcome,
                idx(COMPARATOR_ORDER, self.comparator_class), self.comparator, term,
                "" if self.condition is None else self.condition)

    def describe(self) -> str:
        """E.g. ``dry needling vs sham, pain, short term (all conditions)``."""
        cond = "all conditions" if self.condition is None else self.condition
        term = self.term if self.term not in TERMS else f"{self.term} term"
        vs = self.comparator if self.comparator else self.comparator_class
        return f"{self.treatment} vs {vs}, {self.outcome}, {term} ({cond})"


@dataclass(frozen=True, repr=False)
class OtherSource(ResultMixin):
    """A source that also answers a question, and how it relates to the chosen one."""

    id: str
    relation: str
    category: str
    certainty: str | None
    effect: str
    simulated: bool = False
    _repr_fields = ("id", "relation")

    @property
    def name(self) -> str:
        """The id as displayed (labelled SIMULATED for a simulated source)."""
        return source_name(self.id, self.simulated)

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "relation", "category", "certainty", "effect", "simulated"}``."""
        return {"id": self.id, "relation": self.relation, "category": self.category,
                "certainty": self.certainty, "effect": self.effect,
                "simulated": self.simulated}


@dataclass(frozen=True, repr=False)
class Answer(ResultMixin):
    """The one answer to a question.

    Attributes
    ----------
    question : Question
    headline : str
        The GRADE informative statement the reader sees first ("may reduce pain", "the
        evidence is very uncertain").
    statement : str
        The full GRADE-style sentence with the effect and the MCID.
    certainty : Level or None
        ``high``, ``moderate``, ``low``, ``very low``; None without trial evidence.
    verdict : str
        The category (a :class:`~metaverdict.verdict.rules.Category`), or
        :data:`NO_RESULT` (``no result stored``).
    direction : Direction
        ``benefit``, ``harm``, ``none`` or ``unknown``.
    chosen : Verdict or None
        The verdict chosen to answer (None when nothing is stored).
    absolute_effect : AbsoluteEffect or None
    other_sources : tuple of OtherSource
    overlap : Overlap or None
        Overlap of the reviews behind the answer (None with a single source).
    details : tuple of Verdict
        The chosen source's other verdicts for this question (subgroups, timepoints).
    supporting : tuple of Verdict
        The other sources' representative verdicts.
    flags : tuple of str
        Things to check before relying on the answer (secondary summaries, borderline
        results, comparators that are not a treatment comparison).
    simulated_sources : tuple of str
        The chosen sources whose numbers come from simulated data (empty for real evidence).
    probability : MCIDProbability or None
        P(effect beyond the MCID) under the stated sceptical prior, for an MD or SMD with a CI
        and an MCID (:mod:`metaverdict.synthesis.probability`); None otherwise.
    """

    question: Question
    headline: str
    statement: str
    certainty: Level | None
    verdict: str
    direction: Direction
    chosen: Verdict | None
    absolute_effect: AbsoluteEffect | None = None
    other_sources: tuple[OtherSource, ...] = ()
    overlap: Overlap | None = None
    details: tuple[Verdict, ...] = field(default=(), repr=False)
    supporting: tuple[Verdict, ...] = field(default=(), repr=False)
    flags: tuple[str, ...] = ()
    selection_rule: str = SELECTION_RULE
    simulated_sources: tuple[str, ...] = ()
    probability: MCIDProbability | None = None
    _repr_fields = ("question", "verdict", "certainty")

    @property
    def source_id(self) -> str | None:
        """The chosen source (several keys joined by ``+`` for trials pooled here)."""
        return "+".join(self.chosen.sources) if self.chosen and self.chosen.sources else None

    @property
    def simulated(self) -> bool:
        """True when a chosen source's numbers come from simulated data."""
        return bool(self.simulated_sources)

    @property
    def source_name(self) -> str | None:
        """:attr:`source_id` as displayed: each simulated key labelled SIMULATED."""
        if not (self.chosen and self.chosen.sources):
            return None
        return "+".join(source_name(k, k in self.simulated_sources)
                        for k in self.chosen.sources)

    @property
    def effect(self) -> dict[str, Any] | None:
        """``{measure, estimate, ci_lower, ci_upper, favours_treatment_when}`` as harmonised
        (treatment minus comparator, or their ratio), or None without an estimate."""
        b = self.chosen.body if self.chosen else None
        if b is None or b.estimate is None:
            return None
        null = "1" if is_ratio(b.measure) else "0"
        when = (None if b.lower_is_better is None or b.measure == "NNT" else
                f"estimate {'<' if b.lower_is_better else '>'} {null}")
        return {"measure": b.measure, "estimate": b.estimate, "ci_lower": b.ci_lower,
                "ci_upper": b.ci_upper, "favours_treatment_when": when}

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable answer (the keys of ``metaverdict answer --json``)."""
        q = self.question
        a = self.absolute_effect
        p = self.probability
        return {
            "treatment": q.treatment, "condition": q.condition, "outcome": q.outcome,
            "comparator_class": q.comparator_class, "comparator": q.comparator or None,
            "term": q.term,
            "headline": self.headline, "statement": self.statement,
            "certainty": self.certainty, "verdict": self.verdict, "direction": self.direction,
            "effect": self.effect,
            "effect_text": self.chosen.effect if self.chosen else None,
            "absolute_effect": None if a is None else {
                "units": a.units, "estimate": a.estimate, "ci_lower": a.ci_lower,
                "ci_upper": a.ci_upper, "text": a.text, "basis": a.basis},
            "mcid": self.chosen.mcid.describe() if self.chosen and self.chosen.mcid else None,
            "source_id": self.source_id,
            "other_sources": [o.to_dict() for o in self.other_sources],
            "overlap": None if self.overlap is None else self.overlap.cca,
            "overlap_status": None if self.overlap is None else self.overlap.status,
            "certainty_reasons": list(self.chosen.certainty.reasons)
            if self.chosen and self.chosen.certainty else [],
            "flags": list(self.flags),
            "details": [{"label": v.label, "timepoint": v.timepoint, "effect": v.effect,
                         "verdict": v.category, "certainty": v.level} for v in self.details],
            "selection_rule": self.selection_rule,
            "probability_beyond_mcid": None if p is None else p.benefit,
            "probability": None if p is None else {
                "benefit_beyond_mcid": p.benefit, "within_mcid": p.within,
                "harm_beyond_mcid": p.harm, "mcid": p.mcid, "prior": p.prior.describe(),
                "prior_tail": p.prior.tail, "text": p.describe()},
            "simulated": self.simulated,
            "simulated_sources": list(self.simulated_sources),
        }

    def summary(self) -> str:
        """Question, headline, certainty, verdict, effect and sources."""
        lines = [self.question.describe(),
                 f"  {self.headline} [{self.certainty or 'no certainty'}; {self.verdict}]"]
        if self.chosen:
            lines.append(f"  effect: {self.chosen.effect} [{self.source_name}]")
        if self.absolute_effect:
            lines.append(f"  absolute: {self.absolute_effect.text}")
        if self.probability:
            lines.append(f"  {self.probability.describe()} ({self.probability.prior.describe()})")
        lines += [f"  {o.relation}: {o.name} ({o.category}, {o.certainty})"
                  for o in self.other_sources]
        if self.overlap:
            lines.append(f"  overlap: {self.overlap.status}")
        return "\n".join(lines)


def question_of(v: Verdict, vocabulary: Vocabulary | None = None) -> Question:
    """The question a verdict answers. Against an active treatment the question also names
    which one (a known treatment term found in the comparator's name, e.g. "corticosteroid
    injection", else the name itself): PRP vs corticosteroid and PRP vs autologous blood are
    different questions."""
    c = v.claim
    cond = None if c.condition in ALL_CONDITIONS else c.condition
    comp = ""
    if c.comparator == "active" and v.body is not None:
        comp = active_comparator(v.body.comparator_name, vocabulary, c.treatment)
    return Question(c.treatment, cond, c.outcome, c.comparator, c.window, comp)


def active_comparator(name: str, vocabulary: Vocabulary | None = None,
                      treatment: str = "") -> str:
    """The active comparator a question is about: a vocabulary treatment term named in
    ``name`` (or a name that is exactly one of its aliases), other than the treatment itself
    ("no PRP" does not make PRP the comparator; "other therapies incl. physiotherapy" is not
    "exercise therapy"), else ``name`` itself."""
    low = (name or "").strip().lower()
    if vocabulary is not None:
        for term, info in vocabulary.data["treatments"]["terms"].items():
            if term == treatment or info.get("family") == treatment:
                continue
            if re.search(rf"(?<![a-z]){re.escape(term.lower())}(?![a-z])", low) or any(
                    low == a.lower() for a in info.get("aliases", [])):
                return term
    return (name or "").strip() or "an active treatment"


def _level_rank(v: Verdict) -> int:
    return v.level.rank if v.level is not None else len(LEVELS)


def _representative(vs: list[Verdict]) -> tuple[Verdict, list[Verdict]]:
    def key(v: Verdict) -> tuple[Any, ...]:
        b = v.body
        has_ci = bool(b and b.has_ci)
        day = v.day if math.isfinite(v.day) else -1.0
        return (1 if _SUBGROUP.search(v.label) else 0, 0 if has_ci else 1, -day,
                min(b.result_ids) if b and b.result_ids else 0)
    ordered = sorted(vs, key=key)
    return ordered[0], ordered[1:]


def _choice_key(v: Verdict) -> tuple[Any, ...]:
    b = v.body
    assert b is not None
    return (0 if b.basis is Basis.POOLED_TRIALS else 1, _level_rank(v),
            0 if b.has_ci else 1, 0 if b.estimate is not None else 1, -(b.year or 0),
            -(b.k or 0))


def relation(a: Direction, b: Direction) -> str:
    """``consistent``, ``conflicting`` or ``unclear`` for two directions."""
    if Direction.UNKNOWN in (a, b):
        return "unclear"
    return "consistent" if a == b else "conflicting"


def _flags(v: Verdict) -> tuple[str, ...]:
    out = list(v.body.verification) if v.body else []
    if v.borderline:
        out.append(next(r for r in v.reasons if r.startswith("borderline")))
    if v.claim.comparator == "technique":
        out.append("one technique of the treatment against another: not a comparison of "
                   "the treatment with something else")
    return tuple(out)


def answer_question(q: Question, verdicts: list[Verdict], included: Iterable[IncludedTrialRow],
                    rows: dict[int, ResultRow], sd: TypicalSD | None,
                    simulated: frozenset[str] = frozenset(),
                    prior: SkepticalPrior | None = None) -> Answer:
    """The answer to one question from its verdicts (rules in the module docstring);
    ``simulated`` holds the keys of simulated sources, ``prior`` the sceptical prior of the
    probability beyond the MCID (default :class:`SkepticalPrior`)."""
    by_source: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_source["+".join(v.sources)].append(v)
    reps = {k: _representative(vs) for k, vs in by_source.items()}
    ordered = sorted(reps.values(), key=lambda rd: _choice_key(rd[0]))
    chosen, details = ordered[0]
    others = [rep for rep, _ in ordered[1:]]
    reviews = [s for v in [chosen, *others] if v.body and v.body.basis is Basis.REVIEW
               for s in v.sources]
    ov = overlap(reviews, included) if len(set(reviews)) >= 2 else None
    return Answer(
        q, headline(q.treatment, q.outcome, chosen.category, chosen.level, q.comparator_class),
        chosen.statement, chosen.level, chosen.category, chosen.direction, chosen,
        absolute_effect(chosen.body, rows, sd) if chosen.body else None,
        tuple(OtherSource("+".join(o.sources), relation(chosen.direction, o.direction),
                          o.category, o.level, o.effect, bool(simulated & set(o.sources)))
              for o in others),
        ov, tuple(details), tuple(others), _flags(chosen),
        simulated_sources=tuple(k for k in chosen.sources if k in simulated),
        probability=body_probability(chosen.body, chosen.mcid.threshold if chosen.mcid else None,
                                     prior))


def _opinion_answer(v: Verdict, simulated: frozenset[str] = frozenset()) -> Answer:
    q = Question(v.claim.treatment, v.claim.condition, "any", "any", "any")
    return Answer(q, headline(q.treatment, "any", Category.OPINION_ONLY, None, "any"),
                  v.statement, None, Category.OPINION_ONLY, Direction.UNKNOWN, v,
                  simulated_sources=tuple(k for k in v.sources if k in simulated))


def _no_adverse_events(treatment: str) -> Answer:
    q = Question(treatment, None, ADVERSE_EVENTS, "any", "any")
    text = (f"No adverse-event result for {treatment} is stored: the evidence base says "
            "nothing about its harms, which is not evidence that there are none.")
    return Answer(q, "no adverse-event result stored", text, None, NO_RESULT, Direction.UNKNOWN,
                  None)


def build_answers(treatment: str, verdicts: Sequence[Verdict],
                  included: Iterable[IncludedTrialRow], rows: Iterable[ResultRow],
                  sd: TypicalSD | None,
                  vocabulary: Vocabulary | None = None,
                  simulated: Iterable[str] = (),
                  prior: SkepticalPrior | None = None) -> tuple[Answer, ...]:
    """One answer per question of a treatment's verdicts, in bottom-line order.

    ``simulated`` names simulated sources (besides those of rows flagged ``simulated``);
    ``prior`` is the sceptical prior of each answer's probability beyond the MCID."""
    included = tuple(included)
    rows = list(rows)
    by_id = {r.id: r for r in rows}
    sim = frozenset(simulated) | {r.source_id for r in rows if r.simulated}
    groups: dict[Question, list[Verdict]] = defaultdict(list)
    opinions = []
    for v in verdicts:
        if v.body is None:
            opinions.append(_opinion_answer(v, sim))
        else:
            groups[question_of(v, vocabulary)].append(v)
    out = [answer_question(q, vs, included, by_id, sd, sim, prior) for q, vs in groups.items()]
    if not any(a.question.outcome == ADVERSE_EVENTS for a in out):
        out.append(_no_adverse_events(treatment))
    return tuple(sorted(out, key=lambda a: a.question.key)) + tuple(opinions)


def answers_table(answers: Sequence[Answer]) -> str:
    """Plain-text bottom-line table: one row per question."""
    rows = [[a.question.outcome, a.question.comparator_class, a.question.term,
             a.question.condition or "all", a.headline[:44], a.certainty or "-",
             a.verdict, (a.chosen.effect if a.chosen else "")[:40], a.source_name or "-"]
            for a in answers]
    return format_table(["outcome", "vs", "term", "condition", "bottom line", "certainty",
                         "verdict", "effect", "source"], rows)
