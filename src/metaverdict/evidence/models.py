"""The evidence domain model (SQLAlchemy 2 declarative, portable to SQLite and PostgreSQL).

A :class:`Source` (a publication) holds :class:`Result` rows, each one extracted number set for
one treatment, comparator, condition, outcome and timepoint, with its provenance (the source's
DOI and location, the row's verbatim quote and notes). A :class:`Study` is a primary trial; a
result either comes from one (``kind="primary"``) or is pooled/synthesised by a review
(``kind="review"``). Controlled vocabulary lives in :class:`Treatment`, :class:`Comparator`,
:class:`Condition`, :class:`OutcomeDomain` and :class:`Timepoint`; every result keeps the raw
strings next to the normalised links.

Harmonised sign: ``Result.harmonised_estimate`` is *treatment minus comparator* in the
outcome's natural units (or SMD), or the ratio treatment/comparator for ratio measures, whatever
sign the source used; ``sign_convention`` and ``sign_reason`` say how it was obtained. Whether
that favours the treatment depends on ``OutcomeDomain.lower_is_better``, spelled out per row in
``favours_treatment_when`` (e.g. ``"harmonised < 0"`` for pain).
"""
from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RESULT_KINDS = ("primary", "review")
SOURCE_DESIGNS = ("rct", "meta-analysis", "systematic-review", "opinion")
COMPARATOR_KINDS = ("sham", "placebo", "no-treatment", "usual-care", "other-active")
#: Comparator classes of the synthesis (never merged across classes): what the control arm
#: really was. ``mixed`` holds reviews whose comparison group pools several classes.
COMPARATOR_CLASSES = ("sham", "sham-or-no-treatment", "no-treatment", "active", "usual-care",
                      "add-on", "technique", "mixed")
SIGN_CONVENTIONS = ("treatment-minus-comparator", "comparator-minus-treatment",
                    "treatment-over-comparator", "not-signed", "unknown", "no-estimate")
DIRECTIONS_REPORTED = ("favours-treatment", "favours-comparator", "no-significant-difference")


class Base(DeclarativeBase):
    """Declarative base of the evidence schema."""


class Source(Base):
    """A publication: trial report, meta-analysis, systematic review or expert opinion.

    ``simulated`` is True for a source whose numbers come from simulated data (e.g. the
    bundled demo trial imported with ``metaverdict trial import``): the synthesis leaves such
    sources out unless asked, and every output that names one says SIMULATED (migration 0003).
    """

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    citation: Mapped[str] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    url_or_location: Mapped[str] = mapped_column(Text)
    design: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    studies: Mapped[list[Study]] = relationship(back_populates="source")
    results: Mapped[list[Result]] = relationship(back_populates="source")
    opinions: Mapped[list[Opinion]] = relationship(back_populates="source")


class Study(Base):
    """A primary randomised trial, reported by (or extracted through) a source."""

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("source_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    label: Mapped[str] = mapped_column(String(200))
    design: Mapped[str] = mapped_column(String(40), default="rct")

    source: Mapped[Source] = relationship(back_populates="studies")
    risk_of_bias: Mapped[RiskOfBias | None] = relationship(back_populates="study")


class RiskOfBias(Base):
    """Risk of bias of one study: RoB 2 domains D1-D5 and overall, or a score as given.

    The bundled data carry only PEDro scores (``tool="PEDro"``, ``score_text="PEDro 5/10"``);
    the RoB 2 columns stay empty unless a user fills them ("low", "some concerns", "high").
    """

    __tablename__ = "risk_of_bias"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), unique=True)
    tool: Mapped[str] = mapped_column(String(40))
    d1_randomisation: Mapped[str | None] = mapped_column(String(20))
    d2_deviations: Mapped[str | None] = mapped_column(String(20))
    d3_missing_data: Mapped[str | None] = mapped_column(String(20))
    d4_measurement: Mapped[str | None] = mapped_column(String(20))
    d5_selection: Mapped[str | None] = mapped_column(String(20))
    overall: Mapped[str | None] = mapped_column(String(20))
    score_text: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="risk_of_bias")


class Treatment(Base):
    """A normalised treatment term (``dry needling``) and its family for broad queries."""

    __tablename__ = "treatments"
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(200), unique=True)
    family: Mapped[str] = mapped_column(String(200))


class Comparator(Base):
    """A comparator: its kind (one of :data:`COMPARATOR_KINDS`) and what it was."""

    __tablename__ = "comparators"
    __table_args__ = (UniqueConstraint("kind", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(300))


class Condition(Base):
    """A normalised condition term (``lateral epicondylitis``)."""

    __tablename__ = "conditions"
    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(200), unique=True)
    body_region: Mapped[str | None] = mapped_column(String(100))


