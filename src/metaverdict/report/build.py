"""Build a :class:`~metaverdict.report.document.ReportDocument` from the evidence store:
verdicts per treatment and condition, figures, gaps, opinions, claim checks and references.

>>> from metaverdict.evidence import open_store                     # doctest: +SKIP
>>> with open_store() as store:                                     # doctest: +SKIP
...     doc = build_report(store, ["dry needling"])
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from metaverdict.errors import InputError
from metaverdict.grade.mcid import MCIDTable
from metaverdict.report.document import (SECONDARY_SUMMARY, ClaimRow, ConditionSection, Finding,
                                         NumberSource, OpinionFlag, Reference, ReportDocument,
                                         TimeCourseSection, TreatmentPart, display_text,
                                         finding, slug)
from metaverdict.report.figures import (forest_figure, summary_estimates_figure,
                                        time_course_section)
from metaverdict.verdict import (CATEGORIES, Assessment, ClaimCheck, StatedClaim, Verdict,
                                 article_claims, assess, check_claims)
from metaverdict.verdict.synthesis import indirectness

_DOI_URL = "https://doi.org/"
_URL = re.compile(r"https?://\S+")


def _display_treatment(term: str) -> str:
    return "platelet-rich plasma (PRP) injection" if term == "platelet-rich plasma injection" \
        else term


def _is_secondary(row: Any) -> bool:
    return any(SECONDARY_SUMMARY in r for r in indirectness(row))


def opinion_flags(assessment: Assessment, store: Any) -> tuple[OpinionFlag, ...]:
    """Each opinion, flagged "unsupported: no trial evidence" or "trial evidence exists"."""
    cites = {(o.expert, o.claim): o.citation for o in store.opinions()}
    out = []
    for o in assessment.opinions:
        if o.trial_results == 0:
            flag, cls = "unsupported: no trial evidence", "opinion"
        else:
            flag, cls = (f"not opinion only: {o.trial_results} trial-based result(s) stored",
                         "unclear")
        finding = o.finding.split(" \u2014 ", 1)[-1]         # drop the repeated "expert: claim"
        out.append(OpinionFlag(o.expert, o.claim, display_text(o.treatment),
                               display_text(o.condition), flag, cls,
                               finding[:1].upper() + finding[1:],
                               display_text(cites.get((o.expert, o.claim)))))
    return tuple(out)


def claim_rows(checks: Iterable[ClaimCheck]) -> tuple[ClaimRow, ...]:
    """Display rows for claim checks."""
    return tuple(ClaimRow(c.claim.id, c.claim.text or c.claim.direction, c.claim.source,
                          c.status, tuple(c.holds), tuple(c.fails), tuple(c.not_assessable),
                          tuple(c.reasons)) for c in checks)


def _p_text(raw: str) -> str:
    """A stored P-value as text: ``"<=0.003"`` -> ``"P <= 0.003"``, ``"0.03"`` -> ``"P = 0.03"``;
    the rest of the source's wording is kept."""
    m = re.match(r"\s*(<=|>=|\u2264|\u2265|<|>|=)?\s*", raw)
    return f"P {m.group(1) or '='} {raw[m.end():]}"            # type: ignore[union-attr]


def _reported(r: Any) -> str:
    parts = []
    if r.estimate is not None:
        s = f"{r.effect_measure} {r.estimate:g}"
        if r.ci_lower is not None and r.ci_upper is not None:
            s += f" (95% CI {r.ci_lower:g} to {r.ci_upper:g})"
        parts.append(s)
    for arm, m, sd, n in (("treatment", r.mean_treatment, r.sd_treatment, r.n_treatment),
                          ("comparator", r.mean_control, r.sd_control, r.n_control)):
        if display_text(m):
            parts.append(f"{arm} {display_text(m)}"
                         + (f" (SD {sd:g})" if sd is not None else "")
                         + (f", n = {n}" if n is not None else ""))
    if display_text(r.p_value):
        parts.append(_p_text(display_text(r.p_value)))
    if r.k_studies is not None:
        parts.append(f"k = {r.k_studies}")
    if r.i2 is not None:
        parts.append(f"I\u00b2 = {r.i2:g}%")
    if not parts:
        parts.append(r.effect_measure or "no numbers")
    return "; ".join(parts)


