"""Build a :class:`~metaverdict.report.document.ReportDocument` from the evidence, read once:
per treatment the answers (bottom line, evidence map, all questions) of one
:class:`~metaverdict.synthesis.Synthesis`, then the details (verdicts by condition, figures,
time courses, gaps, opinions), the claim checks made on the same verdicts, and the references.
Nothing here judges or queries a database: it renders values.

>>> from datetime import date
>>> from metaverdict.evidence import open_store
>>> from metaverdict.synthesis import read_evidence
>>> with open_store() as store:          # METAVERDICT_DATABASE_URL, else the user data file
...     evidence = read_evidence(store)
>>> doc = build_report(evidence, ["PRP"], generated=date(2026, 1, 1))
>>> doc.title, doc.generated
('Evidence report: platelet-rich plasma (PRP) injection', '2026-01-01')
>>> first = doc.parts[0].answers[0]          # the bottom line's first question
>>> first.outcome, first.comparator_class, first.condition, first.certainty
('pain', 'sham', 'lateral epicondylitis', 'moderate')
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date

from metaverdict import __version__
from metaverdict.evidence.bundled import SEED_KEY, SUPPLEMENT_FILE, SUPPLEMENT_KEY, raw_sha256
from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.grade.mcid import SURROGATE_DOMAINS, MCIDTable
from metaverdict.report.document import (
    AnswerRow,
    BottomLineGroup,
    ClaimRow,
    ConditionSection,
    EvidenceMap,
    Finding,
    MapCell,
    NetworkSection,
    NetworkView,
    NumberSource,
    OpinionFlag,
    Reference,
    ReportDocument,
    TimeCourseSection,
    TreatmentPart,
    display_text,
    finding,
    mark_simulated,
    slug,
    tone,
)
from metaverdict.report.figures import forest_figure, summary_estimates_figure, time_course_section
from metaverdict.synthesis import (
    Answer,
    Assessment,
    ClaimCheck,
    EvidenceBase,
    Overlap,
    StatedClaim,
    Synthesis,
    article_claims,
    check_claims,
    overreach,
    read_evidence,
    synthesize,
)
from metaverdict.synthesis.bodies import verification
from metaverdict.synthesis.evidence import is_true
from metaverdict.synthesis.networks import ActiveComparisons, active_networks
from metaverdict.synthesis.probability import SkepticalPrior
from metaverdict.synthesis.terms import visit_days
from metaverdict.verdict import Verdict
from metaverdict.verdict.wording import outcome_words

_DOI_URL = "https://doi.org/"
_URL = re.compile(r"https?://\S+")


def _display_treatment(term: str) -> str:
    return "platelet-rich plasma (PRP) injection" if term == "platelet-rich plasma injection" \
        else term


def _is_secondary(row: ResultRow) -> bool:
    return any("secondary summary" in r for r in verification(row))


def opinion_flags(assessment: Assessment, store: EvidenceReader) -> tuple[OpinionFlag, ...]:
    """Each opinion, flagged "unsupported: no trial evidence" or "trial evidence exists"."""
    cites = {(o.expert, o.claim): o.citation for o in store.opinions()}
    out = []
    for o in assessment.opinions:
        if o.trial_results == 0:
            flag, cls = "unsupported: no trial evidence", "opinion"
        else:
            flag, cls = (f"not opinion only: {o.trial_results} source(s) report trials",
                         "unclear")
        finding = o.finding.split(" \u2014 ", 1)[-1]         # drop the repeated "expert: claim"
        out.append(OpinionFlag(o.expert, o.claim, display_text(o.treatment),
                               display_text(o.condition), flag, cls,
                               finding[:1].upper() + finding[1:],
                               display_text(cites.get((o.expert, o.claim)))))
    return tuple(out)


def claim_rows(checks: Iterable[ClaimCheck],
               simulated: frozenset[str] | set[str] = frozenset()) -> tuple[ClaimRow, ...]:
    """Display rows for claim checks (simulated source keys labelled SIMULATED)."""
    def mark(items: Iterable[str]) -> tuple[str, ...]:
        return tuple(mark_simulated(x, simulated) for x in items)
    return tuple(ClaimRow(c.claim.id, c.claim.text or str(c.claim.direction), c.claim.source,
                          str(c.status), mark(c.holds), mark(c.fails), mark(c.not_assessable),
                          mark(c.reasons), mark_simulated(overreach(c), simulated))
                 for c in checks)


def _p_text(raw: str) -> str:
    """A stored P-value as text: ``"<=0.003"`` -> ``"P ≤ 0.003"``, ``"0.03"`` -> ``"P = 0.03"``;
    the rest of the source's wording is kept."""
    m = re.match(r"\s*(<=|>=|\u2264|\u2265|<|>|=)?\s*", raw)
    rel = {"<=": "\u2264", ">=": "\u2265"}.get(m.group(1) or "=", m.group(1) or "=")  # type: ignore[union-attr]
    return f"P {rel} {raw[m.end():]}"                          # type: ignore[union-attr]


