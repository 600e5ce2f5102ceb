"""Read side: results and opinions as frozen dataclasses or a pandas DataFrame.

Filters are case-insensitive. ``treatment`` matches a treatment's term, its family or an alias
("dry needling" also finds "dry needling + other therapy"; "PRP" finds PRP injections);
``condition`` matches the condition term; ``outcome`` the outcome domain (``pain``,
``function``...); ``comparator`` the comparator kind; ``kind`` is ``primary`` or ``review``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from metaverdict.evidence.models import IncludedTrial, Opinion, Result, Source
from metaverdict.evidence.vocabulary import Vocabulary, comparator_class


@dataclass(frozen=True)
class ResultRow:
    """One result with its normalised fields, harmonised estimate and provenance.

    ``harmonised_estimate`` is treatment minus comparator in the outcome's units (or SMD), or
    treatment/comparator for ratios; ``favours_treatment_when`` says which side favours the
    treatment given ``lower_is_better``. ``smd_bound``/``smd_bound_relation`` hold a bound on
    |SMD| derived from a P-value bound (never an estimate). ``derivation`` says how every
    derived value was obtained. ``simulated`` is True when the source's numbers come from
    simulated data (the synthesis leaves such rows out unless asked).
    """

    id: int
    position: int
    kind: str
    source_id: str
    citation: str
    doi: str | None
    url_or_location: str
    design: str
    study: str | None
    treatment: str
    treatment_family: str
    treatment_raw: str
    comparator_kind: str
    comparator_name: str
    comparator_raw: str
    condition: str
    condition_raw: str
    outcome_domain: str
    outcome_instrument: str
    outcome_scale: str
    lower_is_better: bool | None
    direction_basis: str
    outcome_raw: str
    timepoint_raw: str
    timepoint_days: float | None
    timepoint_days_min: float | None
    timepoint_days_max: float | None
    timepoint_window: str
    effect_measure: str
    measure: str
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    se: float | None
    n_treatment: int | None
    n_control: int | None
    mean_treatment: str | None
    sd_treatment: float | None
    mean_control: str | None
    sd_control: float | None
    mean_treatment_value: float | None
    mean_control_value: float | None
    k_studies: int | None
    i2: float | None
    certainty: str | None
    p_value: str | None
    p_relation: str | None
    p_number: float | None
    sign_convention: str
    sign_reason: str | None
    harmonised_measure: str | None
    harmonised_estimate: float | None
    harmonised_ci_lower: float | None
    harmonised_ci_upper: float | None
    favours_treatment_when: str | None
    direction_reported: str | None
    direction_reason: str | None
    smd_bound_relation: str | None
    smd_bound: float | None
    derivation: str
    verbatim_quote: str | None
    notes: str | None
    comparator_class: str = "active"
    data_problem: str | None = None
    evidence_about: str | None = None
    stated_mid: float | None = None
    stated_mid_text: str | None = None
    simulated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class OpinionRow:
    """A named expert's claim with its source; no numbers."""

    id: int
    expert: str
    claim: str
    treatment: str | None
    condition: str | None
    evidence_level: str
    source_id: str
    citation: str
    doi: str | None
    url_or_location: str
    verbatim_quote: str | None
    notes: str | None
    simulated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class IncludedTrialRow:
    """A primary trial that a review lists among its included studies, with provenance."""

    review: str
    trial: str
    year: int | None
    complete: bool
    location: str
    quote: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def query_included_trials(session: Session) -> list[IncludedTrialRow]:
    """Every review's included trials, by review then trial."""
    stmt = select(IncludedTrial).options(joinedload(IncludedTrial.source)).order_by(
        IncludedTrial.id)
    return [IncludedTrialRow(t.source.key, t.trial, t.year, t.complete, t.location, t.quote,
                             t.note) for t in session.scalars(stmt)]


RESULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


