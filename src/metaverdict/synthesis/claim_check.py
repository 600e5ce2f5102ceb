"""Checking claims stated in words (by an article or an expert) against the stored evidence.

A :class:`StatedClaim` names a treatment, comparator, condition(s), outcome, timepoint (text
and an optional day range), a direction and the significance claimed. It is checked against
the verdicts of :func:`metaverdict.synthesis.assess.assess`, split into *parts* (one per
condition; one per day for a day range of up to 14 days; one per matching verdict
otherwise), each of which holds, fails or cannot be assessed:

===================  =====================================================================
direction            a part holds when
===================  =====================================================================
benefit / harm       the verdict's direction is the claimed one and statistically
                     significant (the statistical part); "clinically"/"both" add a clinical
                     part that holds when the effect reaches the MCID (importance judged
                     only from an |SMD| bound is "not assessable" on the raw scale)
no difference        no significant difference (with the caveat that a non-significant
                     result does not show equivalence unless the CI excludes the MCID); a
                     result covering a wider time range than claimed is not day-specific
                     and cannot be assessed
no benefit shown     no matching verdict shows a significant benefit
no trial evidence    the store holds no result for the treatment and condition
responders           never from aggregate results: "who benefits" needs heterogeneity of the
                     treatment effect (e.g. the variance ratio of the arms' change scores,
                     lnVR) or a moderator analysis (e.g. belief in the treatment); the check
                     says whether any stored result reports one
===================  =====================================================================

A benefit claim against ``add-on`` also lists, as notes, the stored results that are evidence
about what was added to the treatment (e.g. "dry needling + other treatments vs dry needling
alone"): they bear on whether the treatment is the mainstay.

Status: ``no evidence`` when nothing matches; with ``scope = "some"`` (an existential claim)
``supported`` when any part holds; otherwise ``supported`` when every part holds, ``not
supported`` when none holds and some fail, ``partly supported`` in between (the check lists
what holds and what does not). A claimed certainty ("low") fails for supporting verdicts
rated above it.

Claim files (CSV or JSON list of objects) have the columns of :data:`CLAIM_COLUMNS`;
``treatment`` and ``direction`` are required; several conditions are separated by ``;``.

Directions, significance, scope, part states and statuses are :class:`enum.StrEnum` members
(each is its own text, so output and comparisons with the plain strings are unchanged).
"""
from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from metaverdict._results import ResultMixin
from metaverdict.errors import InputError
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.grade.levels import LEVELS, Level
from metaverdict.grade.mcid import MCIDTable
from metaverdict.synthesis.assess import Assessment, assess
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import Category, Direction


class ClaimDirection(StrEnum):
    """What a claim says (rules per direction in the module docstring)."""

    BENEFIT = "benefit"
    HARM = "harm"
    NO_DIFFERENCE = "no difference"
    NO_BENEFIT_SHOWN = "no benefit shown"
    NO_TRIAL_EVIDENCE = "no trial evidence"
    RESPONDERS = "responders"


class Significance(StrEnum):
    """The significance a benefit or harm claim states (``""``: not stated)."""

    UNSTATED = ""
    STATISTICALLY = "statistically"
    CLINICALLY = "clinically"
    BOTH = "both"


class Scope(StrEnum):
    """``all``: every part must hold; ``some``: an existential claim, one part is enough."""

    ALL = "all"
    SOME = "some"


class PartState(StrEnum):
    """One part of a claim check: it holds, fails or cannot be assessed."""

    HOLDS = "holds"
    FAILS = "fails"
    UNKNOWN = "unknown"


class ClaimStatus(StrEnum):
    """The outcome of a claim check (rules in the module docstring)."""

    SUPPORTED = "supported"
    PARTLY_SUPPORTED = "partly supported"
    NOT_SUPPORTED = "not supported"
    NO_EVIDENCE = "no evidence"


CLAIM_COLUMNS: tuple[str, ...] = ("id", "treatment", "comparator", "condition", "outcome",
                                  "timepoint", "days_min", "days_max", "direction",
                                  "significance", "certainty", "scope", "source", "text")
DIRECTIONS: tuple[ClaimDirection, ...] = tuple(ClaimDirection)
_HTE = re.compile(r"variance ratio|lnVR|SD ratio|moderat|belie|expectation", re.I)
SIGNIFICANCE: tuple[Significance, ...] = tuple(Significance)
STATUSES: tuple[ClaimStatus, ...] = tuple(ClaimStatus)
_PER_DAY_MAX = 14


