"""Terms of follow-up for the questions: ``immediate`` (<= 1 week), ``short`` (<= 12 weeks /
3 months), ``medium`` (<= 6 months), ``long`` (> 6 months), and a trial's own visit days.

A result's term is read from its day count (``days``, else the end of its range,
``days_max``), else from the window its label was classified into
(:mod:`metaverdict.evidence.timepoints`: "short term", "mid-term" ...); "not stated" or
"overall" give ``unspecified``. A primary trial measured on several single days keeps those
days as its own timepoints (``day 1``, ``day 2`` ...): a time course is not collapsed into
one term.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.timepoints import parse_timepoint

TERMS: tuple[str, ...] = ("immediate", "short", "medium", "long", "unspecified")
#: Upper day bounds of the terms (1 week, 3 months = 92 days, 6 months = 183 days).
TERM_MAX_DAYS: tuple[tuple[str, float], ...] = (("immediate", 7.0), ("short", 92.0),
                                                ("medium", 183.0))
_WINDOW_TERM = {"immediate": "immediate", "short": "short", "medium": "medium", "long": "long"}


def term_of_days(days: float) -> str:
    """The term of a day count (see the module docstring)."""
    for term, limit in TERM_MAX_DAYS:
        if days <= limit:
            return term
    return "long"


def term_of(row: ResultRow) -> str:
    """The term of one stored result (its own visit days are handled by :func:`terms`)."""
    for d in (row.timepoint_days, row.timepoint_days_max):
        if d is not None:
            return term_of_days(float(d))
    return _WINDOW_TERM.get(row.timepoint_window, "unspecified")


def visit_label(row: ResultRow) -> str:
    """A trial's own visit as it reports it (``day 1``, ``4 weeks``); ``days 1-7`` for a
    range of days; else the raw timepoint."""
    if row.timepoint_days is not None:
        raw = row.timepoint_raw.strip()
        return raw if re.fullmatch(r"\d+(\.\d+)? (weeks?|months?|years?)", raw) else \
            f"day {row.timepoint_days:g}"
    if row.timepoint_days_min is not None and row.timepoint_days_max is not None:
        return f"days {row.timepoint_days_min:g}-{row.timepoint_days_max:g}"
    return row.timepoint_raw


def visit_days(term: str) -> float | None:
    """A day count to order a trial's visits by (``day 2`` -> 2, ``4 weeks`` -> 28; a range
    ``days 1-7`` after its last day, 7.5), else None for a term."""
    if term in TERMS:
        return None
    p = parse_timepoint(term)
    if p.days is not None:
        return p.days
    return None if p.days_max is None else p.days_max + 0.5


def terms(rows: Iterable[ResultRow]) -> dict[int, str]:
    """Term per result id: a primary trial with single-day results on at least two days
    (for one outcome domain) keeps its visits (``day N``); everything else gets its term."""
    rows = list(rows)
    days: dict[tuple[str, str], set[float]] = {}
    for r in rows:
        if r.kind == "primary" and r.timepoint_days is not None:
            days.setdefault((r.study or r.source_id, r.outcome_domain), set()).add(
                float(r.timepoint_days))
    out = {}
    for r in rows:
        visits = days.get((r.study or r.source_id, r.outcome_domain), set())
        out[r.id] = visit_label(r) if r.kind == "primary" and len(visits) >= 2 else term_of(r)
    return out
