"""Store rows -> bodies of evidence.

Rows are grouped by question (treatment, comparator class, condition, outcome domain, term:
see :mod:`metaverdict.synthesis.terms`); baseline rows are skipped. Within a question:

1. primary-trial rows with an estimate and SE on the same measure (and scale) from at least
   two different studies are pooled with ``meta_analysis(yi, vi, method="REML",
   test="knha")`` (one row per study: the first in import order), keeping the Wald z CI
   instead where the Hartung-Knapp CI is narrower (the ad hoc correction of Roever, Knapp &
   Friede 2015); a review row from the same source as the pooled trials is then not used
   again (its number is kept in the notes);
2. every other primary-trial row is a single-trial body;
3. every review row is a body of its own (reviews overlap, so they are never re-pooled);
   where one source reports the same result on two measures (MD and SMD), the one with an
   MCID is kept (a directly matched MCID before an assumed scale, then one with a CI).

Indirectness is declared from the comparator class (see :data:`CLASS_INDIRECTNESS`: mixed
controls, pooled comparison groups) and from a treatment label that pools the treatment with
another ("autologous blood or PRP"), the same way for every source. Numbers read from a
secondary summary are a *verification* flag, not indirectness.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from metaverdict.errors import InputError
from metaverdict.evidence.queries import ResultRow
from metaverdict.grade.body import Body, is_ratio
from metaverdict.grade.levels import Basis
from metaverdict.grade.mcid import MCID, MCIDMatch, MCIDTable
from metaverdict.models import meta_analysis
from metaverdict.synthesis.terms import term_of, terms

_SECONDARY = re.compile(r"secondary summary|news summary|news report|physiohub|"
                        r"critically appraised topic", re.I)
#: Indirectness declared by comparator class: a mixed control group answers a sham (or an
#: active-comparator) question only indirectly.
CLASS_INDIRECTNESS: dict[str, str] = {
    "sham-or-no-treatment": "mixed controls: the comparison group pools sham/placebo with no "
                            "treatment or a waiting list",
    "mixed": "the comparison group pools several comparator classes (active therapies with "
             "placebo, no treatment or add-on designs)",
}
SECONDARY_FLAG = "numbers read from a secondary summary, not the paper (see notes): verify"
_YEAR = re.compile(r"\b(19|20)\d{2}\b")


def claim_key(r: ResultRow, term: str | None = None) -> tuple[str, str, str, str, str]:
    """(treatment, comparator class, condition, outcome domain, term) of a row."""
    return (r.treatment, r.comparator_class, r.condition, r.outcome_domain,
            term if term is not None else term_of(r))


def indirectness(r: ResultRow) -> tuple[str, ...]:
    """Reasons a row answers its question only indirectly (see module docstring)."""
    out = []
    why = CLASS_INDIRECTNESS.get(r.comparator_class)
    if why:
        out.append(f"{why} ({r.comparator_name!r})")
    if " or " in r.treatment and r.treatment_family != r.treatment:
        out.append(f"the treatment pools {r.treatment!r}, not {r.treatment_family} alone")
    return tuple(out)


def verification(r: ResultRow) -> tuple[str, ...]:
    """Flags that the numbers need checking against the original source."""
    out = []
    if r.notes and _SECONDARY.search(r.notes):
        out.append(SECONDARY_FLAG)
    if r.data_problem:
        out.append(f"known data problem: {r.data_problem}")
    if r.notes and re.search(r"interval reported as .range", r.notes, re.I):
        out.append("the interval is reported as a 'range', not as a 95% CI: check before "
                   "relying on its width")
    return tuple(out)


def source_year(r: ResultRow) -> int | None:
    """The first year named in the citation (publication year), or None."""
    m = _YEAR.search(r.citation or "")
    return int(m.group(0)) if m else None


def _notes(r: ResultRow) -> tuple[str, ...]:
    out = [p.strip() for p in (r.derivation or "").split(";") if p.strip().startswith("warning")]
    if r.harmonised_measure and "as reported" in r.harmonised_measure:
        out.append(f"measure unclear in the source ({r.harmonised_measure})")
    return tuple(out)


def _label(r: ResultRow) -> str:
    inst = "" if r.outcome_instrument in ("unspecified", "") else r.outcome_instrument
    parts = [p for p in (inst, r.timepoint_raw) if p]
    return f"{', '.join(parts)} [{r.source_id}]"


def reported_text(r: ResultRow) -> str | None:
    """The numbers as the source reported them (None for a mirrored head-to-head row, whose
    source reports the other side)."""
    if "mirrored" in (r.sign_reason or ""):
        return None
    if r.estimate is not None:
        if r.sign_convention != "comparator-minus-treatment":
            return None
        text = f"{r.effect_measure} {r.estimate:g}"
        if r.ci_lower is not None and r.ci_upper is not None:
            text += f" (95% CI {r.ci_lower:g} to {r.ci_upper:g})"
        return text
    if r.mean_treatment and r.mean_control:
        return f"{r.mean_treatment} vs {r.mean_control} ({r.effect_measure}, treatment vs " \
               "comparator)"
    return None


def body_from_row(r: ResultRow, term: str | None = None) -> Body:
    """A single-trial or review body from one row."""
    basis = Basis.SINGLE_TRIAL if r.kind == "primary" else Basis.REVIEW
    cert = r.certainty
    nnt = r.measure == "NNT"
    return Body(
        treatment=r.treatment, comparator=r.comparator_class, condition=r.condition,
        outcome=r.outcome_domain, window=claim_key(r, term)[4], basis=basis, label=_label(r),
        comparator_name=r.comparator_name, outcome_instrument=r.outcome_instrument,
        outcome_scale=r.outcome_scale, lower_is_better=r.lower_is_better,
        timepoint_raw=r.timepoint_raw, timepoint_days=r.timepoint_days,
        timepoint_days_min=r.timepoint_days_min, timepoint_days_max=r.timepoint_days_max,
        measure="NNT" if nnt else r.harmonised_measure,
        estimate=r.estimate if nnt else r.harmonised_estimate,
        ci_lower=r.ci_lower if nnt else r.harmonised_ci_lower,
        ci_upper=r.ci_upper if nnt else r.harmonised_ci_upper,
        k=r.k_studies if basis is Basis.REVIEW else 1,
        n_treatment=r.n_treatment, n_control=r.n_control, i2=r.i2,
        p_relation=r.p_relation, p_number=r.p_number,
        smd_bound_relation=r.smd_bound_relation, smd_bound=r.smd_bound,
        direction_reported=r.direction_reported,
        risk_of_bias=(cert,) if cert else (),
        review_certainty=cert if basis is Basis.REVIEW else None,
        indirectness=indirectness(r), verification=verification(r),
        stated_mid=r.stated_mid, stated_mid_text=r.stated_mid_text, year=source_year(r),
        reported=reported_text(r), result_ids=(r.id,), source_ids=(r.source_id,),
        citations=(r.citation,), dois=tuple(d for d in (r.doi,) if d), notes=_notes(r))


def _se(r: ResultRow) -> float | None:
    return r.se if r.se is not None and r.se > 0 else None


def pool_rows(rows: list[ResultRow], term: str | None = None) -> Body:
    """Pool primary-trial rows (one per study) with REML and Hartung-Knapp."""
    yi = np.array([r.harmonised_estimate for r in rows], dtype=float)
    se = np.array([_se(r) for r in rows], dtype=float)
    with np.errstate(over="ignore"):
        vi = se * se
    if not np.all(np.isfinite(vi)):
        bad = rows[int(np.flatnonzero(~np.isfinite(vi))[0])]
        raise InputError(f"source {bad.source_id!r}, result {bad.id}: standard error "
                         f"{float(se[~np.isfinite(vi)][0]):.3g} is too large to pool (its "
                         "square overflows); check the stored CI or SE")
    labels = [r.study or r.source_id for r in rows]
    res = meta_analysis(yi, vi, method="REML", test="knha", labels=labels)  # one pass each
    wald = meta_analysis(yi, vi, method="REML", test="z", labels=labels)
    lo, hi, how = float(res.ci_lower), float(res.ci_upper), "Hartung-Knapp CI"
    if hi - lo < float(wald.ci_upper - wald.ci_lower):
        # HK intervals can be narrower than Wald's when the studies agree closely; the ad hoc
        # correction keeps the wider one (Roever, Knapp & Friede 2015, BMC Med Res Methodol 15:99).
        lo, hi, how = float(wald.ci_lower), float(wald.ci_upper), (
            "Wald z CI (the Hartung-Knapp CI was narrower; ad hoc correction)")
    first = rows[0]
    n1 = [r.n_treatment for r in rows]
    n2 = [r.n_control for r in rows]
    known = all(n is not None for n in n1 + n2)
    return Body(
        treatment=first.treatment, comparator=first.comparator_class, condition=first.condition,
        outcome=first.outcome_domain, window=claim_key(first, term)[4],
        basis=Basis.POOLED_TRIALS,
        label=f"{len(rows)} trials pooled ({', '.join(labels)}), {first.timepoint_raw}",
        comparator_name=first.comparator_name, outcome_instrument=first.outcome_instrument,
        outcome_scale=first.outcome_scale, lower_is_better=first.lower_is_better,
        timepoint_raw=first.timepoint_raw, timepoint_days=first.timepoint_days,
        timepoint_days_min=first.timepoint_days_min, timepoint_days_max=first.timepoint_days_max,
        measure=first.harmonised_measure, estimate=float(res.estimate),
        ci_lower=lo, ci_upper=hi,
        pi_lower=float(res.pi_lower), pi_upper=float(res.pi_upper), k=res.k,
        n_treatment=sum(n1) if known else None,                     # type: ignore[arg-type]
        n_control=sum(n2) if known else None,                       # type: ignore[arg-type]
        i2=float(res.i2),
        risk_of_bias=tuple(r.certainty for r in rows if r.certainty),
        indirectness=tuple(dict.fromkeys(x for r in rows for x in indirectness(r))),
        verification=tuple(dict.fromkeys(x for r in rows for x in verification(r))),
        year=max((y for y in map(source_year, rows) if y is not None), default=None),
        result_ids=tuple(r.id for r in rows), source_ids=tuple(dict.fromkeys(
            r.source_id for r in rows)), citations=tuple(dict.fromkeys(r.citation for r in rows)),
        dois=tuple(dict.fromkeys(r.doi for r in rows if r.doi)),
        notes=(f"pooled here: REML, {how}, k = {res.k}",), meta=res)


def mcid_for(body: Body, table: MCIDTable) -> MCIDMatch | None:
    """The MCID a body is judged against: the trial's own stated minimal important difference
    (on the body's measure) where stored, else the table's (the SMD MCID for an |SMD| bound;
    none for surrogate outcomes)."""
    if body.stated_mid is not None and body.estimate is not None and not is_ratio(body.measure):
        entry = MCID(body.outcome, "trial's own", (body.measure or "MD").split(" ")[0],
                     body.stated_mid, f"points ({body.outcome_instrument})",
                     f"the trial's own: {body.stated_mid_text or 'stated by the trial'} "
                     f"[{', '.join(body.source_ids)}]", body.year, None,
                     "stated by the trial", "")
        return MCIDMatch(entry, entry.measure, body.stated_mid, None)
    if body.estimate is None:
        return table.lookup(body.outcome, "SMD") if body.smd_bound is not None else None
    return table.lookup(body.outcome, body.measure, scale=body.outcome_scale,
                        instrument=body.outcome_instrument,
                        values=(body.estimate, body.ci_lower, body.ci_upper))


def _poolable(rows: list[ResultRow]) -> tuple[list[ResultRow], list[ResultRow]]:
    groups: dict[tuple[str, str], list[ResultRow]] = defaultdict(list)
    for r in rows:
        if r.harmonised_estimate is not None and _se(r) and r.harmonised_measure in ("SMD", "MD"):
            scale = r.outcome_scale if r.harmonised_measure == "MD" else "*"
            groups[(r.harmonised_measure, scale)].append(r)
    for group in groups.values():
        per_study: dict[str, ResultRow] = {}
        for r in group:
            per_study.setdefault(r.study or r.source_id, r)
        if len(per_study) >= 2:
            used = list(per_study.values())
            return used, [r for r in rows if r not in used]
    return [], rows


def _prefer_measures(rows: list[ResultRow], table: MCIDTable) -> tuple[list[ResultRow], list[str]]:
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[(r.source_id, r.timepoint_raw, r.outcome_instrument, r.comparator_name)].append(r)
    keep, notes = [], []
    for group in groups.values():
        measures = {r.harmonised_measure for r in group}
        if len(measures) < 2:
            keep += group
            continue

        def rank(r: ResultRow) -> tuple[int, int]:
            m = mcid_for(body_from_row(r), table)
            return (0 if m is not None and not m.assumption else 1 if m is not None else 2,
                    0 if r.harmonised_ci_lower is not None and r.harmonised_ci_upper is not None
                    else 1)
        best = min(group, key=rank)
        keep += [r for r in group if r.harmonised_measure == best.harmonised_measure]
        for r in group:
            if r.harmonised_measure != best.harmonised_measure:
                notes.append(f"{r.source_id}: also reported as {r.harmonised_measure} "
                             f"{r.harmonised_estimate} ({r.harmonised_ci_lower} to "
                             f"{r.harmonised_ci_upper}); {best.harmonised_measure} used")
    return sorted(keep, key=lambda r: r.position), notes


def usable(r: ResultRow) -> bool:
    """False for rows kept out of verdicts: baseline values, known data problems (until
    verified) and results that are evidence about another treatment (``evidence_about``)."""
    return r.timepoint_window != "baseline" and not r.data_problem and not r.evidence_about


def bodies_from_rows(rows: Iterable[ResultRow], mcid_table: MCIDTable | None = None) -> list[Body]:
    """Bodies of evidence from store rows (rules in the module docstring); rows that are not
    :func:`usable` are left out."""
    table = mcid_table or MCIDTable.bundled()
    rows = [r for r in rows if usable(r)]
    term = terms(rows)
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[claim_key(r, term[r.id])].append(r)
    bodies: list[Body] = []
    for group in groups.values():
        primary = [r for r in group if r.kind == "primary"]
        pooled, single = _poolable(primary)
        pooled_sources = {r.source_id for r in pooled}
        if pooled:
            body = pool_rows(pooled, term[pooled[0].id])
            same = [r for r in group if r.kind == "review" and r.source_id in pooled_sources]
            extra = tuple(f"the source's own pooled result ({r.harmonised_measure} "
                          f"{r.harmonised_estimate}, 95% CI {r.harmonised_ci_lower} to "
                          f"{r.harmonised_ci_upper}) is not used twice" for r in same)
            bodies.append(replace(body, notes=body.notes + extra))
        bodies += [body_from_row(r, term[r.id]) for r in single]
        reviews = [r for r in group if r.kind == "review" and r.source_id not in pooled_sources]
        kept, notes = _prefer_measures(reviews, table)
        for r in kept:
            b = body_from_row(r, term[r.id])
            mine = tuple(n for n in notes if n.startswith(r.source_id + ":"))
            if mine:
                b = replace(b, notes=b.notes + mine)
            bodies.append(b)
    return bodies