def references(store: Any, rows: Sequence[Any],
               extra_keys: Iterable[str] = ()) -> tuple[Reference, ...]:
    """References for the sources of ``rows`` (plus ``extra_keys``), each with its numbers."""
    by_source: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_source[r.source_id].append(r)
    keys = list(dict.fromkeys(list(by_source) + list(extra_keys)))
    src = store.sources()
    meta = {str(k): rec for k, rec in zip(src["key"], src.to_dict("records"))}
    out = []
    for key in sorted(keys):
        rec = meta.get(key, {})
        doi = display_text(rec.get("doi"))
        loc = display_text(rec.get("url_or_location"))
        links = tuple((u.rstrip(";,)"), u.rstrip(";,)")) for u in _URL.findall(loc))
        numbers = tuple(NumberSource(
            r.id, f"{r.outcome_raw}, {r.timepoint_raw} (vs {r.comparator_raw}; {r.condition})",
            _reported(r), display_text(r.url_or_location), display_text(r.verbatim_quote),
            display_text(r.derivation), display_text(r.notes), _is_secondary(r))
            for r in sorted(by_source.get(key, []), key=lambda r: r.position))
        out.append(Reference(key, display_text(rec.get("citation")) or key, doi,
                             _DOI_URL + doi if doi else "", links,
                             "" if links else loc, display_text(rec.get("design")),
                             any(n.secondary for n in numbers), numbers))
    return tuple(out)


# -- assembling ------------------------------------------------------------------------------
def resolve_treatment(store: Any, name: str) -> str:
    """The vocabulary term for a treatment name or alias that has stored evidence.

    Raises
    ------
    InputError
        When no stored result or opinion matches; the message lists the available names.
    """
    term, _family = store.vocabulary.treatment(name)
    if store.results(treatment=term) or store.opinions(treatment=term):
        return term
    raise InputError(f"treatment {name!r}: no stored evidence; available: "
                     f"{', '.join(available_treatments(store))}")


def available_treatments(store: Any) -> list[str]:
    """Treatment terms with stored results, each with its aliases: ``"corticosteroid
    injection (CSI, corticosteroid, ...)"``."""
    terms = store.vocabulary.data["treatments"]["terms"]
    present = sorted({r.treatment for r in store.results()})
    out = []
    for t in present:
        aliases = terms.get(t, {}).get("aliases", [])
        out.append(f"{t} ({', '.join(aliases)})" if aliases else t)
    return out


def _claims_for(claims: Sequence[StatedClaim], store: Any,
                terms: Sequence[str]) -> list[StatedClaim]:
    wanted = set(terms)
    out = []
    for c in claims:
        term, family = store.vocabulary.treatment(c.treatment)
        if term in wanted or family in wanted:
            out.append(c)
    return out


def _condition_section(store: Any, term: str, condition: str, verdicts: Sequence[Verdict],
                       findings: Sequence[Finding], not_shown: Sequence[str], *,
                       mcid_table: MCIDTable) -> tuple[ConditionSection, list[TimeCourseSection]]:
    """One condition's section (statements, figures, gaps) and its time courses."""
    sid = slug(term, condition)
    summary, skipped = summary_estimates_figure(verdicts, treatment=term, condition=condition,
                                                fig_id=f"fig-{sid}-summary")
    pooled = [v for v in verdicts if v.body is not None and v.body.meta is not None]
    forests = [forest_figure(v, f"fig-{sid}-forest-{j + 1}") for j, v in enumerate(pooled)]
    figures = tuple(f for f in [summary, *forests] if f is not None)
    treatments = {v.claim.treatment for v in verdicts}
    gaps = tuple(s for s in not_shown if any(s.startswith(f"{t} in {condition}:")
                                             for t in treatments))
    courses = [time_course_section(store, term, condition, outcome, mcid_table=mcid_table,
                                   fig_id=f"fig-{slug(term, condition, outcome)}-time-course")
               for outcome in sorted({v.claim.outcome for v in verdicts if v.body is not None})]
    section = ConditionSection(sid, condition, tuple(findings), figures, gaps, skipped)
    return section, [c for c in courses if c is not None]


def treatment_part(store: Any, term: str, *, mcid_table: MCIDTable,
                   progress: Callable[[str], None]) -> tuple[TreatmentPart, list[Any]]:
    """One treatment's part of the report and the store rows it rests on."""
    pid = slug(term)
    progress(f"{term}: assessing verdicts")
    a = assess(store, term, mcid_table)
    by_condition: dict[str, list[Verdict]] = defaultdict(list)
    for v in a:
        by_condition[v.claim.condition].append(v)
    row_of = {id(v): replace(finding(v), anchor=f"{pid}--verdict-{i + 1}")
              for i, v in enumerate(a)}
    sections, time_courses = [], []
    for condition in sorted(by_condition):
        progress(f"{term}: drawing {condition}")
        vs = by_condition[condition]
        section, courses = _condition_section(store, term, condition, vs,
                                              [row_of[id(v)] for v in vs], a.not_shown,
                                              mcid_table=mcid_table)
        sections.append(section)
        time_courses += courses
    counts = Counter(v.category for v in a)
    part = TreatmentPart(pid, term, _display_treatment(term), tuple(row_of[id(v)] for v in a),
                         tuple((c, counts[c]) for c in CATEGORIES if counts[c]),
                         tuple(sections), tuple(time_courses), tuple(a.not_shown),
                         opinion_flags(a, store))
    return part, store.results(treatment=term)


