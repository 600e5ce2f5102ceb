"""The evidence report as plain data: the dataclasses a template renders.

:mod:`metaverdict.report.build` fills them from a :class:`metaverdict.synthesis.Synthesis`
per treatment (answers, verdicts, time courses) and the claim checks made on the same
verdicts;
:mod:`metaverdict.report.figures` draws the figures; :mod:`metaverdict.report.render` turns a
:class:`ReportDocument` into HTML or Markdown. Every field is a display string or a tuple of
them, so a template never meets None or NaN.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from metaverdict.synthesis.answers import NO_RESULT, SIMULATED_LABEL, source_name
from metaverdict.synthesis.claim_check import ClaimStatus
from metaverdict.verdict import Category, Direction, Verdict

#: The treatments ``--all`` covers, as vocabulary terms.
ALL_TREATMENTS: tuple[str, ...] = ("dry needling", "platelet-rich plasma injection",
                                   "corticosteroid injection")
#: The marker the synthesis puts into the *verification* flags of a number read from a news
#: report, summary page or critically appraised topic rather than the paper itself.
SECONDARY_SUMMARY = "secondary summary"

#: CSS class (and Markdown marker) per verdict category.
CATEGORY_CLASS: dict[str, str] = {
    "important benefit": "benefit", "benefit below the MCID": "small-benefit",
    "no important difference": "null", "harm below the MCID": "small-harm",
    "important harm": "harm", "inconclusive": "unclear",
    "no trial evidence (opinion only)": "opinion"}
CERTAINTY_CLASS: dict[str, str] = {"high": "high", "moderate": "moderate", "low": "low",
                                   "very low": "very-low"}
#: GRADE's circles: filled per level of certainty.
CERTAINTY_SYMBOL: dict[str, str] = {"high": "\u2295\u2295\u2295\u2295",
                                    "moderate": "\u2295\u2295\u2295\u25ef",
                                    "low": "\u2295\u2295\u25ef\u25ef",
                                    "very low": "\u2295\u25ef\u25ef\u25ef"}
#: Direction of a verdict category (for the colour's hue); an answer with no result stored
#: has none.
CATEGORY_DIRECTION: dict[str, Direction] = {**{c: c.direction for c in Category},
                                            NO_RESULT: Direction.UNKNOWN}
#: Legend of the colours: hue = direction, depth = certainty (very low: outline only).
TONE_LEGEND: tuple[tuple[str, str], ...] = (
    ("benefit", "favours the treatment"), ("harm", "favours the comparator (or harms)"),
    ("none", "no significant or no important difference"),
    ("unknown", "size and significance not reported, opinion only, or nothing stored"))


def tone(category: str, certainty: str | None) -> str:
    """CSS class encoding direction *and* certainty: ``tone-benefit-low``; very low
    certainty is an outline only, so it never looks like a moderate-certainty result."""
    level = CERTAINTY_CLASS.get(certainty or "", "none")
    return f"tone-{CATEGORY_DIRECTION.get(category, 'unknown')}-{level}"


STATUS_CLASS: dict[str, str] = {
    ClaimStatus.SUPPORTED: "benefit", ClaimStatus.PARTLY_SUPPORTED: "unclear",
    ClaimStatus.NOT_SUPPORTED: "harm", ClaimStatus.NO_EVIDENCE: "opinion"}


# -- the model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """One figure: an id (HTML anchor and file stem), a title, a caption and its SVG markup."""

    id: str
    title: str
    caption: str
    svg: str


@dataclass(frozen=True)
class Finding:
    """One summary-of-findings row: a verdict flattened to display strings."""

    anchor: str
    treatment: str
    condition: str
    comparator: str
    outcome: str
    label: str
    timepoint: str
    window: str
    effect: str
    mcid: str
    mcid_source: str
    certainty: str
    certainty_reasons: tuple[str, ...]
    category: str
    statement: str
    rule: str
    reasons: tuple[str, ...]
    basis: str
    sources: tuple[str, ...]
    secondary: bool
    simulated_sources: tuple[str, ...] = ()

    @property
    def source_names(self) -> tuple[str, ...]:
        """The sources as displayed: a simulated one as ``key (SIMULATED)``."""
        return tuple(source_name(k, k in self.simulated_sources) for k in self.sources)

    @property
    def simulated(self) -> bool:
        """True when a source of this row is simulated."""
        return bool(self.simulated_sources)

    @property
    def category_class(self) -> str:
        """CSS class of the verdict badge: direction and certainty (see :func:`tone`)."""
        return tone(self.category, self.certainty or None)

    @property
    def certainty_class(self) -> str:
        """CSS class of the certainty badge ("none" for an opinion)."""
        return CERTAINTY_CLASS.get(self.certainty, "none")

    @property
    def certainty_symbol(self) -> str:
        """GRADE circles for the level ("" for none)."""
        return CERTAINTY_SYMBOL.get(self.certainty, "")


@dataclass(frozen=True)
class AnswerRow:
    """One answer flattened for display (see :class:`metaverdict.synthesis.Answer`)."""

    anchor: str
    outcome: str
    comparator_class: str
    term: str
    condition: str
    headline: str
    certainty: str
    verdict: str
    tone: str
    effect: str
    absolute: str
    mcid: str
    source: str
    others: tuple[str, ...]
    overlap: str
    flags: tuple[str, ...]
    statement: str
    certainty_reasons: tuple[str, ...]
    details: tuple[str, ...]
    simulated: bool = False
    probability: str = ""
    probability_prior: str = ""
    probability_short: str = ""

    @property
    def certainty_symbol(self) -> str:
        """GRADE circles for the level ("" for none)."""
        return CERTAINTY_SYMBOL.get(self.certainty, "")

    @property
    def certainty_class(self) -> str:
        """CSS class of the certainty badge."""
        return CERTAINTY_CLASS.get(self.certainty, "none")


@dataclass(frozen=True)
class BottomLineGroup:
    """One row group of the bottom-line table: a question type and its answers by condition."""

    title: str
    rows: tuple[AnswerRow, ...]


@dataclass(frozen=True)
class MapCell:
    """One cell of the evidence map: a short label, its tone and the answer it links to."""

    text: str
    tone: str
    anchor: str
    title: str


@dataclass(frozen=True)
class EvidenceMap:
    """Condition × (comparator class, term) for one outcome; a cell holds one chip per answer
    (several against different active comparators), empty where nothing is stored."""

    outcome: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, tuple[tuple[MapCell, ...], ...]], ...]

    @property
    def class_spans(self) -> list[tuple[str, int]]:
        """``(comparator class, number of term columns)`` in column order (header row 1)."""
        spans: list[tuple[str, int]] = []
        for cls, _term in self.columns:
            if spans and spans[-1][0] == cls:
                spans[-1] = (cls, spans[-1][1] + 1)
            else:
                spans.append((cls, 1))
        return spans


@dataclass(frozen=True)
class ConditionSection:
    """Verdicts, figures and gaps for one treatment and condition."""

    id: str
    condition: str
    findings: tuple[Finding, ...]
    figures: tuple[Figure, ...]
    not_shown: tuple[str, ...]
    unplotted: int


@dataclass(frozen=True)
class TimeCourseSection:
    """A time course (one trial measured on several days) with its figure and gaps."""

    id: str
    condition: str
    title: str
    figure: Figure
    findings: tuple[Finding, ...]
    gaps: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class OpinionFlag:
    """An expert opinion set against the store."""

    expert: str
    claim: str
    treatment: str
    condition: str
    flag: str
    flag_class: str
    finding: str
    source: str


@dataclass(frozen=True)
class ClaimRow:
    """One checked claim: its words, status, and what holds, fails or cannot be assessed."""

    id: str
    text: str
    source: str
    status: str
    holds: tuple[str, ...]
    fails: tuple[str, ...]
    not_assessable: tuple[str, ...]
    notes: tuple[str, ...]
    overreach: str = ""

    @property
    def status_class(self) -> str:
        """CSS class of the status badge."""
        return STATUS_CLASS.get(self.status, "unclear")

    @property
    def beyond_data(self) -> bool:
        """True where the claim says more than the stored numbers show: it is not (fully)
        supported, or part of it cannot be assessed from them."""
        return self.status != ClaimStatus.SUPPORTED or bool(self.not_assessable)


@dataclass(frozen=True)
class NumberSource:
    """Where one stored result came from: location, verbatim quote, derivation."""

    result_id: int
    what: str
    reported: str
    location: str
    quote: str
    derivation: str
    notes: str
    secondary: bool


@dataclass(frozen=True)
class Reference:
    """A cited source with its DOI, locations and the numbers taken from it."""

    key: str
    citation: str
    doi: str
    doi_url: str
    links: tuple[tuple[str, str], ...]
    location_text: str
    design: str
    secondary: bool
    numbers: tuple[NumberSource, ...]
    simulated: bool = False

    @property
    def name(self) -> str:
        """The key as displayed: ``key (SIMULATED)`` for a simulated source."""
        return source_name(self.key, self.simulated)


@dataclass(frozen=True)
class NetworkView:
    """One network of active comparisons, as text (:class:`metaverdict.synthesis.networks.
    ActiveNetwork`): the league table's rows (the first is the header)."""

    title: str
    verdict: str
    league: tuple[tuple[str, ...], ...]
    comparisons: tuple[str, ...]
    caveats: tuple[str, ...]