class OutcomeDomain(Base):
    """An outcome domain measured with one instrument/scale, and its direction.

    ``lower_is_better`` is True for pain, DASH, PRTEE, adverse events; False for VISA-A,
    Kujala, AOFAS, FHSQ, function, range of motion, pressure-pain threshold; None only where the
    source names no score or several outcomes with opposite directions ("multiple").
    ``direction_basis`` says why.
    """

    __tablename__ = "outcome_domains"
    __table_args__ = (UniqueConstraint("domain", "instrument", "scale"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(100))
    instrument: Mapped[str] = mapped_column(String(300))
    scale: Mapped[str] = mapped_column(String(100))
    lower_is_better: Mapped[bool | None] = mapped_column(Boolean)
    direction_basis: Mapped[str] = mapped_column(Text)


class Timepoint(Base):
    """A reported timepoint normalised to days after treatment (see ``timepoints``)."""

    __tablename__ = "timepoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    raw: Mapped[str] = mapped_column(String(300), unique=True)
    days: Mapped[float | None] = mapped_column(Float)
    days_min: Mapped[float | None] = mapped_column(Float)
    days_max: Mapped[float | None] = mapped_column(Float)
    window: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class Result(Base):
    """One extracted number set, with provenance and the quantities derived from it."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"))
    comparator_id: Mapped[int] = mapped_column(ForeignKey("comparators.id"))
    condition_id: Mapped[int] = mapped_column(ForeignKey("conditions.id"))
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome_domains.id"))
    timepoint_id: Mapped[int] = mapped_column(ForeignKey("timepoints.id"))
    # raw strings as reported
    treatment_raw: Mapped[str] = mapped_column(Text)
    comparator_raw: Mapped[str] = mapped_column(String(40))
    condition_raw: Mapped[str] = mapped_column(Text)
    outcome_raw: Mapped[str] = mapped_column(Text)
    timepoint_raw: Mapped[str] = mapped_column(Text)
    effect_measure: Mapped[str] = mapped_column(String(100))
    measure: Mapped[str] = mapped_column(String(40))
    # numbers as reported
    estimate: Mapped[float | None] = mapped_column(Float)
    ci_lower: Mapped[float | None] = mapped_column(Float)
    ci_upper: Mapped[float | None] = mapped_column(Float)
    n_treatment: Mapped[int | None] = mapped_column(Integer)
    n_control: Mapped[int | None] = mapped_column(Integer)
    mean_treatment: Mapped[str | None] = mapped_column(String(100))
    sd_treatment: Mapped[float | None] = mapped_column(Float)
    mean_control: Mapped[str | None] = mapped_column(String(100))
    sd_control: Mapped[float | None] = mapped_column(Float)
    k_studies: Mapped[int | None] = mapped_column(Integer)
    i2: Mapped[float | None] = mapped_column(Float)
    certainty: Mapped[str | None] = mapped_column(Text)
    p_value: Mapped[str | None] = mapped_column(String(100))
    # parsed and derived (each recorded in ``derivation``)
    mean_treatment_value: Mapped[float | None] = mapped_column(Float)
    mean_control_value: Mapped[float | None] = mapped_column(Float)
    p_relation: Mapped[str | None] = mapped_column(String(2))
    p_number: Mapped[float | None] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    sign_convention: Mapped[str] = mapped_column(String(40))
    sign_reason: Mapped[str | None] = mapped_column(Text)
    harmonised_measure: Mapped[str | None] = mapped_column(String(100))
    harmonised_estimate: Mapped[float | None] = mapped_column(Float)
    harmonised_ci_lower: Mapped[float | None] = mapped_column(Float)
    harmonised_ci_upper: Mapped[float | None] = mapped_column(Float)
    favours_treatment_when: Mapped[str | None] = mapped_column(String(40))
    direction_reported: Mapped[str | None] = mapped_column(String(40))
    direction_reason: Mapped[str | None] = mapped_column(Text)
    smd_bound_relation: Mapped[str | None] = mapped_column(String(2))
    smd_bound: Mapped[float | None] = mapped_column(Float)
    derivation: Mapped[str] = mapped_column(Text)
    # provenance of the row (the source's DOI/location are on Source)
    verbatim_quote: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # synthesis fields (migration 0002)
    comparator_class: Mapped[str | None] = mapped_column(String(40))
    data_problem: Mapped[str | None] = mapped_column(Text)
    evidence_about: Mapped[str | None] = mapped_column(Text)
    stated_mid: Mapped[float | None] = mapped_column(Float)
    stated_mid_text: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship(back_populates="results")
    study: Mapped[Study | None] = relationship()
    treatment: Mapped[Treatment] = relationship()
    comparator: Mapped[Comparator] = relationship()
    condition: Mapped[Condition] = relationship()
    outcome: Mapped[OutcomeDomain] = relationship()
    timepoint: Mapped[Timepoint] = relationship()


class Opinion(Base):
    """A named expert's claim, with its source and no trial data."""

    __tablename__ = "opinions"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    expert: Mapped[str] = mapped_column(String(200))
    claim: Mapped[str] = mapped_column(Text)
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("conditions.id"))
    evidence_level: Mapped[str] = mapped_column(String(100))
    verbatim_quote: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship(back_populates="opinions")
    treatment: Mapped[Treatment | None] = relationship()
    condition: Mapped[Condition | None] = relationship()


class IncludedTrial(Base):
    """One primary trial a review included, as the review lists it (for overlap/CCA).

    ``complete`` is False when only part of the review's list could be read: a partial list
    cannot give a corrected covered area, only the trials known to be shared.
    """

    __tablename__ = "included_trials"
    __table_args__ = (UniqueConstraint("source_id", "trial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    trial: Mapped[str] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean)
    location: Mapped[str] = mapped_column(Text)
    quote: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship()


class StoreMeta(Base):
    """Key/value facts about the store (e.g. that the bundled evidence was loaded)."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