@dataclass(frozen=True, repr=False)
class StatedClaim(ResultMixin):
    """A claim in words, structured (see the module docstring).

    ``direction``, ``significance``, ``scope`` and ``certainty`` may be given as their
    strings; they are stored as :class:`ClaimDirection`, :class:`Significance`,
    :class:`Scope` and :class:`~metaverdict.grade.levels.Level` (``certainty`` None or ""
    when no certainty is claimed).
    """

    id: str
    treatment: str
    direction: ClaimDirection
    comparator: str = "any"
    conditions: tuple[str, ...] = ("any",)
    outcome: str = "any"
    timepoint: str = ""
    days_min: float | None = None
    days_max: float | None = None
    significance: Significance = Significance.UNSTATED
    certainty: Level | None = None
    scope: Scope = Scope.ALL
    source: str = ""
    text: str = ""
    _repr_fields = ("id", "treatment", "direction")

    def __post_init__(self) -> None:
        kinds: tuple[tuple[str, type[StrEnum]], ...] = (
            ("direction", ClaimDirection), ("significance", Significance), ("scope", Scope),
            ("certainty", Level))
        for name, kind in kinds:
            value = getattr(self, name)
            if name == "certainty" and not value:
                object.__setattr__(self, name, None)
                continue
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                raise InputError(f"claim {self.id!r}, field {name!r}: must be one of "
                                 f"{', '.join(repr(str(k)) for k in kind)}, got "
                                 f"{value!r}") from None


@dataclass(frozen=True, repr=False)
class ClaimCheck(ResultMixin):
    """The result of checking one :class:`StatedClaim`.

    ``holds``, ``fails`` and ``not_assessable`` list the parts; ``reasons`` add caveats;
    ``verdicts`` are the verdicts consulted.
    """

    claim: StatedClaim
    status: ClaimStatus
    holds: tuple[str, ...]
    fails: tuple[str, ...]
    not_assessable: tuple[str, ...]
    reasons: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    _repr_fields = ("status",)

    def summary(self) -> str:
        """The claim, its status, then what holds, fails and cannot be assessed."""
        lines = [f"[{self.claim.id}] {self.claim.text or self.claim.direction}",
                 f"status: {self.status}"]
        lines += [f"  holds: {h}" for h in self.holds]
        lines += [f"  does not hold: {f}" for f in self.fails]
        lines += [f"  not assessable: {u}" for u in self.not_assessable]
        lines += [f"  note: {r}" for r in self.reasons]
        return "\n".join(lines)


# -- loading ---------------------------------------------------------------------------
def _float(v: Any, where: str, col: str) -> float | None:
    if v is None or str(v).strip() == "":
        return None
    try:
        return float(v)
    except ValueError:
        raise InputError(f"{where}, column {col!r}: must be a number of days, got {v!r}") from None