@dataclass(frozen=True)
class NetworkSection:
    """A treatment's comparisons with other active treatments, networked where they connect."""

    statement: str
    networks: tuple[NetworkView, ...]
    single: tuple[str, ...]
    excluded: tuple[str, ...]


@dataclass(frozen=True)
class TreatmentPart:
    """Everything the report says about one treatment."""

    id: str
    treatment: str
    title: str
    findings: tuple[Finding, ...]
    bottom_line: tuple[BottomLineGroup, ...]
    answers: tuple[AnswerRow, ...]
    evidence_maps: tuple[EvidenceMap, ...]
    overlap: str
    citation_matrix: tuple[tuple[str, ...], ...]
    possible_overlap: tuple[str, ...]
    warnings: tuple[str, ...]
    sections: tuple[ConditionSection, ...]
    time_courses: tuple[TimeCourseSection, ...]
    not_shown: tuple[str, ...]
    opinions: tuple[OpinionFlag, ...]
    network: NetworkSection | None = None


@dataclass(frozen=True)
class ReportDocument:
    """The whole report: provenance header, one part per treatment, claims, references.

    ``simulated`` is the header's statement of what is simulated; ``simulated_sources`` names
    the simulated sources the report includes (``"key: citation"``; empty: "Nothing is
    simulated."), ``simulated_left_out`` those the store holds but the report leaves out.
    """

    title: str
    generated: str
    version: str
    data_source: tuple[str, ...]
    simulated: str
    secondary_rows: tuple[str, ...]
    parts: tuple[TreatmentPart, ...]
    claims: tuple[ClaimRow, ...]
    claims_note: str
    references: tuple[Reference, ...]
    simulated_sources: tuple[str, ...] = ()
    simulated_left_out: tuple[str, ...] = ()
    simulated_keys: tuple[str, ...] = ()
    probability_note: str = ""

    @property
    def figures(self) -> list[Figure]:
        """Every figure in document order."""
        out: list[Figure] = []
        for p in self.parts:
            for s in p.sections:
                out += list(s.figures)
            out += [t.figure for t in p.time_courses]
        return out


