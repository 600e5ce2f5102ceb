"""What each page shows, as plain data built from one store snapshot's syntheses.

Nothing here judges evidence or queries a database: the values come from
:func:`metaverdict.synthesis.synthesize` (the same :class:`~metaverdict.synthesis.Answer`
objects ``metaverdict answer`` prints) and are flattened with the report's own helpers
(:func:`metaverdict.report.build.answer_row`, ``bottom_line``, ``evidence_maps``,
``references``), so the site, the CLI and the HTML report can never disagree. The figures are
the report's figures (:mod:`metaverdict.report.figures`), drawn for one question.

A question's address is :func:`question_slug`: its outcome, comparator, term and condition,
so a link stays valid when other questions are added.

>>> from metaverdict.evidence import open_store
>>> from metaverdict.synthesis import read_evidence, synthesize
>>> with open_store() as store:
...     evidence = read_evidence(store)
>>> view = treatment_view(synthesize(evidence, "PRP"), treatment_info(evidence, "PRP"))
>>> view.info.slug, view.questions[0].slug
('platelet-rich-plasma-injection', 'pain--sham--short--lateral-epicondylitis')
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaverdict.errors import InputError
from metaverdict.evidence.queries import ResultRow
from metaverdict.report.build import (
    answer_row,
    bottom_line,
    claim_rows,
    evidence_maps,
    opinion_flags,
    references,
    term_words,
)
from metaverdict.report.document import (
    AnswerRow,
    BottomLineGroup,
    ClaimRow,
    EvidenceMap,
    Figure,
    NetworkSection,
    OpinionFlag,
    Reference,
    TimeCourseSection,
    display_text,
    slug,
)
from metaverdict.report.figures import forest_figure, summary_estimates_figure, time_course_section
from metaverdict.synthesis import (
    SELECTION_RULE,
    Answer,
    EvidenceBase,
    OtherSource,
    Question,
    Synthesis,
    article_claims,
    check_claims,
    resolve_treatment,
)
from metaverdict.verdict import Verdict

#: The treatments the home page leads with (vocabulary terms).
FEATURED: tuple[str, ...] = ("dry needling", "platelet-rich plasma injection",
                             "corticosteroid injection")
#: matplotlib's figure machinery is not thread-safe: one figure is drawn at a time.
FIGURE_LOCK = threading.Lock()


@dataclass(frozen=True)
class TreatmentInfo:
    """A treatment with stored evidence: its term, URL slug, aliases and counts."""

    term: str
    slug: str
    aliases: tuple[str, ...]
    results: int
    sources: int

    @property
    def title(self) -> str:
        """The term with its aliases: ``platelet-rich plasma injection (PRP, ...)``."""
        return self.term + (f" ({', '.join(self.aliases)})" if self.aliases else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"term": self.term, "slug": self.slug, "aliases": list(self.aliases),
                "results": self.results, "sources": self.sources,
                "url": f"/treatments/{self.slug}"}


def treatment_terms(evidence: EvidenceBase) -> list[str]:
    """Treatment terms with stored results or opinions, the featured ones first."""
    terms = {r.treatment for r in evidence.rows}
    terms |= {op.treatment for op in evidence.opinion_rows if op.treatment}
    known = [resolve_treatment(evidence, t) for t in sorted(terms)
             if _has_evidence(evidence, t)]
    uniq = list(dict.fromkeys(known))
    return [t for t in FEATURED if t in uniq] + [t for t in uniq if t not in FEATURED]


def _has_evidence(evidence: EvidenceBase, term: str) -> bool:
    try:
        resolve_treatment(evidence, term)
    except InputError:
        return False
    return True


def treatment_info(evidence: EvidenceBase, name: str) -> TreatmentInfo:
    """The :class:`TreatmentInfo` of a treatment name or alias.

    Raises
    ------
    InputError
        For a treatment without stored evidence (the message lists the available ones).
    """
    term = resolve_treatment(evidence, name)
    info = evidence.vocabulary.data["treatments"]["terms"].get(term, {})
    rows = evidence.results(treatment=term)
    return TreatmentInfo(term, slug(term), tuple(info.get("aliases", ())), len(rows),
                         len({r.source_id for r in rows}))


def question_slug(q: Question) -> str:
    """The URL part of a question: outcome, comparator class (and named comparator), term,
    condition. ``pain--sham--short--neck-pain``."""
    return slug(q.outcome, q.comparator_class, q.comparator, q.term,
                q.condition or "all conditions")


@dataclass(frozen=True)
class QuestionLink:
    """One answer of a treatment page, with its address and display row."""

    slug: str
    answer: Answer
    row: AnswerRow


@dataclass(frozen=True)
class TreatmentView:
    """A treatment page: the bottom line, the evidence map and every question."""

    info: TreatmentInfo
    bottom_line: tuple[BottomLineGroup, ...]
    evidence_maps: tuple[EvidenceMap, ...]
    questions: tuple[QuestionLink, ...]
    overlap: str
    possible_overlap: tuple[str, ...]
    warnings: tuple[str, ...]
    not_shown: tuple[str, ...]
    opinions: tuple[OpinionFlag, ...]
    network: NetworkSection | None = None

    def question(self, qslug: str) -> QuestionLink | None:
        """The question with this slug, or None."""
        return next((q for q in self.questions if q.slug == qslug), None)


def _warnings(synth: Synthesis) -> tuple[str, ...]:
    out = [f"{r.source_id} ({r.outcome_raw}, {r.timepoint_raw}): {r.data_problem}"
           for r in synth.flagged]
    out += [f"{r.source_id} ({r.outcome_raw}, {r.timepoint_raw}): {r.evidence_about}; kept "
            f"out of the answers for {synth.treatment}" for r in synth.related]
    return tuple(dict.fromkeys(out))


def treatment_view(synth: Synthesis, info: TreatmentInfo,
                   evidence: EvidenceBase | None = None,
                   network: NetworkSection | None = None) -> TreatmentView:
    """The treatment page of one synthesis (``evidence`` adds the opinions' citations;
    ``network`` the networks of its active comparisons, as the report shows them)."""
    slugs: list[str] = []
    for a in synth.answers:
        s = question_slug(a.question)
        n = 2
        while s in slugs:
            s = f"{question_slug(a.question)}-{n}"
            n += 1
        slugs.append(s)
    rows = {id(a): answer_row(a, s) for a, s in zip(synth.answers, slugs)}
    links = tuple(QuestionLink(s, a, rows[id(a)]) for a, s in zip(synth.answers, slugs))
    opinions = opinion_flags(synth.assessment, evidence) if evidence is not None else ()
    return TreatmentView(info, bottom_line(synth.answers, rows),
                         evidence_maps(synth.answers, rows), links, synth.overlap.status,
                         synth.possible_overlap, _warnings(synth),
                         tuple(synth.assessment.not_shown), opinions, network)


@dataclass(frozen=True)
class Domain:
    """One GRADE domain of the chosen body: how many levels down, and why."""

    domain: str
    steps: int
    reason: str
    assessed: bool

    @property
    def judgement(self) -> str:
        """``not serious``, ``serious (-1)``, ``very serious (-2)`` or ``not assessed``."""
        if not self.assessed and not self.steps:
            return "not assessed"
        words = {0: "not serious", 1: "serious", 2: "very serious"}.get(self.steps, "serious")
        return words + (f" (\u2212{self.steps})" if self.steps else "") + (
            "" if self.assessed else ", assumed")


@dataclass(frozen=True)
class QuestionView:
    """A question page: the answer and all its working."""

    info: TreatmentInfo
    slug: str
    answer: Answer
    row: AnswerRow
    term_words: str
    domains: tuple[Domain, ...]
    certainty_notes: tuple[str, ...]
    chosen_sources: tuple[str, ...]
    other_sources: tuple[OtherSource, ...]
    figures: tuple[Figure, ...]
    time_course: TimeCourseSection | None
    references: tuple[Reference, ...]
    selection_rule: str = SELECTION_RULE

    def to_dict(self) -> dict[str, Any]:
        """The answer's JSON (:meth:`Answer.to_dict`) plus the GRADE domains and where
        every number came from."""
        return {**self.answer.to_dict(), "question_id": self.slug,
                "question": self.answer.question.describe(),
                "url": f"/treatments/{self.info.slug}/questions/{self.slug}",
                "grade_domains": [{"domain": d.domain, "steps": d.steps,
                                   "judgement": d.judgement, "reason": d.reason,
                                   "assessed": d.assessed} for d in self.domains],
                "certainty_notes": list(self.certainty_notes),
                "figures": [f.id for f in self.figures]
                + ([self.time_course.figure.id] if self.time_course else []),
                "numbers": [reference_dict(r) for r in self.references]}


def reference_dict(r: Reference) -> dict[str, Any]:
    """A reference and its numbers as JSON."""
    return {"key": r.key, "citation": r.citation, "doi": r.doi or None,
            "doi_url": r.doi_url or None, "design": r.design,
            "location": r.location_text or "; ".join(u for u, _ in r.links),
            "secondary_summary": r.secondary,
            "numbers": [{"result_id": n.result_id, "what": n.what, "reported": n.reported,
                         "location": n.location, "quote": n.quote,
                         "derivation": n.derivation, "notes": n.notes,
                         "secondary_summary": n.secondary} for n in r.numbers]}


def _verdicts(a: Answer) -> list[Verdict]:
    return [v for v in (a.chosen, *a.supporting, *a.details) if v is not None]


def _rows_of(verdicts: Iterable[Verdict], rows: Sequence[ResultRow]) -> list[ResultRow]:
    ids = {i for v in verdicts if v.body is not None for i in v.body.result_ids}
    return [r for r in rows if r.id in ids]


def question_view(synth: Synthesis, info: TreatmentInfo, link: QuestionLink,
                  evidence: EvidenceBase) -> QuestionView:
    """The question page of one answer: GRADE domains, sources, figures and numbers."""
    a = link.answer
    v = a.chosen
    domains: tuple[Domain, ...] = ()
    notes: list[str] = []
    if v is not None and v.certainty is not None:
        c = v.certainty
        domains = tuple(Domain(d.domain, d.steps, d.reason, d.assessed) for d in c.judgements)
        notes.append(f"Starts at {c.start} (randomized trials); basis: {c.basis}.")
        if c.review_level is not None:
            notes.append(f"The review's own rating: {c.review_level} ({c.review_text!r}); "
                         f"metaverdict's checks: {c.tool_level}; the lower is used.")
        notes += [f"Assumption: {x}" for x in c.assumptions] + list(c.notes)
    verdicts = _verdicts(a)
    figures: list[Figure] = []
    cond = a.question.condition or "all conditions"
    with FIGURE_LOCK:
        summary, _skipped = summary_estimates_figure(verdicts, treatment=synth.treatment,
                                                     condition=cond,
                                                     fig_id=f"fig-{link.slug}-estimates")
        if summary is not None:
            figures.append(summary)
        figures += [f for j, x in enumerate(verdicts)
                    if (f := forest_figure(x, f"fig-{link.slug}-forest-{j + 1}")) is not None]
        course = None
        if a.question.condition is not None and v is not None and v.body is not None:
            tc = time_course_section(synth, a.question.condition, a.question.outcome,
                                     fig_id=f"fig-{link.slug}-time-course")
            if tc is not None and any(set(f.sources) & set(v.sources) for f in tc.findings):
                course = tc
    rows = _rows_of(verdicts, synth.rows)
    chosen = tuple(v.sources) if v is not None else ()
    refs = references(evidence, rows)
    refs = tuple(sorted(refs, key=lambda r: (r.key not in chosen, r.key)))
    return QuestionView(info, link.slug, a, link.row, term_words(a.question.term), domains,
                        tuple(notes), chosen, a.other_sources, tuple(figures), course, refs)


@dataclass(frozen=True)
class AnswerUse:
    """An answer that rests on (or lists) a source."""

    treatment: TreatmentInfo
    question: QuestionLink
    role: str


@dataclass(frozen=True)
class StudyView:
    """A study (source) page: citation, DOI, every stored number, the answers using it."""

    reference: Reference
    rows: tuple[ResultRow, ...]
    uses: tuple[AnswerUse, ...]
    opinions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**reference_dict(self.reference),
                "results": [r.to_dict() for r in self.rows],
                "answers": [{"treatment": u.treatment.term, "question_id": u.question.slug,
                             "question": u.question.answer.question.describe(),
                             "role": u.role, "verdict": u.question.answer.verdict,
                             "certainty": u.question.answer.certainty,
                             "url": f"/treatments/{u.treatment.slug}/questions/"
                                    f"{u.question.slug}"} for u in self.uses],
                "opinions": list(self.opinions)}


def source_list(evidence: EvidenceBase) -> list[dict[str, str]]:
    """Every stored source as display strings (key, citation, doi, url_or_location, design,
    notes; "" where nothing is stored)."""
    return [{k: display_text(v) for k, v in rec.items()} for rec in evidence.source_records]


def source_keys(evidence: EvidenceBase) -> list[str]:
    """Every stored source key, in the store's order."""
    return [str(r["key"]) for r in evidence.source_records]