def parse_claims(records: list[dict[str, Any]], name: str = "claims") -> list[StatedClaim]:
    """Validate claim records (dicts with :data:`CLAIM_COLUMNS`); errors name row and column."""
    out = []
    for i, raw in enumerate(records, start=1):
        where = f"{name}, row {i}"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: must be an object with columns {', '.join(CLAIM_COLUMNS)}")
        rec = {str(k).strip(): ("" if v is None else str(v).strip()) for k, v in raw.items()}
        unknown = sorted(set(rec) - set(CLAIM_COLUMNS))
        if unknown:
            raise InputError(f"{where}, column {unknown[0]!r}: unknown column (expected "
                             f"{', '.join(CLAIM_COLUMNS)})")
        for col in ("treatment", "direction"):
            if not rec.get(col):
                raise InputError(f"{where}, column {col!r}: is required")
        d = rec["direction"].lower()
        if d not in DIRECTIONS:
            raise InputError(f"{where}, column 'direction': must be one of "
                             f"{', '.join(DIRECTIONS)}, got {rec['direction']!r}")
        sig = rec.get("significance", "").lower()
        sig = "both" if sig in ("statistically;clinically", "statistically and clinically") else sig
        if sig not in SIGNIFICANCE:
            raise InputError(f"{where}, column 'significance': must be one of statistically, "
                             f"clinically, both or empty, got {rec['significance']!r}")
        cert = rec.get("certainty", "").lower()
        if cert and cert not in LEVELS:
            raise InputError(f"{where}, column 'certainty': must be one of {', '.join(LEVELS)} "
                             f"or empty, got {rec['certainty']!r}")
        scope = rec.get("scope", "").lower() or "all"
        if scope not in ("all", "some"):
            raise InputError(f"{where}, column 'scope': must be 'all' or 'some', got {scope!r}")
        lo = _float(rec.get("days_min"), where, "days_min")
        hi = _float(rec.get("days_max"), where, "days_max")
        if lo is not None and hi is not None and lo > hi:
            raise InputError(f"{where}, column 'days_max': must not be below days_min, got {hi:g}")
        conds = tuple(c.strip() for c in (rec.get("condition") or "any").split(";") if c.strip())
        out.append(StatedClaim(rec.get("id") or str(i), rec["treatment"], ClaimDirection(d),
                               rec.get("comparator") or "any", conds or ("any",),
                               rec.get("outcome") or "any", rec.get("timepoint", ""), lo, hi,
                               Significance(sig), Level(cert) if cert else None, Scope(scope),
                               rec.get("source", ""), rec.get("text", "")))
    return out