def _data_source(store: Any, rows: Sequence[Any], n_references: int) -> tuple[str, ...]:
    """The header's lines on where the numbers come from: the store, the bundled extraction
    it was seeded with (if any), and how much of it this report uses."""
    from metaverdict.evidence.bundled import SEED_KEY, raw_sha256
    counts = store.counts()
    lines = [f"Evidence store: {store.url} ({counts['results']} results, "
             f"{counts['sources']} sources, {counts['opinions']} expert opinions)."]
    seeded = store.meta(SEED_KEY)
    if seeded:
        current = ("the copy shipped with this version" if seeded == raw_sha256() else
                   "an earlier bundled copy")
        lines.append(
            "Bundled evidence: the extraction shipped with metaverdict (studies_raw.csv, "
            f"SHA-256 {seeded[:12]}\u2026, {current}): results from trials and "
            "meta-analyses of dry needling, PRP and corticosteroid injection, each with its "
            "DOI, location and verbatim quote. The extraction records no date of its own; "
            "dates below are those of the report.")
    lines.append(f"This report uses {len({r.id for r in rows})} stored results from "
                 f"{n_references} sources.")
    return tuple(lines)


def _secondary_rows(rows: Sequence[Any]) -> tuple[str, ...]:
    """``"source (timepoints)"`` for each source with numbers read from a secondary summary."""
    timepoints: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if _is_secondary(r):
            timepoints[r.source_id].append(r.timepoint_raw)
    return tuple(f"{k} ({', '.join(dict.fromkeys(v))})" for k, v in sorted(timepoints.items()))


def build_report(store: Any, treatments: Sequence[str], *, mcid_table: MCIDTable | None = None,
                 claims: Sequence[StatedClaim] | None = None, generated: date | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportDocument:
    """Build the evidence report for one or more treatments.

    Parameters
    ----------
    store : metaverdict.evidence.Store
        The evidence store.
    treatments : sequence of str
        Treatment names or aliases (``"dry needling"``, ``"PRP"``, ``"corticosteroid
        injection"``), resolved through the store's vocabulary.
    mcid_table : MCIDTable, optional
        Default: :meth:`MCIDTable.bundled`.
    claims : sequence of StatedClaim, optional
        Claims to check (default: the bundled article's claims); only those about the
        report's treatments are checked.
    generated : datetime.date, optional
        Date printed as the report's date (default: today).
    progress : callable, optional
        Called with a short message before each step (for a status line).

    Returns
    -------
    ReportDocument

    Raises
    ------
    InputError
        For a treatment without stored evidence (the message lists the available ones).
    """
    say = progress or (lambda _msg: None)
    table = mcid_table or MCIDTable.bundled()
    terms = list(dict.fromkeys(resolve_treatment(store, t) for t in treatments))
    parts, rows = [], []
    for term in terms:
        part, prow = treatment_part(store, term, mcid_table=table, progress=say)
        parts.append(part)
        rows += prow
    say("checking claims")
    stated = _claims_for(list(claims) if claims is not None else article_claims(), store, terms)
    checks = check_claims(stated, store, mcid_table=table) if stated else []
    claims_note = ("" if stated else "No stated claims about "
                   f"{', '.join(_display_treatment(t) for t in terms)} are on file; check your "
                   "own with \"metaverdict claims check FILE\" or \"metaverdict report "
                   "TREATMENT --claims FILE\".")
    say("collecting references")
    refs = references(store, rows, extra_keys=[s for p in parts for f in p.findings
                                               for s in f.sources])
    from metaverdict import __version__
    title = "Evidence report: " + ", ".join(_display_treatment(t) for t in terms)
    return ReportDocument(
        title=title, generated=(generated or date.today()).isoformat(), version=__version__,
        data_source=_data_source(store, rows, len(refs)),
        simulated=("Nothing is simulated or imputed. Every estimate, CI and P-value was read "
                   "from a source; derived values (|SMD| bounds from P-values and group sizes, "
                   "estimates pooled here from primary trials) are labelled as derived."),
        secondary_rows=_secondary_rows(rows), parts=tuple(parts), claims=claim_rows(checks),
        claims_note=claims_note, references=refs)