def _reported(r: ResultRow) -> str:
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


def references(store: EvidenceReader, rows: Sequence[ResultRow],
               extra_keys: Iterable[str] = ()) -> tuple[Reference, ...]:
    """References for the sources of ``rows`` (plus ``extra_keys``), each with its numbers."""
    by_source: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        by_source[r.source_id].append(r)
    keys = list(dict.fromkeys(list(by_source) + list(extra_keys)))
    src = store.sources()
    meta = {str(k): rec for k, rec in zip(src["key"], src.to_dict("records"))}
    simulated = {k for k, rec in meta.items() if is_true(rec.get("simulated"))}
    simulated |= {r.source_id for r in rows if r.simulated}
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
                             any(n.secondary for n in numbers), numbers, key in simulated))
    return tuple(out)


# -- answers -----------------------------------------------------------------------------
_TERM_WORDS = {"immediate": "immediate (up to 1 week)", "short": "short term (up to 3 months)",
               "medium": "medium term (3 to 6 months)", "long": "long term (over 6 months)",
               "unspecified": "timepoint not stated", "any": "any time"}
#: The bottom line's question types: (outcome, comparator classes, terms, title).
_SHORT = ("immediate", "short")
_LONG = ("medium", "long")
_CLASS_WORDS = {"sham": "vs sham or placebo", "sham-or-no-treatment":
                "vs mixed controls (sham or no treatment)", "no-treatment": "vs no treatment",
                "active": "vs an active treatment", "add-on": "as an add-on (X + treatment vs X)",
                "usual-care": "vs usual care", "mixed": "vs mixed comparison groups",
                "technique": "one technique vs another", "any": ""}


def term_words(term: str) -> str:
    """``short`` -> ``short term (up to 3 months)``; a trial's own ``day 1`` is kept."""
    return _TERM_WORDS.get(term, term)