def _row(r: Result) -> ResultRow:
    s, o, t = r.source, r.outcome, r.timepoint
    return ResultRow(
        id=r.id, position=r.position, kind=r.kind, source_id=s.key, citation=s.citation,
        doi=s.doi, url_or_location=s.url_or_location, design=s.design,
        study=r.study.label if r.study else None, treatment=r.treatment.term,
        treatment_family=r.treatment.family, treatment_raw=r.treatment_raw,
        comparator_kind=r.comparator.kind, comparator_name=r.comparator.name,
        comparator_raw=r.comparator_raw, condition=r.condition.term, condition_raw=r.condition_raw,
        outcome_domain=o.domain,
        outcome_instrument=o.instrument, outcome_scale=o.scale,
        lower_is_better=o.lower_is_better, direction_basis=o.direction_basis,
        outcome_raw=r.outcome_raw, timepoint_raw=r.timepoint_raw, timepoint_days=t.days,
        timepoint_days_min=t.days_min, timepoint_days_max=t.days_max, timepoint_window=t.window,
        **{name: getattr(r, name) for name in (
            "effect_measure", "measure", "estimate", "ci_lower", "ci_upper", "se",
            "n_treatment", "n_control", "mean_treatment", "sd_treatment", "mean_control",
            "sd_control", "mean_treatment_value", "mean_control_value", "k_studies", "i2",
            "certainty", "p_value", "p_relation", "p_number", "sign_convention", "sign_reason",
            "harmonised_measure", "harmonised_estimate", "harmonised_ci_lower",
            "harmonised_ci_upper", "favours_treatment_when", "direction_reported",
            "direction_reason", "smd_bound_relation", "smd_bound", "derivation",
            "verbatim_quote", "notes", "data_problem", "evidence_about", "stated_mid",
            "stated_mid_text")},
        comparator_class=r.comparator_class or comparator_class(
            r.comparator.kind, r.comparator.name, r.treatment.term),
        simulated=bool(s.simulated))


def _eq(a: str | None, b: str | None) -> bool:
    return b is None or (a is not None and a.strip().lower() == b.strip().lower())


def row_matches(r: ResultRow, vocab: Vocabulary, *, treatment: str | None = None,
                comparator: str | None = None, condition: str | None = None,
                outcome: str | None = None, kind: str | None = None, source: str | None = None,
                window: str | None = None) -> bool:
    """Whether a result matches every given filter (see the module docstring)."""
    if treatment is not None and treatment.strip().lower() not in vocab.treatment_names(
            r.treatment, r.treatment_family):
        return False
    return (_eq(r.comparator_kind, comparator) and _eq(r.condition, condition)
            and _eq(r.outcome_domain, outcome) and _eq(r.kind, kind)
            and _eq(r.source_id, source) and _eq(r.timepoint_window, window))


def query_results(session: Session, vocab: Vocabulary, **filters: str | None) -> list[ResultRow]:
    """Results matching every given filter (keywords of :func:`row_matches`), in import
    order."""
    stmt = (select(Result).order_by(Result.position)
            .options(*(joinedload(getattr(Result, rel)) for rel in (
                "source", "study", "treatment", "comparator", "condition", "outcome",
                "timepoint"))))
    rows = (_row(r) for r in session.scalars(stmt).unique())
    return [r for r in rows if row_matches(r, vocab, **filters)]


def results_frame(rows: list[ResultRow]) -> pd.DataFrame:
    """A DataFrame with one column per :class:`ResultRow` field."""
    return pd.DataFrame([r.to_dict() for r in rows], columns=list(RESULT_FIELDS))


def query_opinions(session: Session, *, treatment: str | None = None,
                   condition: str | None = None) -> list[OpinionRow]:
    """Opinions, optionally filtered by treatment term/family and condition term."""
    stmt = select(Opinion).order_by(Opinion.id).options(
        joinedload(Opinion.source), joinedload(Opinion.treatment), joinedload(Opinion.condition))
    out = []
    for op in session.scalars(stmt).unique():
        t = op.treatment
        if treatment is not None and (t is None or treatment.strip().lower() not in (
                t.term.lower(), t.family.lower())):
            continue
        c = op.condition.term if op.condition else None
        if condition is not None and not (c and _eq(c, condition)):
            continue
        s: Source = op.source
        out.append(OpinionRow(op.id, op.expert, op.claim, t.term if t else None, c,
                              op.evidence_level, s.key, s.citation, s.doi, s.url_or_location,
                              op.verbatim_quote, op.notes, bool(s.simulated)))
    return out