def load_claims(path: str | Path) -> list[StatedClaim]:
    """Read a claims file: ``.json`` (a list of objects) or CSV."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"claims file {str(p)!r}: cannot be read ({exc})") from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"claims file {p.name!r}: not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise InputError(f"claims file {p.name!r}: must hold a list of claim objects")
        return parse_claims(data, f"claims file {p.name!r}")
    return parse_claims(list(csv.DictReader(text.splitlines())), f"claims file {p.name!r}")


def article_claims() -> list[StatedClaim]:
    """The claims of Sankoff's dry-needling article, shipped as
    ``synthesis/data/article_claims.csv``."""
    text = resources.files("metaverdict.synthesis").joinpath(
        "data", "article_claims.csv").read_text(encoding="utf-8")
    return parse_claims(list(csv.DictReader(text.splitlines())), "article_claims.csv")


# -- matching --------------------------------------------------------------------------
def _comparator_ok(claim: StatedClaim, v: Verdict) -> bool:
    c = claim.comparator.lower()
    if c in ("any", ""):
        return True
    if c in ("sham or placebo", "sham/placebo", "inert", "placebo"):
        return v.claim.comparator == "sham"
    return v.claim.comparator == c


def _days(v: Verdict) -> tuple[float | None, float | None]:
    b = v.body
    if b is None:
        return None, None
    if b.timepoint_days is not None:
        return b.timepoint_days, b.timepoint_days
    return b.timepoint_days_min, b.timepoint_days_max


def _time_ok(claim: StatedClaim, v: Verdict) -> bool:
    if claim.days_min is None and claim.days_max is None:
        return True
    lo, hi = _days(v)
    if lo is None and hi is None:
        return False
    cl = -math.inf if claim.days_min is None else claim.days_min
    ch = math.inf if claim.days_max is None else claim.days_max
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    return lo <= ch and hi >= cl                                 # overlaps


def _matches(claim: StatedClaim, v: Verdict, condition: str) -> bool:
    return (v.body is not None and _comparator_ok(claim, v)
            and (condition == "any" or v.claim.condition.lower() == condition.lower())
            and (claim.outcome == "any" or v.claim.outcome == claim.outcome.lower())
            and _time_ok(claim, v))


def _where(v: Verdict) -> str:
    return f"{v.claim.condition}, {v.claim.outcome}, {v.label} vs {v.claim.comparator}"


def _judge_effect(claim: StatedClaim, v: Verdict) -> list[tuple[PartState, str]]:
    """Parts of a benefit/harm claim on one verdict: the statistical part, then the clinical
    part when claimed."""
    want = Direction(claim.direction)
    sig = v.statistically_significant
    if sig is None:
        return [(PartState.UNKNOWN, f"{_where(v)}: significance not reported ({v.effect})")]
    if not sig or v.direction != want:
        what = ("no significant difference" if not sig else f"significant {v.direction}")
        return [(PartState.FAILS, f"{_where(v)}: {what} ({v.effect})")]
    stat = f"{_where(v)}: statistically significant {want} ({v.effect})"
    out = [(PartState.HOLDS, stat)]
    if claim.significance in (Significance.UNSTATED, Significance.STATISTICALLY):
        return out
    clin = f"{_where(v)}: clinically important {want}"
    b = v.body
    if b is not None and b.estimate is None and b.smd_bound is not None:
        out.append((PartState.UNKNOWN, f"{clin} not established: {v.rule}; without means and "
                    "SDs the size on the raw scale cannot be judged"))
    elif v.clinically_important is None:
        out.append((PartState.UNKNOWN, f"{clin} not assessable ({v.rule})"))
    elif v.clinically_important:
        out.append((PartState.HOLDS, f"{clin}: reaches the MCID ({v.category})"))
    else:
        out.append((PartState.FAILS, f"{clin}: below the MCID ({v.category})"))
    return out


def _day_specific(claim: StatedClaim, v: Verdict) -> bool:
    """True when the verdict's timepoint lies inside the claim's day range (or no range)."""
    if claim.days_min is None and claim.days_max is None:
        return True
    lo, hi = _days(v)
    cl = -math.inf if claim.days_min is None else claim.days_min
    ch = math.inf if claim.days_max is None else claim.days_max
    return lo is not None and hi is not None and cl <= lo and hi <= ch


# -- judging, one function per direction -------------------------------------------------
@dataclass
class _Parts:
    """What a check finds, part by part, in the order found."""

    found: dict[PartState, list[str]] = field(
        default_factory=lambda: {state: [] for state in PartState})
    reasons: list[str] = field(default_factory=list)
    used: list[Verdict] = field(default_factory=list)

    def add(self, state: PartState, why: str) -> None:
        """Record one part."""
        self.found[state].append(why)


def _no_trial_evidence(claim: StatedClaim, cond: str, store: EvidenceReader,
                       parts: _Parts) -> None:
    """Holds where the store has no result for the treatment in ``cond``."""
    rows = store.results(treatment=claim.treatment, condition=cond)
    if rows:
        srcs = sorted({r.source_id for r in rows})
        comps = sorted({r.comparator_class for r in rows})
        parts.add(PartState.FAILS, f"{cond}: {len(srcs)} source(s) report trial-based results "
                                   f"({', '.join(srcs)}; comparators: {', '.join(comps)})")
    else:
        parts.add(PartState.HOLDS, f"{cond}: no trial result stored for {claim.treatment}")


def _no_benefit_shown(claim: StatedClaim, cond: str, vs: list[Verdict], a: Assessment,
                      parts: _Parts) -> None:
    """Holds where no matching verdict shows a significant benefit; with none matching, the
    results against other comparators are noted (absence is not evidence of no benefit)."""
    good = [v for v in vs if v.direction is Direction.BENEFIT and v.statistically_significant]
    if good:
        for v in good:
            parts.add(PartState.FAILS, f"{cond}: significant benefit in {_where(v)} ({v.effect})")
        return
    if vs:
        parts.add(PartState.HOLDS, f"{cond}: none of {len(vs)} matching result(s) shows a "
                                   "significant benefit")
        return
    others = [v for v in a.verdicts if v.body is not None and v.claim.condition == cond
              and (claim.outcome == "any" or v.claim.outcome == claim.outcome)]
    parts.add(PartState.HOLDS, f"{cond}: no {claim.outcome} result vs {claim.comparator} is "
              "stored" + (f" (results exist only vs "
                          f"{', '.join(sorted({v.claim.comparator for v in others}))})"
                          if others else ""))
    parts.reasons += [f"{cond}: absence of a {claim.comparator}-controlled result is not "
                      f"evidence of no benefit; against {v.claim.comparator} "
                      f"({v.body.comparator_name}) {v.sources[0]} reports "
                      f"{v.category} ({v.effect})" for v in others if v.body]


def _no_difference(claim: StatedClaim, vs: list[Verdict], parts: _Parts) -> None:
    """Holds per verdict without a significant difference (a caveat unless the CI excludes
    the MCID); a verdict covering other days than claimed cannot be assessed."""
    for v in vs:
        if not _day_specific(claim, v):
            parts.add(PartState.UNKNOWN, f"{_where(v)}: covers {v.timepoint!r}, not "
                      f"specifically {claim.timepoint or 'the claimed days'} ({v.effect})")
        elif v.statistically_significant is None:
            parts.add(PartState.UNKNOWN, f"{_where(v)}: significance not reported")
        elif v.statistically_significant:
            parts.add(PartState.FAILS, f"{_where(v)}: significant {v.direction} ({v.effect})")
        else:
            parts.add(PartState.HOLDS, f"{_where(v)}: no significant difference ({v.effect})")
            if v.category is not Category.NO_IMPORTANT_DIFFERENCE:
                parts.reasons.append(f"{_where(v)}: a non-significant result is not evidence "
                                     "of no difference; the data cannot exclude an important "
                                     "difference")


def _effect(claim: StatedClaim, cond: str, vs: list[Verdict], parts: _Parts) -> None:
    """A benefit or harm claim: every day of a short day range needs a result; each matching
    verdict gives a statistical part (and a clinical one when claimed); a claimed certainty
    fails for a supporting verdict rated above it."""
    if (claim.days_min is not None and claim.days_max is not None
            and claim.days_max - claim.days_min <= _PER_DAY_MAX):
        day = claim.days_min
        while day <= claim.days_max:
            if not any(v.body and v.body.timepoint_days == day for v in vs):
                parts.add(PartState.UNKNOWN, f"{cond}, day {day:g}: no result stored for this day")
            day += 1
    for v in vs:
        judged = _judge_effect(claim, v)
        for state, why in judged:
            if not _day_specific(claim, v):
                why += f" [covers {v.timepoint!r}, not day-specific]"
            parts.add(state, why)
        if (judged[0][0] is PartState.HOLDS and claim.certainty is not None
                and v.level is not None and v.level.rank < claim.certainty.rank):
            parts.add(PartState.FAILS, f"{_where(v)}: certainty {v.level}, better than the "
                                       f"claimed {claim.certainty}")


def _add_on_notes(claim: StatedClaim, store: EvidenceReader) -> list[str]:
    """For a benefit claim against ``add-on``: the stored results about what was added."""
    return [f"{r.source_id}: {r.evidence_about} ({r.effect_measure} {r.estimate:g}"
            + (f", 95% CI {r.ci_lower:g} to {r.ci_upper:g}" if r.ci_lower is not None
               else "") + f"; quote: {r.verbatim_quote!r})"
            for r in store.results(treatment=claim.treatment)
            if r.evidence_about and r.estimate is not None]


def check_claim(claim: StatedClaim, store: EvidenceReader, *, mcid_table: MCIDTable | None = None,
                assessment: Assessment | None = None) -> ClaimCheck:
    """Check one stated claim against the store (rules in the module docstring).

    Parameters
    ----------
    claim : StatedClaim
    store : EvidenceReader
        A :class:`~metaverdict.evidence.Store` or a snapshot of one.
    mcid_table : MCIDTable, optional
    assessment : Assessment, optional
        Reuse verdicts already computed by :func:`assess` for this treatment.

    Returns
    -------
    ClaimCheck
    """
    if claim.direction is ClaimDirection.RESPONDERS:
        return _check_responders(claim, store)
    a = assessment if assessment is not None else assess(store, claim.treatment, mcid_table)
    parts = _Parts()
    conditions = list(claim.conditions)
    if conditions == ["any"] and claim.direction is not ClaimDirection.NO_TRIAL_EVIDENCE:
        conditions = sorted({v.claim.condition for v in a.verdicts
                             if _matches(claim, v, "any")}) or ["any"]
    if claim.comparator == "add-on" and claim.direction is ClaimDirection.BENEFIT:
        parts.reasons += _add_on_notes(claim, store)
    for cond in conditions:
        vs = [v for v in a.verdicts if _matches(claim, v, cond)]
        parts.used += vs
        match claim.direction:
            case ClaimDirection.NO_TRIAL_EVIDENCE:
                _no_trial_evidence(claim, cond, store, parts)
            case ClaimDirection.NO_BENEFIT_SHOWN:
                _no_benefit_shown(claim, cond, vs, a, parts)
            case ClaimDirection.NO_DIFFERENCE:
                _no_difference(claim, vs, parts)
            case _:
                _effect(claim, cond, vs, parts)
    found = parts.found
    holds, fails, unknown = found[PartState.HOLDS], found[PartState.FAILS], found[PartState.UNKNOWN]
    return ClaimCheck(claim, _status(claim, holds, fails, unknown, parts.used), tuple(holds),
                      tuple(fails), tuple(unknown), tuple(dict.fromkeys(parts.reasons)),
                      tuple(dict.fromkeys(parts.used)))


def overreach(check: ClaimCheck) -> str:
    """One sentence on where a claim goes beyond its evidence ("" when it does not)."""
    parts = []
    days = [m.group(0) for u in check.not_assessable
            for m in [re.search(r"day \d+(?=[^0-9])", u)] if m and ("not reported" in u
                                                                    or "no result" in u)]
    if days:
        parts.append(f"{', '.join(dict.fromkeys(days))}: no result reported")
    if any("clinically important" in u for u in check.not_assessable):
        parts.append("clinical importance is not established by the stored numbers")
    if check.claim.direction is ClaimDirection.RESPONDERS and check.not_assessable:
        parts.append("who benefits cannot be shown from aggregate results")
    if check.fails and check.status is not ClaimStatus.SUPPORTED:
        parts.append(f"{len(check.fails)} part(s) contradicted by stored results")
    if not parts or check.status is ClaimStatus.SUPPORTED and not check.not_assessable:
        return ""
    return "The claim goes beyond its evidence: " + "; ".join(parts) + "."


def _check_responders(claim: StatedClaim, store: EvidenceReader) -> ClaimCheck:
    """A claim about who benefits: aggregate means cannot test it (see the module docstring)."""
    rows = store.results(treatment=claim.treatment)
    hte = [r for r in rows if _HTE.search(f"{r.outcome_raw} {r.effect_measure}")]
    unknown = [f"no stored result reports heterogeneity of the treatment effect or a belief/"
               f"expectation moderator for {claim.treatment}: aggregate results (means, SMDs) "
               "cannot show that some people respond and most do not"] if not hte else []
    holds = [f"{r.source_id}: {r.outcome_raw}, {r.timepoint_raw} ({r.effect_measure})"
             for r in hte]
    reasons = [f"{r.source_id}: {r.outcome_raw} ({r.p_value or 'no P-value'}) is a single "
               "subjective item, not a test of belief as a moderator" for r in rows
               if "expected" in r.outcome_raw.lower()]
    status = ClaimStatus.PARTLY_SUPPORTED if hte else ClaimStatus.NO_EVIDENCE
    return ClaimCheck(claim, status, tuple(holds), (), tuple(unknown), tuple(reasons), ())


def _status(claim: StatedClaim, holds: list[str], fails: list[str], unknown: list[str],
            used: list[Verdict]) -> ClaimStatus:
    if claim.direction in (ClaimDirection.NO_TRIAL_EVIDENCE, ClaimDirection.NO_BENEFIT_SHOWN):
        return (ClaimStatus.SUPPORTED if holds and not fails
                else ClaimStatus.PARTLY_SUPPORTED if holds else ClaimStatus.NOT_SUPPORTED)
    if not used:
        return ClaimStatus.NO_EVIDENCE
    if claim.scope is Scope.SOME:
        return (ClaimStatus.SUPPORTED if holds else ClaimStatus.NOT_SUPPORTED if fails
                else ClaimStatus.NO_EVIDENCE)
    if holds and not fails and not unknown:
        return ClaimStatus.SUPPORTED
    if holds:
        return ClaimStatus.PARTLY_SUPPORTED
    return ClaimStatus.NOT_SUPPORTED if fails else ClaimStatus.NO_EVIDENCE


def check_claims(claims: list[StatedClaim], store: EvidenceReader, *,
                 mcid_table: MCIDTable | None = None,
                 assessments: dict[str, Assessment] | None = None) -> list[ClaimCheck]:
    """Check several claims, computing each treatment's verdicts once.

    ``assessments`` maps treatment terms to assessments already made (the report passes its
    syntheses', so a claim check can never disagree with the tables).
    """
    cache: dict[str, Assessment] = dict(assessments or {})
    out = []
    for c in claims:
        term = store.vocabulary.treatment(c.treatment)[0]
        if term not in cache:
            cache[term] = assess(store, term, mcid_table)
        out.append(check_claim(c, store, mcid_table=mcid_table, assessment=cache[term]))
    return out