def answer_row(a: Answer, anchor: str) -> AnswerRow:
    """Flatten an answer for display (its simulated sources labelled SIMULATED)."""
    v = a.chosen
    sim = set(a.simulated_sources) | {o.id for o in a.other_sources if o.simulated}

    def mark(text: str) -> str:
        return mark_simulated(text, sim) if sim else text

    cert = str(a.certainty or "")
    mcid = ""
    if v is not None and v.mcid is not None:
        mcid = v.mcid.describe()
    elif v is not None and v.body is not None and v.claim.outcome in SURROGATE_DOMAINS:
        mcid = "a surrogate outcome: no patient-important threshold (direction only)"
    elif v is not None and v.body is not None and v.body.estimate is not None:
        mcid = "no MCID for this scale (direction and significance only)"
    return AnswerRow(
        anchor=anchor, outcome=outcome_words(a.question.outcome),
        comparator_class=a.question.comparator_class, term=term_words(a.question.term),
        condition=(a.question.condition or "all conditions")
        + (f" \u00b7 vs {a.question.comparator}" if a.question.comparator else ""),
        headline=a.headline,
        certainty=cert, verdict=str(a.verdict), tone=tone(a.verdict, a.certainty),
        effect=v.effect if v is not None else "",
        absolute=a.absolute_effect.text if a.absolute_effect else "", mcid=mcid,
        source=a.source_name or "",
        others=tuple(f"{o.name}: {o.relation} ({o.category}, {o.certainty or 'not rated'})"
                     for o in a.other_sources),
        overlap=mark(a.overlap.status) if a.overlap else "",
        flags=tuple(mark(f) for f in a.flags), statement=mark(a.statement),
        certainty_reasons=tuple(v.certainty.reasons) if v is not None and v.certainty else (),
        details=tuple(mark(f"{d.label or d.timepoint}: {d.effect} ({d.category}, "
                           f"{d.level or 'not rated'})") for d in a.details),
        simulated=a.simulated, probability=a.probability.describe() if a.probability else "",
        probability_prior=a.probability.prior.describe() if a.probability else "",
        probability_short=a.probability.short() if a.probability else "")


def _group_title(outcome: str, cls: str, terms: str) -> str:
    return f"{outcome_words(outcome).capitalize()} {_CLASS_WORDS.get(cls, 'vs ' + cls)}, {terms}"


def bottom_line(answers: Sequence[Answer],
                rows: dict[int, AnswerRow]) -> tuple[BottomLineGroup, ...]:
    """The bottom-line table: pain and function per comparator class, short and long term
    (pain and function vs sham are always shown, "no result stored" where empty), a trial's
    own days, adverse events (always), then recurrence, responders and cramps."""
    groups: list[BottomLineGroup] = []
    by_id = {id(a): rows[id(a)] for a in answers}

    def add(title: str, chosen: list[Answer], always: bool = False) -> None:
        if chosen or always:
            groups.append(BottomLineGroup(title, tuple(by_id[id(a)] for a in chosen)))

    for outcome in ("pain", "function"):
        for cls in ("sham", "sham-or-no-treatment", "no-treatment", "active", "add-on",
                    "usual-care", "mixed"):
            for terms, label in ((_SHORT, "up to 3 months"), (_LONG, "beyond 3 months"),
                                 (("unspecified",), "timepoint not stated")):
                chosen = [a for a in answers if a.question.outcome == outcome
                          and a.question.comparator_class == cls and a.question.term in terms]
                add(_group_title(outcome, cls, label), chosen,
                    always=cls == "sham" and terms != ("unspecified",))
        days = [a for a in answers if a.question.outcome == outcome
                and visit_days(a.question.term) is not None]
        add(f"{outcome_words(outcome).capitalize()} by day after treatment (one trial's own "
            "visits)", days)
    for outcome in ("adverse-events", "recurrence", "treatment-success", "cramping"):
        chosen = [a for a in answers if a.question.outcome == outcome]
        add(outcome_words(outcome).capitalize() + (" (always shown)" if outcome ==
                                                   "adverse-events" else ""), chosen,
            always=outcome == "adverse-events")
    return tuple(groups)


def _map_cell(a: Answer, r: AnswerRow) -> MapCell:
    sym = {"benefit": "+", "harm": "\u2212", "none": "="}.get(a.direction, "?")
    vs = f" vs {a.question.comparator}" if a.question.comparator else ""
    return MapCell(f"{sym} {r.certainty_symbol}", r.tone, r.anchor,
                   f"{r.headline}{vs}; {r.certainty or 'not rated'}; {r.verdict}")


