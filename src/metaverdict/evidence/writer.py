"""Write validated drafts into a session (get-or-create of the vocabulary rows).

Called inside one transaction by :func:`metaverdict.evidence.io.import_rows`; raises
:class:`~metaverdict.errors.InputError` when a row disagrees with what the store already holds
(e.g. the same ``source_id`` with another citation), so that the whole import rolls back.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from metaverdict.errors import InputError
from metaverdict.evidence.models import (
    Comparator,
    Condition,
    OutcomeDomain,
    Result,
    RiskOfBias,
    Source,
    Study,
    Timepoint,
    Treatment,
)
from metaverdict.evidence.records import SOURCE_FIELDS, ResultDraft, is_pedro, source_value


class _Cache:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.memo: dict[tuple[Any, ...], Any] = {}

    def get(self, model: type, key: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
        memo_key = (model, *sorted(key.items()))
        if memo_key in self.memo:
            return self.memo[memo_key]
        obj = self.s.scalars(select(model).filter_by(**key)).first()
        if obj is None:
            obj = model(**key, **(extra or {}))
            self.s.add(obj)
            self.s.flush()
        self.memo[memo_key] = obj
        return obj


def _source(c: _Cache, d: ResultDraft) -> Source:
    r = d.csv
    values = {col: source_value(r, col) for col in SOURCE_FIELDS}
    src = c.get(Source, {"key": r.source_id}, values)
    for col, mine in values.items():
        if getattr(src, col) != mine:
            raise InputError(f"row {d.row}, column {col!r}: the store already holds source_id "
                             f"{r.source_id!r} with {col} {getattr(src, col)!r}, got {mine!r}")
    return src


def _outcome(c: _Cache, d: ResultDraft) -> OutcomeDomain:
    o = d.outcome
    obj = c.get(OutcomeDomain, {"domain": o.domain, "instrument": o.instrument, "scale": o.scale},
                {"lower_is_better": o.lower_is_better, "direction_basis": o.basis})
    if obj.lower_is_better != o.lower_is_better:
        raise InputError(f"row {d.row}, column 'outcome': the store records {o.instrument!r} "
                         f"with lower_is_better={obj.lower_is_better}, got {o.lower_is_better}")
    return obj


def _study(c: _Cache, d: ResultDraft, src: Source) -> Study | None:
    if d.kind != "primary" or d.study is None:
        return None
    study = c.get(Study, {"source_id": src.id, "label": d.study}, {"design": "rct"})
    if is_pedro(d.csv.certainty) and study.risk_of_bias is None:
        c.s.add(RiskOfBias(study=study, tool="PEDro", score_text=d.csv.certainty))
        c.s.flush()
    return study


def write_drafts(session: Session, drafts: list[ResultDraft]) -> int:
    """Add the drafts as results (in order); returns the number written."""
    c = _Cache(session)
    position = (session.scalar(select(func.max(Result.position))) or 0) + 1
    for d in drafts:
        r = d.csv
        src = _source(c, d)
        tp = d.timepoint
        result = Result(
            position=position, kind=d.kind, source=src, study=_study(c, d, src),
            treatment=c.get(Treatment, {"term": d.treatment_term}, {"family": d.treatment_family}),
            comparator=c.get(Comparator, {"kind": d.comparator_kind, "name": d.comparator_name}),
            condition=c.get(Condition, {"term": d.condition_term}, {"body_region": d.body_region}),
            outcome=_outcome(c, d),
            timepoint=c.get(Timepoint, {"raw": tp.raw}, {
                "days": tp.days, "days_min": tp.days_min, "days_max": tp.days_max,
                "window": tp.window, "note": tp.note}),
            treatment_raw=r.treatment, comparator_raw=r.comparator, condition_raw=r.condition,
            outcome_raw=r.outcome, timepoint_raw=r.timepoint, effect_measure=r.effect_measure,
            measure=d.measure, estimate=r.estimate, ci_lower=r.ci_lower, ci_upper=r.ci_upper,
            n_treatment=r.n_treatment, n_control=r.n_control, mean_treatment=r.mean_treatment,
            sd_treatment=r.sd_treatment, mean_control=r.mean_control, sd_control=r.sd_control,
            k_studies=r.k_studies, i2=r.i2, certainty=r.certainty, p_value=r.p_value,
            direction_reported=r.direction_reported, direction_reason=r.direction_reason,
            verbatim_quote=r.verbatim_quote, notes=r.notes,
            comparator_class=d.comparator_class, data_problem=r.data_problem,
            evidence_about=r.evidence_about, stated_mid=r.stated_mid,
            stated_mid_text=r.stated_mid_text, **d.values)
        session.add(result)
        position += 1
    session.flush()
    return len(drafts)
