"""Row validation (pydantic 2) and normalisation: one CSV row -> one :class:`ResultDraft`.

Column layout: that of ``studies.csv`` (see ``CSV_COLUMNS``), plus the optional
``EXTRA_COLUMNS`` that :func:`metaverdict.evidence.io.export_csv` writes so that an export
re-imports to the same content.

Required columns (a value in every row): source_id, citation, design (rct, meta-analysis,
systematic-review), treatment, comparator (sham, placebo, no-treatment, usual-care, other /
other-active), condition, outcome, timepoint, effect_measure, url_or_location. A row that gives
any number must also give verbatim_quote. Everything else is optional; numbers may use a
Unicode minus sign. Rows are numbered from 1 = the first data row (line 2 of the file).

The extra column ``simulated`` (true/false; blank = false) marks a source whose numbers come
from simulated data (``metaverdict trial import`` of simulated participant data sets it); like
citation, doi, url_or_location and design it describes the source, so every row of a
``source_id`` must give the same value.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from metaverdict.errors import InputError
from metaverdict.evidence.derive import (
    arm_difference,
    ci_asymmetry_note,
    favours_treatment_when,
    harmonise,
    se_from_ci,
    smd_bound_from_p,
)
from metaverdict.evidence.models import (
    COMPARATOR_CLASSES,
    DIRECTIONS_REPORTED,
    RESULT_KINDS,
    SIGN_CONVENTIONS,
    Comparator,
    Condition,
    OutcomeDomain,
    Result,
    Source,
    Study,
    Timepoint,
    Treatment,
)
from metaverdict.evidence.parsing import parse_group_value, parse_number, parse_p_value
from metaverdict.evidence.vocabulary import (
    RATIO_MEASURES,
    OutcomeTerm,
    TimepointTerm,
    UnknownTermError,
    Vocabulary,
    comparator_class,
)

CSV_COLUMNS: tuple[str, ...] = (
    "source_id", "citation", "doi", "design", "treatment", "comparator", "condition", "outcome",
    "timepoint", "effect_measure", "estimate", "ci_lower", "ci_upper", "n_treatment",
    "n_control", "mean_treatment", "sd_treatment", "mean_control", "sd_control", "k_studies",
    "i2", "certainty", "url_or_location", "verbatim_quote", "p_value", "notes")
EXTRA_COLUMNS: tuple[str, ...] = (
    "kind", "study", "comparator_name", "sign_convention", "sign_reason", "direction_reported",
    "direction_reason", "lower_is_better", "comparator_class", "data_problem", "evidence_about",
    "stated_mid", "stated_mid_text", "simulated")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "source_id", "citation", "design", "treatment", "comparator", "condition", "outcome",
    "timepoint", "effect_measure", "url_or_location")
RESULT_DESIGNS = ("rct", "meta-analysis", "systematic-review")
#: Largest count the store holds (a 32-bit INTEGER column, the same on SQLite and PostgreSQL).
MAX_INTEGER = 2**31 - 1
_NUMBER_FIELDS = ("estimate", "ci_lower", "ci_upper", "n_treatment", "n_control",
                  "mean_treatment", "sd_treatment", "mean_control", "sd_control", "p_value")
_CONTINUOUS_DOMAINS = ("pain", "function", "pressure-pain-threshold", "range-of-motion",
                       "quality-of-life", "grip-strength")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


class CsvRow(BaseModel):
    """One CSV row as validated input (strings in, typed values out; blanks as None)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    source_id: str
    citation: str
    doi: str | None = None
    design: str
    treatment: str
    comparator: str
    condition: str
    outcome: str
    timepoint: str
    effect_measure: str
    estimate: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    n_treatment: int | None = None
    n_control: int | None = None
    mean_treatment: str | None = None
    sd_treatment: float | None = None
    mean_control: str | None = None
    sd_control: float | None = None
    k_studies: int | None = None
    i2: float | None = None
    certainty: str | None = None
    url_or_location: str
    verbatim_quote: str | None = None
    p_value: str | None = None
    notes: str | None = None
    kind: str | None = None
    study: str | None = None
    comparator_name: str | None = None
    sign_convention: str | None = None
    sign_reason: str | None = None
    direction_reported: str | None = None
    direction_reason: str | None = None
    lower_is_better: bool | None = None
    comparator_class: str | None = None
    data_problem: str | None = None
    evidence_about: str | None = None
    stated_mid: float | None = None
    stated_mid_text: str | None = None
    simulated: bool | None = None

    @field_validator("source_id", "citation", "design", "treatment", "comparator", "condition",
                     "outcome", "timepoint", "effect_measure", "url_or_location", mode="before")
    @classmethod
    def _required(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("is required")
        return str(v)

    @field_validator("estimate", "ci_lower", "ci_upper", "stated_mid", mode="before")
    @classmethod
    def _number(cls, v: Any) -> float | None:
        if v is None:
            return None
        try:
            return parse_number(str(v))
        except ValueError as exc:
            rule = "must be a finite number" if "range" in str(exc) else "must be a number"
            raise ValueError(rule) from None

    @field_validator("sd_treatment", "sd_control", mode="before")
    @classmethod
    def _sd(cls, v: Any) -> float | None:
        if v is None:
            return None
        try:
            x = parse_number(str(v))
        except ValueError:
            raise ValueError("must be a non-negative finite number") from None
        if x < 0:
            raise ValueError("must be a non-negative finite number")
        return x

    @field_validator("i2", mode="before")
    @classmethod
    def _i2(cls, v: Any) -> float | None:
        if v is None:
            return None
        try:
            x = parse_number(str(v).rstrip("%"))
        except ValueError:
            raise ValueError("must be a percentage between 0 and 100") from None
        if not 0 <= x <= 100:
            raise ValueError("must be a percentage between 0 and 100")
        return x

    @field_validator("n_treatment", "n_control", "k_studies", mode="before")
    @classmethod
    def _count(cls, v: Any) -> int | None:
        if v is None:
            return None
        rule = "must be a positive integer"
        t = str(v).strip()
        if re.fullmatch(r"\+?\d+", t):
            n = int(t)
        else:
            try:
                x = parse_number(t)
            except ValueError:
                raise ValueError(rule) from None
            if x != int(x):
                raise ValueError(rule)
            n = int(x)
        if n < 1:
            raise ValueError(rule)
        if n > MAX_INTEGER:
            raise ValueError(f"must be a positive integer of at most {MAX_INTEGER}")
        return n

    @field_validator("mean_treatment", "mean_control", "doi", "certainty", "verbatim_quote",
                     "notes", "study", "comparator_name", "sign_reason", "direction_reason",
                     "data_problem", "evidence_about", "stated_mid_text", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str | None:
        return None if v is None else str(v)

    @field_validator("design")
    @classmethod
    def _design(cls, v: str) -> str:
        if v not in RESULT_DESIGNS:
            raise ValueError(f"must be one of {', '.join(RESULT_DESIGNS)}")
        return v

    @field_validator("p_value", mode="before")
    @classmethod
    def _p(cls, v: Any) -> str | None:
        if v is None:
            return None
        parse_p_value(str(v))
        return str(v)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str | None) -> str | None:
        if v is not None and v not in RESULT_KINDS:
            raise ValueError(f"must be one of {', '.join(RESULT_KINDS)}")
        return v

    @field_validator("sign_convention")
    @classmethod
    def _sign(cls, v: str | None) -> str | None:
        if v is not None and v not in SIGN_CONVENTIONS:
            raise ValueError(f"must be one of {', '.join(SIGN_CONVENTIONS)}")
        return v

    @field_validator("comparator_class")
    @classmethod
    def _class(cls, v: str | None) -> str | None:
        if v is not None and v not in COMPARATOR_CLASSES:
            raise ValueError(f"must be one of {', '.join(COMPARATOR_CLASSES)}")
        return v

    @field_validator("direction_reported")
    @classmethod
    def _direction(cls, v: str | None) -> str | None:
        if v is not None and v not in DIRECTIONS_REPORTED:
            raise ValueError(f"must be one of {', '.join(DIRECTIONS_REPORTED)}")
        return v

    @field_validator("lower_is_better", "simulated", mode="before")
    @classmethod
    def _bool(cls, v: Any) -> bool | None:
        if v is None or isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in ("true", "1", "yes"):
            return True
        if s in ("false", "0", "no"):
            return False
        raise ValueError("must be true or false")

    @model_validator(mode="after")
    def _consistent(self) -> CsvRow:
        if (self.ci_lower is not None and self.ci_upper is not None
                and self.ci_lower > self.ci_upper):
            raise ValueError("ci_lower|must not exceed ci_upper")
        if (self.verbatim_quote is None
                and any(getattr(self, f) is not None for f in _NUMBER_FIELDS)):
            raise ValueError("verbatim_quote|is required when the row gives a number "
                             "(provenance: quote the source text that contains it)")
        return self


@dataclass
class ResultDraft:
    """A validated, normalised row ready to be written (plain data, no session)."""

    row: int
    csv: CsvRow
    kind: str
    study: str | None
    treatment_term: str
    treatment_family: str
    comparator_kind: str
    comparator_name: str
    comparator_class: str
    condition_term: str
    body_region: str | None
    outcome: OutcomeTerm
    timepoint: TimepointTerm
    measure: str
    values: dict[str, Any] = field(default_factory=dict)


def _format_errors(row: int, exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    out = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        col = str(err["loc"][0]) if err["loc"] else ""
        if "|" in msg and not col:
            col, msg = msg.split("|", 1)
        got = raw.get(col, "")
        got = "" if _blank(got) else got
        out.append(f"row {row}, column {col!r}: {msg}, got {str(got)!r}")
    return out


def validate_row(row: int, raw: dict[str, Any],
                 vocab: Vocabulary) -> tuple[ResultDraft | None, list[str]]:
    """Validate and normalise one row; returns the draft or the error messages."""
    nul = [f"row {row}, column {k!r}: must not contain a NUL character (\\x00), got "
           f"{str(v)[:60]!r}" for k, v in raw.items() if isinstance(v, str) and "\x00" in v]
    if nul:
        return None, nul
    try:
        r = CsvRow.model_validate({k: (None if _blank(v) else v) for k, v in raw.items()})
    except ValidationError as exc:
        return None, _format_errors(row, exc, raw)
    errors: list[str] = []

    def term(col: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except UnknownTermError as exc:
            errors.append(f"row {row}, column {col!r}: {exc}, got {raw.get(col)!r}")
            return None

    comp_kind = term("comparator", vocab.comparator_kind, r.comparator)
    outcome = term("outcome", vocab.outcome, r.outcome, r.lower_is_better)
    if errors:
        return None, errors
    t_term, t_family = vocab.treatment(r.treatment)
    c_term, region = vocab.condition(r.condition)
    kind = r.kind or ("primary" if (r.design == "rct" or r.study) else "review")
    study = r.study or (r.source_id if kind == "primary" else None)
    default_name = ("other active treatment (unspecified)" if comp_kind == "other-active"
                    else comp_kind)
    draft = ResultDraft(
        row=row, csv=r, kind=kind, study=study, treatment_term=t_term,
        treatment_family=t_family, comparator_kind=str(comp_kind),
        comparator_name=r.comparator_name or default_name,
        comparator_class=r.comparator_class or comparator_class(
            str(comp_kind), r.comparator_name or default_name, t_term),
        condition_term=c_term,
        body_region=region, outcome=outcome, timepoint=vocab.timepoint(r.timepoint),
        measure=vocab.measure(r.effect_measure))
    errors = _length_errors(draft)
    if errors:
        return None, errors
    try:
        draft.values = derived_values(draft)
    except InputError as exc:
        return None, [f"row {row}, columns 'estimate', 'ci_lower', 'ci_upper': the numbers give "
                      f"no finite derived value ({exc})"]
    for key, value in draft.values.items():
        if isinstance(value, float) and not math.isfinite(value):
            col = _DERIVED_FROM.get(key, "estimate")
            return None, [f"row {row}, column {col!r}: gives a non-finite {key} ({value}); "
                          f"check the number, got {raw.get(col)!r}"]
    return draft, []


#: The CSV column a derived value comes from (for error messages).
_DERIVED_FROM = {"mean_treatment_value": "mean_treatment", "mean_control_value": "mean_control",
                 "p_number": "p_value", "se": "ci_upper", "harmonised_estimate": "estimate",
                 "harmonised_ci_lower": "ci_lower", "harmonised_ci_upper": "ci_upper",
                 "smd_bound": "p_value"}


def _max_length(column: Any) -> int | None:
    return getattr(column.type, "length", None)


def _length_errors(d: ResultDraft) -> list[str]:
    """Text longer than its column in the schema (SQLite would store it, PostgreSQL not)."""
    r = d.csv
    checks: list[tuple[str, str | None, Any]] = [
        ("source_id", r.source_id, Source.key), ("doi", r.doi, Source.doi),
        ("design", r.design, Source.design), ("comparator", r.comparator, Result.comparator_raw),
        ("effect_measure", r.effect_measure, Result.effect_measure),
        ("effect_measure", d.measure, Result.measure),
        ("mean_treatment", r.mean_treatment, Result.mean_treatment),
        ("mean_control", r.mean_control, Result.mean_control),
        ("p_value", r.p_value, Result.p_value), ("timepoint", r.timepoint, Timepoint.raw),
        ("treatment", d.treatment_term, Treatment.term),
        ("treatment", d.treatment_family, Treatment.family),
        ("condition", d.condition_term, Condition.term),
        ("condition", d.body_region, Condition.body_region),
        ("outcome", d.outcome.domain, OutcomeDomain.domain),
        ("outcome", d.outcome.instrument, OutcomeDomain.instrument),
        ("outcome", d.outcome.scale, OutcomeDomain.scale),
        ("study", d.study, Study.label), ("comparator_name", d.comparator_name, Comparator.name),
        ("kind", d.kind, Result.kind), ("comparator_class", d.comparator_class,
                                        Result.comparator_class),
    ]
    errors = []
    for col, value, column in checks:
        limit = _max_length(column)
        if value is not None and limit is not None and len(value) > limit:
            errors.append(f"row {d.row}, column {col!r}: at most {limit} characters, got "
                          f"{len(value)} ({value[:40]!r}...)")
    return errors


def _default_convention(r: CsvRow, measure: str) -> tuple[str, str | None]:
    if r.estimate is None:
        return "no-estimate", None
    if r.sign_convention is not None and r.sign_convention != "no-estimate":
        return r.sign_convention, r.sign_reason
    if measure in RATIO_MEASURES:
        return "treatment-over-comparator", "import default for ratio measures"
    if measure == "NNT":
        return "not-signed", "NNT is not a signed difference"
    return "treatment-minus-comparator", ("import default: estimates are treatment minus "
                                          "comparator unless column 'sign_convention' "
                                          "says otherwise")


def derived_values(d: ResultDraft) -> dict[str, Any]:
    """Parsed and derived columns of a result, with the ``derivation`` text."""
    r = d.csv
    parts: list[str] = []
    convention, reason = _default_convention(r, d.measure)
    p = parse_p_value(r.p_value) if r.p_value else None
    if p is not None:
        parts.append(f"p_value parsed as P {p.relation} {p.value:g}"
                     + (" (first of several reported values)" if p.first_of_several else ""))
    mt, mt_pct = parse_group_value(r.mean_treatment) if r.mean_treatment else (None, False)
    mc, mc_pct = parse_group_value(r.mean_control) if r.mean_control else (None, False)
    for name, text, val, pct in (("mean_treatment", r.mean_treatment, mt, mt_pct),
                                 ("mean_control", r.mean_control, mc, mc_pct)):
        if text is not None and (pct or val is None):
            parts.append(f"{name} {text!r} read as "
                         + (f"{val:g} (percent)" if val is not None else "no number"))
    h = harmonise(d.measure, r.effect_measure, r.estimate, r.ci_lower, r.ci_upper,
                         convention)
    if h.estimate is None and r.estimate is None and d.measure == "group-level":
        if d.timepoint.window == "baseline":
            parts.append("no difference derived at baseline")
        elif "count" in r.effect_measure.lower():
            parts.append("no difference derived: counts without per-arm sizes")
        elif mt_pct == mc_pct:
            h = arm_difference(r.effect_measure, mt, mc, mt_pct)
    if h.how:
        parts.append(h.how)
    se, how = se_from_ci(d.measure, r.ci_lower, r.ci_upper)
    if how:
        parts.append(how)
    warn = ci_asymmetry_note(r.estimate, r.ci_lower, r.ci_upper)
    if warn and d.measure not in RATIO_MEASURES:
        parts.append(warn)
    bound = None
    if (p is not None and r.estimate is None and d.measure == "none"
            and r.n_treatment and r.n_control and d.outcome.domain in _CONTINUOUS_DOMAINS):
        bound = smd_bound_from_p(p.relation, p.value, r.n_treatment, r.n_control)
        if bound:
            parts.append(bound[2])
    return {
        "mean_treatment_value": mt, "mean_control_value": mc,
        "p_relation": p.relation if p else None, "p_number": p.value if p else None,
        "se": se, "sign_convention": convention, "sign_reason": reason,
        "harmonised_measure": h.measure, "harmonised_estimate": h.estimate,
        "harmonised_ci_lower": h.ci_lower, "harmonised_ci_upper": h.ci_upper,
        "favours_treatment_when": favours_treatment_when(h.measure,
                                                                d.outcome.lower_is_better),
        "smd_bound_relation": bound[0] if bound else None,
        "smd_bound": bound[1] if bound else None,
        "derivation": "; ".join(parts) if parts else "nothing derived",
    }


#: Columns that describe the source, not the row: every row of a source_id must agree.
SOURCE_FIELDS: tuple[str, ...] = ("citation", "doi", "url_or_location", "design", "simulated")


def source_value(r: CsvRow, col: str) -> Any:
    """The row's value of a source column (a blank ``simulated`` is False: a real source)."""
    value = getattr(r, col)
    return bool(value) if col == "simulated" else value


def check_sources(drafts: list[ResultDraft]) -> list[str]:
    """Rows of one source_id must agree on citation, doi, url_or_location, design and
    simulated (blank = false)."""
    first: dict[str, ResultDraft] = {}
    errors = []
    for d in drafts:
        seen = first.setdefault(d.csv.source_id, d)
        for col in SOURCE_FIELDS:
            mine = source_value(d.csv, col)
            if mine != source_value(seen.csv, col):
                got = str(mine).lower() if col == "simulated" else mine
                errors.append(f"row {d.row}, column {col!r}: differs from row {seen.row} of "
                              f"source_id {d.csv.source_id!r}, got {got!r}")
    return errors


def is_pedro(certainty: str | None) -> bool:
    """True for a PEDro score such as ``"PEDro 5/10"``."""
    return bool(certainty and re.match(r"PEDro\s+\d+\s*/\s*10$", certainty.strip()))