def evidence_maps(answers: Sequence[Answer],
                  rows: dict[int, AnswerRow]) -> tuple[EvidenceMap, ...]:
    """Condition × (comparator class, term) maps for pain and function."""
    out = []
    for outcome in ("pain", "function"):
        mine = [a for a in answers if a.question.outcome == outcome and a.chosen is not None]
        if not mine:
            continue
        order = ("sham", "sham-or-no-treatment", "no-treatment", "active", "add-on",
                 "usual-care", "mixed", "technique")
        terms = ("immediate", "short", "medium", "long", "unspecified")
        cols = tuple((c, t) for c in order for t in terms
                     if any(a.question.comparator_class == c and a.question.term == t
                            for a in mine))
        conds = sorted({a.question.condition or "" for a in mine if
                        visit_days(a.question.term) is None})
        table = []
        for cond in conds:
            cells: list[tuple[MapCell, ...]] = []
            for c, t in cols:
                here = [a for a in mine if (a.question.condition or "") == cond
                        and a.question.comparator_class == c and a.question.term == t]
                cells.append(tuple(_map_cell(a, rows[id(a)]) for a in here))
            table.append((cond or "all conditions", tuple(cells)))
        out.append(EvidenceMap(outcome_words(outcome), cols, tuple(table)))
    return tuple(out)


def _claims_for(claims: Sequence[StatedClaim], store: EvidenceReader,
                terms: Sequence[str]) -> list[StatedClaim]:
    wanted = set(terms)
    out = []
    for c in claims:
        term, family = store.vocabulary.treatment(c.treatment)
        if term in wanted or family in wanted:
            out.append(c)
    return out


def _condition_section(synth: Synthesis, condition: str, verdicts: Sequence[Verdict],
                       findings: Sequence[Finding],
                       simulated: frozenset[str] = frozenset()) -> tuple[ConditionSection,
                                                                        list[TimeCourseSection]]:
    """One condition's section (statements, figures, gaps) and its time courses."""
    term = synth.treatment
    sid = slug(term, condition)
    summary, skipped = summary_estimates_figure(verdicts, treatment=term, condition=condition,
                                                fig_id=f"fig-{sid}-summary", simulated=simulated)
    pooled = [v for v in verdicts if v.body is not None and v.body.meta is not None]
    forests = [forest_figure(v, f"fig-{sid}-forest-{j + 1}", simulated=simulated)
               for j, v in enumerate(pooled)]
    figures = tuple(f for f in [summary, *forests] if f is not None)
    treatments = {v.claim.treatment for v in verdicts}
    gaps = tuple(mark_simulated(s, simulated) for s in synth.assessment.not_shown
                 if any(s.startswith(f"{t} in {condition}:") for t in treatments))
    courses = [time_course_section(synth, condition, outcome,
                                   fig_id=f"fig-{slug(term, condition, outcome)}-time-course",
                                   simulated=simulated)
               for outcome in sorted({v.claim.outcome for v in verdicts if v.body is not None})]
    section = ConditionSection(sid, condition, tuple(findings), figures, gaps, skipped)
    return section, [c for c in courses if c is not None]


def citation_matrix(ov: Overlap) -> tuple[tuple[str, ...], ...]:
    """The citation matrix as display rows: a header (``"trial"``, then the reviews that list
    any trial), then one row per trial with ``"x"`` where a review includes it."""
    if not ov.trials:
        return ()
    cols = [j for j, _ in enumerate(ov.reviews) if any(row[j] for row in ov.matrix)]
    head = ("trial", *(ov.reviews[j] for j in cols))
    return (head, *((t, *("x" if row[j] else "" for j in cols))
                    for t, row in zip(ov.trials, ov.matrix)))