def study_view(evidence: EvidenceBase, key: str,
               views: Mapping[str, TreatmentView]) -> StudyView:
    """The page of one source.

    Raises
    ------
    KeyError
        For a key that is not stored.
    """
    if key not in source_keys(evidence):
        raise KeyError(key)
    rows = tuple(r for r in evidence.rows if r.source_id == key)
    ref = references(evidence, rows, extra_keys=[key])[0]
    uses = []
    for view in views.values():
        for q in view.questions:
            a = q.answer
            if key in (a.source_id or "").split("+"):
                uses.append(AnswerUse(view.info, q, "the answer rests on it"))
            elif any(key in o.id.split("+") for o in a.other_sources):
                rel = next(o.relation for o in a.other_sources if key in o.id.split("+"))
                uses.append(AnswerUse(view.info, q, f"another source ({rel})"))
            elif any(key in d.sources for d in a.details):
                uses.append(AnswerUse(view.info, q, "details of the chosen source"))
    opinions = tuple(f"{op.expert}: {op.claim}" for op in evidence.opinion_rows
                     if op.source_id == key)
    return StudyView(ref, rows, tuple(uses), opinions)


@dataclass(frozen=True)
class ClaimsView:
    """The claims page: the article's claims checked, and the experts' opinions flagged."""

    claims: tuple[ClaimRow, ...]
    opinions: tuple[tuple[TreatmentInfo, tuple[OpinionFlag, ...]], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"claims": [{"id": c.id, "text": c.text, "source": c.source,
                            "status": c.status, "holds": list(c.holds), "fails": list(c.fails),
                            "not_assessable": list(c.not_assessable), "notes": list(c.notes),
                            "goes_beyond_the_data": c.beyond_data, "overreach": c.overreach}
                           for c in self.claims],
                "opinions": [{"treatment": t.term, "expert": o.expert, "claim": o.claim,
                              "condition": o.condition, "flag": o.flag, "finding": o.finding,
                              "no_trial_evidence": o.flag_class == "opinion"}
                             for t, ops in self.opinions for o in ops]}


