"""Every verdict the store supports: :func:`assess`, :func:`time_course`, and what the evidence
does not show.

"What the evidence does not show" is derived from the verdicts, per treatment and condition
(never hand-written):

* pain shows a significant benefit against sham/placebo, but no function result against
  sham/placebo is stored (function results, if any, are only against other comparators), or
  none shows a significant function benefit;
* function results exist only against active comparators (no sham/placebo control);
* for a condition with a pain benefit against sham/placebo: no long-term (> 26 weeks)
  result, or no significant long-term benefit against sham/placebo;
* an expert opinion about a condition with no trial results (opinion only), and, conversely,
  an opinion of "no research" where trial results exist.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from metaverdict._results import ResultMixin, format_table
from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.reader import EvidenceReader
from metaverdict.grade.body import Body
from metaverdict.grade.certainty import rate_certainty
from metaverdict.grade.mcid import MCIDTable
from metaverdict.synthesis.bodies import bodies_from_rows, mcid_for
from metaverdict.synthesis.evidence import treatment_rows
from metaverdict.verdict.record import Verdict
from metaverdict.verdict.rules import Direction
from metaverdict.verdict.verdicts import opinion_verdict, verdict_for

INERT = ("sham",)


class _VerdictSequence:
    """Iterating, ``len`` and indexing go over ``self.verdicts``."""

    verdicts: tuple[Verdict, ...]

    def __iter__(self):                                         # type: ignore[no-untyped-def]
        return iter(self.verdicts)

    def __len__(self) -> int:
        return len(self.verdicts)

    def __getitem__(self, i: int) -> Verdict:
        return self.verdicts[i]


@dataclass(frozen=True, repr=False)
class OpinionCheck(ResultMixin):
    """An expert opinion set against the store: ``trial_results`` counts the sources that
    report trial-based results for its treatment and condition (0: opinion only)."""

    expert: str
    claim: str
    treatment: str | None
    condition: str | None
    trial_results: int
    sources: tuple[str, ...]
    finding: str
    _repr_fields = ("expert", "condition", "trial_results")


@dataclass(frozen=True, repr=False)
class Assessment(_VerdictSequence, ResultMixin):
    """Verdicts for every claim in the store, opinions, and what the evidence does not show.

    Iterating over an Assessment yields its verdicts (so it can be used like a list).
    """

    verdicts: tuple[Verdict, ...]
    opinions: tuple[OpinionCheck, ...]
    not_shown: tuple[str, ...]
    _repr_fields = ()

    def frame(self) -> pd.DataFrame:
        """Summary-of-findings table as a pandas DataFrame (one row per verdict)."""
        return pd.DataFrame([v.row() for v in self.verdicts])

    def summary(self) -> str:
        """Plain-text summary of findings, then opinions and what is not shown."""
        rows = [[v.claim.treatment, v.claim.comparator, v.claim.condition, v.claim.outcome,
                 v.timepoint, v.effect[:48], v.level or "", v.category] for v in self.verdicts]
        out = [format_table(["treatment", "vs", "condition", "outcome", "time", "effect",
                             "certainty", "verdict"], rows)]
        out += ["", "Opinions:"] + [f"- {o.finding}" for o in self.opinions]
        out += ["", "What the evidence does not show:"] + [f"- {s}" for s in self.not_shown]
        return "\n".join(out)


@dataclass(frozen=True, repr=False)
class TimeCourse(_VerdictSequence, ResultMixin):
    """Verdicts for one treatment, condition and outcome ordered by day, and the gaps.

    ``gaps`` say which days inside a trial's follow-up have no result; iterating yields the
    verdicts.
    """

    verdicts: tuple[Verdict, ...]
    reported_days: tuple[float, ...]
    follow_up_days: float | None
    gaps: tuple[str, ...]
    _repr_fields = ("reported_days", "follow_up_days")

    def summary(self) -> str:
        """One line per verdict, then the gaps."""
        lines = [f"{v.timepoint:>32}  {v.label[:50]:50}  {v.category}  ({v.effect})"
                 for v in self.verdicts]
        return "\n".join(lines + [f"gap: {g}" for g in self.gaps])


def judge_bodies(bodies: list[Body], table: MCIDTable, *,
                 unknown_risk_of_bias: Literal["serious", "not serious"] = "serious"
                 ) -> list[Verdict]:
    """MCID, certainty and verdict for each body."""
    out = []
    for b in bodies:
        m = mcid_for(b, table)
        out.append(verdict_for(b, m, rate_certainty(b, m,
                                                    unknown_risk_of_bias=unknown_risk_of_bias)))
    return out


def _order(v: Verdict) -> tuple:
    return v.claim.key + (v.day if math.isfinite(v.day) else 1e12, v.label)


def assess(store: EvidenceReader, treatment: str | None = None,
           mcid_table: MCIDTable | None = None, *,
           condition: str | None = None,
           unknown_risk_of_bias: Literal["serious", "not serious"] = "serious") -> Assessment:
    """Verdicts for every claim in the store (optionally one treatment / condition).

    Parameters
    ----------
    store : EvidenceReader
        The evidence: a :class:`~metaverdict.evidence.Store` or a snapshot of one
        (:class:`~metaverdict.synthesis.EvidenceBase`).
    treatment, condition : str, optional
        Filters, as for ``store.results``; a treatment's rows include head-to-head rows where
        it is the comparator, mirrored (:func:`~metaverdict.synthesis.evidence.treatment_rows`).
    mcid_table : MCIDTable, optional
        Default: :meth:`MCIDTable.bundled`.
    unknown_risk_of_bias : {"serious", "not serious"}
        Assumption where no risk-of-bias information is stored.

    Returns
    -------
    Assessment
        Iterable over its verdicts (opinion-only verdicts included), with ``opinions`` and
        ``not_shown``.
    """
    table = mcid_table or MCIDTable.bundled()
    rows = treatment_rows(store, treatment) if treatment else store.results()
    if condition is not None:
        rows = [r for r in rows if r.condition.lower() == condition.lower()]
    verdicts = judge_bodies(bodies_from_rows(rows, table), table,
                            unknown_risk_of_bias=unknown_risk_of_bias)
    checks, opinion_only = [], []
    for op in store.opinions(treatment=treatment, condition=condition):
        found = store.results(treatment=op.treatment, condition=op.condition) if (
            op.treatment and op.condition) else []
        srcs = tuple(dict.fromkeys(r.source_id for r in found))
        if found:
            comps = sorted({r.comparator_class for r in found})
            finding = (f"{op.expert}: {op.claim!r} — NOT opinion only: {len(srcs)} "
                       f"source(s) report trial-based results for {op.treatment} in "
                       f"{op.condition} ({', '.join(srcs)}; comparators: {', '.join(comps)}), "
                       "though none tests this claim itself")
        else:
            finding = (f"{op.expert}: {op.claim!r} — opinion only: no trial result for "
                       f"{op.treatment} in {op.condition} is stored")
            opinion_only.append(opinion_verdict(op))
        checks.append(OpinionCheck(op.expert, op.claim, op.treatment, op.condition, len(srcs),
                                   srcs, finding))
    allv = sorted(verdicts, key=_order) + opinion_only
    return Assessment(tuple(allv), tuple(checks), tuple(not_shown(verdicts)))


def not_shown(verdicts: list[Verdict]) -> list[str]:
    """Statements of what the verdicts do not show (rules in the module docstring)."""
    by_tc: dict[tuple[str, str], list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_tc[(v.claim.treatment, v.claim.condition)].append(v)
    out = []
    for (t, c), vs in sorted(by_tc.items()):
        inert = [v for v in vs if v.claim.comparator in INERT]
        pain_benefit = [v for v in inert if v.claim.outcome == "pain"
                        and v.direction is Direction.BENEFIT and v.statistically_significant]
        func_any_other = sorted({v.claim.comparator for v in vs if v.claim.outcome == "function"
                                 and v.claim.comparator not in INERT})
        if not pain_benefit:
            if func_any_other and not any(v.claim.outcome == "function" for v in inert):
                out.append(f"{t} in {c}: no stored trial result compares function with sham or "
                           f"placebo (function results exist only against "
                           f"{', '.join(func_any_other)}).")
            continue
        srcs = ", ".join(sorted({s for v in pain_benefit for s in v.sources}))
        func_inert = [v for v in inert if v.claim.outcome == "function"]
        func_other = sorted({v.claim.comparator for v in vs if v.claim.outcome == "function"
                             and v.claim.comparator not in INERT})
        if not func_inert:
            tail = (f"function results exist only against {', '.join(func_other)}" if func_other
                    else "no function result is stored")
            out.append(f"{t} in {c}: pain benefit vs sham/placebo ({srcs}), but no stored "
                       f"trial result compares function with sham or placebo ({tail}).")
        elif not any(v.direction is Direction.BENEFIT and v.statistically_significant
                     for v in func_inert):
            out.append(f"{t} in {c}: pain benefit vs sham/placebo ({srcs}), but no "
                       "significant function benefit vs sham or placebo.")
        if not any(v.claim.window == "long" for v in vs):
            out.append(f"{t} in {c}: no result beyond 26 weeks (long term) is stored.")
        elif not any(v.claim.window == "long" and v.direction is Direction.BENEFIT
                     and v.statistically_significant for v in inert):
            out.append(f"{t} in {c}: no significant long-term (> 26 weeks) benefit vs sham or "
                       "placebo.")
    return out


def time_course(store: EvidenceReader, treatment: str, condition: str, outcome: str, *,
                comparator: str | None = None, mcid_table: MCIDTable | None = None) -> TimeCourse:
    """Verdicts for one treatment, condition and outcome, ordered by day, with the gaps
    (judged here; :func:`time_course_from` reuses verdicts already judged)."""
    table = mcid_table or MCIDTable.bundled()
    rows = [r for r in store.results(treatment=treatment, condition=condition)
            if comparator is None or r.comparator_class == comparator]
    mine = [r for r in rows if r.outcome_domain == outcome]
    verdicts = judge_bodies(bodies_from_rows(mine, table), table)
    return time_course_from(verdicts, rows, outcome)


def time_course_from(verdicts: Iterable[Verdict], rows: Iterable[ResultRow], outcome: str,
                     condition: str | None = None) -> TimeCourse:
    """A time course from verdicts already judged and the rows behind them.

    The verdicts kept are those for ``outcome`` (and ``condition``), ordered by day. A gap is
    a stretch of days inside the follow-up of a primary trial (the largest day any of its rows
    reaches) after its last single-day result for this outcome; source notes that say results
    were "not stated"/"not reported" are quoted.
    """
    rows = [r for r in rows if condition is None or r.condition == condition]
    verdicts = sorted((v for v in verdicts if v.body is not None and v.claim.outcome == outcome
                       and (condition is None or v.claim.condition == condition)),
                      key=lambda v: (v.day, v.label))
    gaps, days_all, follow = [], set(), None
    for study in sorted({r.study for r in rows if r.kind == "primary" and r.study}):
        srows = [r for r in rows if r.study == study]
        ends = [d for r in srows for d in (r.timepoint_days, r.timepoint_days_max) if d is not None]
        if not ends:
            continue
        follow_s = max(ends)
        follow = max(follow or 0.0, follow_s)
        days = sorted({r.timepoint_days for r in srows if r.outcome_domain == outcome
                       and r.timepoint_days is not None})
        days_all |= set(days)
        last = days[-1] if days else 0.0
        if last < follow_s:
            ranges = [f"{r.timepoint_raw!r} ({r.outcome_instrument})" for r in srows
                      if r.outcome_domain == outcome and r.timepoint_days is None]
            where = (f"; only the range result(s) {', '.join(ranges)} cover them" if ranges
                     else "")
            gaps.append(f"{study}: no {outcome} result for day {math.floor(last) + 1:g} to day "
                        f"{follow_s:g}, although follow-up ran to day {follow_s:g}{where}.")
        for r in srows:
            if (r.notes and re.search(r"not (stated|reported)", r.notes)
                    and r.outcome_domain == outcome):
                gaps.append(f"{study} (source note): {r.notes}")
    return TimeCourse(tuple(verdicts), tuple(sorted(days_all)), follow, tuple(dict.fromkeys(gaps)))