# -- helpers -------------------------------------------------------------------------------
def slug(*parts: str) -> str:
    """An HTML id from words: ``slug("dry needling", "neck pain") -> "dry-needling--neck-pain"``."""
    return "--".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts if p)


def display_text(x: Any) -> str:
    """A display string; ``""`` for None and NaN (so neither leaks into the page)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return str(x).strip()


def _mcid_text(v: Verdict) -> tuple[str, str]:
    if v.mcid is None:
        return ("none for this scale" if v.body is not None else "", "")
    e = v.mcid.entry
    main = f"{e.value:g} {e.units}".strip()
    extra = f"; {v.mcid.assumption}" if v.mcid.assumption else ""
    return main, f"{e.short_source}{extra}"


def mark_simulated(text: str, simulated: Iterable[str]) -> str:
    """``text`` with every simulated source key in it labelled: ``"demo: MD 1"`` ->
    ``"demo (SIMULATED): MD 1"`` (a key already labelled is left alone).

    >>> mark_simulated("demo2026 reports MD 1 [demo2026, real2020]", {"demo2026"})
    'demo2026 (SIMULATED) reports MD 1 [demo2026 (SIMULATED), real2020]'
    """
    for key in sorted(simulated, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])(?! \({SIMULATED_LABEL}\))",
                      f"{key} ({SIMULATED_LABEL})", text)
    return text


def finding(v: Verdict, simulated: frozenset[str] | set[str] = frozenset()) -> Finding:
    """Flatten a :class:`~metaverdict.verdict.Verdict` into a summary-of-findings row;
    ``simulated`` holds the keys of simulated sources (labelled SIMULATED in its text)."""
    body = v.body
    secondary = bool(body and any(SECONDARY_SUMMARY in r for r in body.verification))
    label = re.sub(r"\s*\[[^\]]*\]\s*$", "", v.label)          # sources are shown separately
    if v.timepoint and label.endswith(v.timepoint):                # so is the timepoint
        label = label[: -len(v.timepoint)].rstrip(" ,")
    mcid, mcid_src = _mcid_text(v)
    reasons = tuple(v.certainty.reasons) if v.certainty else ()
    if v.certainty and not reasons:
        reasons = ("no downgrades",)
    anchor = slug(v.claim.treatment, v.claim.condition, v.claim.outcome, v.claim.comparator,
                  v.timepoint, "-".join(v.sources))          # made unique per report by the caller
    sim = tuple(k for k in v.sources if k in simulated)

    def mark(text: str) -> str:
        return mark_simulated(text, sim) if sim else text

    return Finding(anchor=anchor, treatment=v.claim.treatment, condition=v.claim.condition,
                   comparator=v.claim.comparator, outcome=v.claim.outcome, label=mark(label),
                   timepoint=v.timepoint, window=v.claim.window, effect=v.effect, mcid=mcid,
                   mcid_source=mcid_src, certainty=str(v.level or ""), certainty_reasons=reasons,
                   category=str(v.category), statement=mark(v.statement), rule=v.rule,
                   reasons=tuple(mark(r) for r in v.reasons),
                   basis=str(body.basis) if body else "expert opinion",
                   sources=tuple(v.sources), secondary=secondary, simulated_sources=sim)
