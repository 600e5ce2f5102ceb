"""Store rows -> bodies of evidence.

Rows are grouped by claim (treatment, comparator kind, condition, outcome domain, window);
baseline rows are skipped. Within a claim:

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

Indirectness is declared from the data: comparators that pool different kinds ("sham or no
treatment", "mixed"), add-on designs, and numbers read from a secondary summary.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from metaverdict.evidence.queries import ResultRow
from metaverdict.grade.body import Body
from metaverdict.grade.mcid import MCIDMatch, MCIDTable

_SECONDARY = re.compile(r"secondary summary|news summary|news report|physiohub|"
                        r"critically appraised topic", re.I)
_INERT = re.compile(r"sham|placebo", re.I)


def claim_key(r: ResultRow) -> tuple[str, str, str, str, str]:
    """(treatment, comparator kind, condition, outcome domain, window) of a row."""
    return (r.treatment, r.comparator_kind, r.condition, r.outcome_domain, r.timepoint_window)


def indirectness(r: ResultRow) -> tuple[str, ...]:
    """Reasons a row answers its claim only indirectly (see module docstring)."""
    out = []
    name = r.comparator_name or ""
    parts = [p.strip() for p in re.split(r"\bor\b|/|;|,", name) if p.strip()]
    if "add-on" in name.lower():
        out.append(f"add-on design: comparator is {name!r}")
    elif "mixed" in name.lower() or (len(parts) > 1 and any(_INERT.search(p) for p in parts)
                                     and not all(_INERT.search(p) for p in parts)):
        out.append(f"comparator pools different kinds ({name!r}), read as {r.comparator_kind!r}")
    elif len(parts) > 1 and r.comparator_kind == "other-active" and re.search(
            r"no intervention|no treatment", name, re.I):
        out.append(f"comparator pools active and no treatment ({name!r})")
    if r.notes and _SECONDARY.search(r.notes):
        out.append("numbers read from a secondary summary, not the paper (see notes)")
    return tuple(out)


def _notes(r: ResultRow) -> tuple[str, ...]:
    out = [p.strip() for p in (r.derivation or "").split(";") if p.strip().startswith("warning")]
    if r.harmonised_measure and "as reported" in r.harmonised_measure:
        out.append(f"measure unclear in the source ({r.harmonised_measure})")
    return tuple(out)


def _label(r: ResultRow) -> str:
    inst = "" if r.outcome_instrument in ("unspecified", "") else r.outcome_instrument
    parts = [p for p in (inst, r.timepoint_raw) if p]
    return f"{', '.join(parts)} [{r.source_id}]"


def body_from_row(r: ResultRow) -> Body:
    """A single-trial or review body from one row."""
    basis = "single trial" if r.kind == "primary" else "review pooled result"
    cert = r.certainty
    return Body(
        treatment=r.treatment, comparator=r.comparator_kind, condition=r.condition,
        outcome=r.outcome_domain, window=r.timepoint_window, basis=basis, label=_label(r),
        comparator_name=r.comparator_name, outcome_instrument=r.outcome_instrument,
        outcome_scale=r.outcome_scale, lower_is_better=r.lower_is_better,
        timepoint_raw=r.timepoint_raw, timepoint_days=r.timepoint_days,
        timepoint_days_min=r.timepoint_days_min, timepoint_days_max=r.timepoint_days_max,
        measure=r.harmonised_measure, estimate=r.harmonised_estimate,
        ci_lower=r.harmonised_ci_lower, ci_upper=r.harmonised_ci_upper,
        k=r.k_studies if basis == "review pooled result" else 1,
        n_treatment=r.n_treatment, n_control=r.n_control, i2=r.i2,
        p_relation=r.p_relation, p_number=r.p_number,
        smd_bound_relation=r.smd_bound_relation, smd_bound=r.smd_bound,
        direction_reported=r.direction_reported,
        risk_of_bias=(cert,) if cert else (),
        review_certainty=cert if basis == "review pooled result" else None,
        indirectness=indirectness(r), result_ids=(r.id,), source_ids=(r.source_id,),
        citations=(r.citation,), dois=tuple(d for d in (r.doi,) if d), notes=_notes(r))


def _se(r: ResultRow) -> float | None:
    return r.se if r.se is not None and r.se > 0 else None


def pool_rows(rows: list[ResultRow]) -> Body:
    """Pool primary-trial rows (one per study) with REML and Hartung-Knapp."""
    from metaverdict import meta_analysis

    yi = np.array([r.harmonised_estimate for r in rows], dtype=float)
    vi = np.array([_se(r) ** 2 for r in rows], dtype=float)        # type: ignore[operator]
    labels = [r.study or r.source_id for r in rows]
    res = meta_analysis(yi, vi, method="REML", test="knha", labels=labels)
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
        treatment=first.treatment, comparator=first.comparator_kind, condition=first.condition,
        outcome=first.outcome_domain, window=first.timepoint_window,
        basis="pooled primary trials",
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
        result_ids=tuple(r.id for r in rows), source_ids=tuple(dict.fromkeys(
            r.source_id for r in rows)), citations=tuple(dict.fromkeys(r.citation for r in rows)),
        dois=tuple(dict.fromkeys(r.doi for r in rows if r.doi)),
        notes=(f"pooled here: REML, {how}, k = {res.k}",), meta=res)


def mcid_for(body: Body, table: MCIDTable) -> MCIDMatch | None:
    """The MCID a body is judged against (SMD MCID for an |SMD| bound)."""
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


def bodies_from_rows(rows: Iterable[ResultRow], mcid_table: MCIDTable | None = None) -> list[Body]:
    """Bodies of evidence from store rows (rules in the module docstring)."""
    table = mcid_table or MCIDTable.bundled()
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        if r.timepoint_window != "baseline":
            groups[claim_key(r)].append(r)
    bodies: list[Body] = []
    for group in groups.values():
        primary = [r for r in group if r.kind == "primary"]
        pooled, single = _poolable(primary)
        pooled_sources = {r.source_id for r in pooled}
        if pooled:
            body = pool_rows(pooled)
            same = [r for r in group if r.kind == "review" and r.source_id in pooled_sources]
            extra = tuple(f"the source's own pooled result ({r.harmonised_measure} "
                          f"{r.harmonised_estimate}, 95% CI {r.harmonised_ci_lower} to "
                          f"{r.harmonised_ci_upper}) is not used twice" for r in same)
            from dataclasses import replace
            bodies.append(replace(body, notes=body.notes + extra))
        bodies += [body_from_row(r) for r in single]
        reviews = [r for r in group if r.kind == "review" and r.source_id not in pooled_sources]
        kept, notes = _prefer_measures(reviews, table)
        for r in kept:
            b = body_from_row(r)
            mine = tuple(n for n in notes if n.startswith(r.source_id + ":"))
            if mine:
                from dataclasses import replace
                b = replace(b, notes=b.notes + mine)
            bodies.append(b)
    return bodies