def _warnings(synth: Synthesis, simulated: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Known data problems (kept out of verdicts), one line per source and problem, and
    evidence about other treatments (simulated sources labelled)."""
    by_problem: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in synth.flagged:
        by_problem[(r.source_id, str(r.data_problem))].append(f"{r.outcome_raw}, {r.timepoint_raw}")
    out = [f"{src} ({len(what)} result{'s' if len(what) > 1 else ''}: "
           f"{'; '.join(dict.fromkeys(what))}): {problem}"
           for (src, problem), what in by_problem.items()]
    out += [f"{r.source_id} ({r.outcome_raw}, {r.timepoint_raw}): {r.evidence_about}; kept "
            f"out of the answers for {synth.treatment}" for r in synth.related]
    return tuple(mark_simulated(w, simulated) for w in out)


def network_section(comparisons: ActiveComparisons) -> NetworkSection:
    """The networks of a treatment's active comparisons, as text."""
    views = []
    for n in comparisons.networks:
        league = n.league()
        rows: tuple[tuple[str, ...], ...] = ()
        if league is not None:
            rows = (("", *league.columns),) + tuple(
                (str(i), *(str(c) for c in r)) for i, r in zip(league.index, league.to_numpy()))
        views.append(NetworkView(
            f"{(n.condition or 'all conditions').capitalize()}: {outcome_words(n.outcome)}, "
            f"{term_words(n.term)} ({n.measure}, benefit scale)", n.verdict, rows,
            tuple(c.describe() for c in n.comparisons), n.caveats))
    return NetworkSection(comparisons.statement, tuple(views), comparisons.single,
                          comparisons.excluded)


def treatment_part(synth: Synthesis, evidence: EvidenceBase, *,
                   progress: Callable[[str], None],
                   network: NetworkSection | None = None) -> TreatmentPart:
    """One treatment's part of the report, rendered from its synthesis (and the networks of
    its active comparisons)."""
    term = synth.treatment
    pid = slug(term)
    a = synth.assessment
    sim = frozenset(getattr(evidence, "simulated_sources", ()))
    rows = {id(ans): answer_row(ans, f"{pid}--q-{i + 1}") for i, ans in enumerate(synth.answers)}
    by_condition: dict[str, list[Verdict]] = defaultdict(list)
    for v in a:
        by_condition[v.claim.condition].append(v)
    row_of = {id(v): replace(finding(v, sim), anchor=f"{pid}--verdict-{i + 1}")
              for i, v in enumerate(a)}
    sections, time_courses = [], []
    for condition in sorted(by_condition):
        progress(f"{term}: drawing {condition}")
        vs = by_condition[condition]
        section, courses = _condition_section(synth, condition, vs, [row_of[id(v)] for v in vs],
                                              sim)
        sections.append(section)
        time_courses += courses
    return TreatmentPart(pid, term, _display_treatment(term), tuple(row_of[id(v)] for v in a),
                         bottom_line(synth.answers, rows),
                         tuple(rows[id(x)] for x in synth.answers),
                         evidence_maps(synth.answers, rows),
                         mark_simulated(synth.overlap.status, sim),
                         tuple(tuple(mark_simulated(c, sim) for c in r)
                               for r in citation_matrix(synth.overlap)),
                         tuple(mark_simulated(o, sim) for o in synth.possible_overlap),
                         _warnings(synth, sim), tuple(sections), tuple(time_courses),
                         tuple(mark_simulated(g, sim) for g in a.not_shown),
                         opinion_flags(a, evidence), network)


def _data_source(evidence: EvidenceBase, rows: Sequence[ResultRow],
                 n_references: int) -> tuple[str, ...]:
    """The header's lines on where the numbers come from: the store (never a local path),
    the bundled extraction it was seeded with (if any), and how much of it this report uses."""
    counts = evidence.counts()
    lines = [f"Evidence store: {evidence.url} ({counts.get('results', 0)} results, "
             f"{counts.get('sources', 0)} sources, {counts.get('opinions', 0)} expert "
             "opinions), read once for this report."]
    seeded = evidence.meta(SEED_KEY)
    if seeded:
        current = ("the copy shipped with this version" if seeded == raw_sha256() else
                   "an earlier bundled copy")
        sup = evidence.meta(SUPPLEMENT_KEY)
        extra = ("" if sup is None else
                 f", plus {SUPPLEMENT_FILE} (stated no-difference results and numbers added from "
                 "the sources with their quotes"
                 + ("" if sup == raw_sha256(SUPPLEMENT_FILE) else "; an earlier copy") + ")")
        lines.append(
            "Bundled evidence: the extraction shipped with metaverdict (studies_raw.csv, "
            f"SHA-256 {seeded[:12]}\u2026, {current}){extra}: results from trials and "
            "meta-analyses of dry needling, PRP and corticosteroid injection, each with its "
            "DOI, location and verbatim quote. The extraction records no date of its own; "
            "dates below are those of the report.")
    lines.append(f"This report uses {len({r.id for r in rows})} stored results from "
                 f"{n_references} sources.")
    if evidence.simulated_sources:
        lines.append(f"SIMULATED sources included (asked for with --include-simulated): "
                     f"{', '.join(evidence.simulated_sources)}.")
    elif evidence.left_out:
        lines.append(f"Left out: {len(evidence.left_out)} simulated source(s) the store holds "
                     f"({', '.join(evidence.left_out)}); --include-simulated puts them in, "
                     "labelled SIMULATED.")
    return tuple(lines)


def _secondary_rows(rows: Sequence[ResultRow]) -> tuple[str, ...]:
    """``"source (timepoints)"`` for each source with numbers read from a secondary summary."""
    timepoints: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if _is_secondary(r):
            timepoints[r.source_id].append(r.timepoint_raw)
    return tuple(f"{k} ({', '.join(dict.fromkeys(v))})" for k, v in sorted(timepoints.items()))


def build_report(evidence: EvidenceReader, treatments: Sequence[str], *,
                 mcid_table: MCIDTable | None = None,
                 claims: Sequence[StatedClaim] | None = None, generated: date | None = None,
                 progress: Callable[[str], None] | None = None,
                 syntheses: Sequence[Synthesis] | None = None,
                 prior: SkepticalPrior | None = None) -> ReportDocument:
    """Build the evidence report for one or more treatments.

    Parameters
    ----------
    evidence : EvidenceReader
        The evidence, read once: an :class:`EvidenceBase`, or a store
        (:class:`metaverdict.evidence.Store`), which is read into one first.
    treatments : sequence of str
        Treatment names or aliases (``"dry needling"``, ``"PRP"``, ``"corticosteroid
        injection"``), resolved through the vocabulary.
    mcid_table : MCIDTable, optional
        Default: :meth:`MCIDTable.bundled`.
    claims : sequence of StatedClaim, optional
        Claims to check (default: the bundled article's claims); only those about the
        report's treatments are checked.
    generated : datetime.date, optional
        Date printed as the report's date (default: today).
    progress : callable, optional
        Called with a short message before each step (for a status line).
    syntheses : sequence of Synthesis, optional
        Syntheses already computed (by ``metaverdict answer`` or the web app); computed
        here otherwise.
    prior : SkepticalPrior, optional
        The sceptical prior of the probability beyond the MCID of the syntheses computed
        here (default ``SkepticalPrior()``); the report states it.

    Returns
    -------
    ReportDocument

    Raises
    ------
    InputError
        For a treatment without stored evidence (the message lists the available ones).
    """
    say = progress or (lambda _msg: None)
    base = evidence if isinstance(evidence, EvidenceBase) else read_evidence(evidence)
    table = mcid_table or MCIDTable.bundled()
    done = {s.treatment: s for s in syntheses or ()}
    synths = []
    for name in treatments:
        term = base.vocabulary.treatment(name)[0]
        if term not in done:
            say(f"{name}: judging the evidence")
            done[term] = synthesize(base, name, mcid_table=table, prior=prior)
        if done[term] not in synths:
            synths.append(done[term])
    terms = [s.treatment for s in synths]
    every = [a for s in synths for a in s.answers]
    parts = [treatment_part(s, base, progress=say,
                            network=network_section(active_networks(every, s.treatment)))
             for s in synths]
    rows = [r for s in synths for r in s.rows]
    say("checking claims")
    stated = _claims_for(list(claims) if claims is not None else article_claims(), base, terms)
    checks = check_claims(stated, base, mcid_table=table,
                          assessments={s.treatment: s.assessment for s in synths}) \
        if stated else []
    claims_note = ("" if stated else "No stated claims about "
                   f"{', '.join(_display_treatment(t) for t in terms)} are on file; check your "
                   "own with \"metaverdict claims check FILE\" or \"metaverdict report "
                   "TREATMENT --claims FILE\".")
    say("collecting references")
    refs = references(base, rows, extra_keys=[s for p in parts for f in p.findings
                                              for s in f.sources])
    title = "Evidence report: " + ", ".join(_display_treatment(t) for t in terms)
    sim = frozenset(base.simulated_sources)
    named = _simulated_names(base, refs)
    return ReportDocument(
        title=title, generated=(generated or date.today()).isoformat(), version=__version__,
        data_source=_data_source(base, rows, len(refs)),
        simulated=simulated_statement(named, base.left_out),
        secondary_rows=_secondary_rows(rows), parts=tuple(parts),
        claims=claim_rows(checks, sim), claims_note=claims_note, references=refs,
        simulated_sources=named, simulated_left_out=tuple(base.left_out),
        simulated_keys=tuple(base.simulated_sources),
        probability_note=probability_note(synths, prior))


def probability_note(synths: Sequence[Synthesis], prior: SkepticalPrior | None) -> str:
    """What the report says about its P(beyond MCID) column: the prior the answers used."""
    used = next((a.probability.prior for s in synths for a in s.answers if a.probability),
                prior or SkepticalPrior())
    return (f"P(beyond MCID): the posterior probability that the true effect is beyond the MCID "
            f"(benefit or harm) or within it, under a {used.describe()}, from the answer's own "
            "estimate and 95% CI (normal approximation); given for mean differences and SMDs "
            "with a CI and an MCID only. It is computed from the numbers as reported and "
            "inherits every bias the GRADE certainty rates down for: read it beside the "
            "certainty, never instead of it.")


_DERIVED = ("derived values (|SMD| bounds from P-values and group sizes, estimates pooled here "
            "from primary trials, SMDs re-expressed in points with a stated typical SD, "
            "approximate CIs of risk differences) are labelled as derived.")


def simulated_statement(simulated: Sequence[str], left_out: Sequence[str] = ()) -> str:
    """The header's statement of what is simulated.

    ``"Nothing is simulated ..."`` only when no included source is simulated; otherwise a
    warning that names the simulated sources (``simulated``: ``"key: citation"``).

    >>> simulated_statement([])[:47]
    'Nothing is simulated or imputed. Every estimate'
    >>> simulated_statement(["demo: SIMULATED: Demo trial."])[:60]
    'WARNING: this report includes SIMULATED data. 1 source (demo'
    """
    if not simulated:
        text = ("Nothing is simulated or imputed. Every estimate, CI and P-value was read from "
                "a source; " + _DERIVED)
        if left_out:
            text += (f" The store also holds {len(left_out)} simulated source(s) "
                     f"({', '.join(left_out)}), left out of this report (--include-simulated "
                     "puts them in, labelled SIMULATED).")
        return text
    n = len(simulated)
    return (f"WARNING: this report includes SIMULATED data. {n} source{'s' if n > 1 else ''} "
            f"({'; '.join(simulated)}) hold{'s' if n == 1 else ''} numbers computed from "
            "simulated participant data, not from a real trial: they are labelled SIMULATED "
            "wherever they appear and are no evidence about the treatment. Every other "
            "estimate, CI and P-value was read from a source; " + _DERIVED)


def _simulated_names(base: EvidenceBase, refs: Sequence[Reference]) -> tuple[str, ...]:
    """``"key: citation"`` for each simulated source of the snapshot."""
    cites = {r.key: r.citation for r in refs}
    records = {str(rec["key"]): rec for rec in base.source_records}
    return tuple(f"{k}: {cites.get(k) or display_text(records.get(k, {}).get('citation')) or k}"
                 for k in base.simulated_sources)