def claims_view(evidence: EvidenceBase, syntheses: Mapping[str, Synthesis],
                views: Mapping[str, TreatmentView]) -> ClaimsView:
    """Check the bundled article's claims on the syntheses' own verdicts."""
    stated = [c for c in article_claims()
              if evidence.vocabulary.treatment(c.treatment)[0] in syntheses]
    checks = check_claims(stated, evidence,
                          assessments={t: s.assessment for t, s in syntheses.items()})
    ops = tuple((v.info, v.opinions) for v in views.values() if v.opinions)
    return ClaimsView(claim_rows(checks), ops)


@dataclass(frozen=True)
class SearchHit:
    """One search result: what kind of thing, its title, a line of context, its address."""

    kind: str
    title: str
    context: str
    url: str


def search(q: str, views: Mapping[str, TreatmentView], evidence: EvidenceBase,
           limit: int = 60) -> list[SearchHit]:
    """Treatments, questions and studies whose words contain every word of ``q``
    (case-insensitive, in memory: no query is built from the text)."""
    words = q.lower().split()
    if not words:
        return []

    def hit(*texts: str | None) -> bool:
        hay = " ".join(display_text(t) for t in texts).lower()
        return all(w in hay for w in words)

    out: list[SearchHit] = []
    for view in views.values():
        i = view.info
        if hit(i.term, *i.aliases):
            out.append(SearchHit("treatment", i.title, f"{len(view.questions)} questions "
                                 "answered", f"/treatments/{i.slug}"))
    for view in views.values():
        for link in view.questions:
            a = link.answer
            if hit(a.question.describe(), a.headline, view.info.term, *view.info.aliases):
                out.append(SearchHit("question", a.question.describe(),
                                     f"{a.headline} ({a.certainty or 'not rated'})",
                                     f"/treatments/{view.info.slug}/questions/{link.slug}"))
    for rec in source_list(evidence):
        if hit(rec["key"], rec["citation"], rec["doi"], rec["design"]):
            out.append(SearchHit("study", rec["key"], rec["citation"], f"/studies/{rec['key']}"))
    return out[:limit]
