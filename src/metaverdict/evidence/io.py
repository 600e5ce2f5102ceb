"""CSV import and export of results (the ``studies.csv`` layout; see ``records``).

An import validates every row first and raises one :class:`~metaverdict.errors.InputError`
listing every problem as ``row N, column 'x': what is wrong, got 'value'``; it then writes all
rows in one transaction, so a failure anywhere writes nothing. ``export_csv`` writes the
original columns plus ``EXTRA_COLUMNS`` (normalisation choices), so that
``import_csv(export_csv(store))`` reproduces the store's results.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from metaverdict.errors import InputError
from metaverdict.evidence.models import Result, Source
from metaverdict.evidence.records import (
    CSV_COLUMNS,
    EXTRA_COLUMNS,
    REQUIRED_COLUMNS,
    ResultDraft,
    check_sources,
    validate_row,
)
from metaverdict.evidence.store import Store
from metaverdict.evidence.writer import write_drafts

MAX_LISTED_ERRORS = 50


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """Read a UTF-8 CSV (header row, standard quoting) into dicts of strings.

    Raises
    ------
    InputError
        If the file is not UTF-8, lacks a required column, names a column twice, or has a row
        with more fields than the header (rows are numbered from 1 = the first data row).
    OSError
        If the file cannot be opened.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _read_rows(csv.DictReader(f), path)
    except UnicodeDecodeError as exc:
        try:
            line = Path(path).read_bytes()[:exc.start].count(b"\n") + 1
        except OSError:
            line = 0
        raise InputError(f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte "
                         f"{exc.start}); save the file as UTF-8") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None


def _read_rows(reader: csv.DictReader[str], path: str | Path) -> list[dict[str, str]]:
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: missing required column(s) {', '.join(map(repr, missing))}"
                         f" (required: {', '.join(REQUIRED_COLUMNS)})")
    first: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in first:
            raise InputError(f"{path}: column {name!r} appears twice in the header (columns "
                             f"{first[name]} and {i}); keep one")
        first[name] = i
    rows = []
    for i, row in enumerate(reader, start=1):
        extra = row.pop(None, None)                  # type: ignore[call-overload]
        if extra:
            raise InputError(f"row {i}: {len(header) + len(extra)} fields but the header has "
                             f"{len(header)} columns (extra: {extra[:3]!r}); quote values "
                             "that contain a comma")
        rows.append(dict(row))
    return rows


def validate_rows(store: Store, rows: list[dict[str, Any]],
                  overrides: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None,
                  ) -> list[ResultDraft]:
    """Validate all rows (numbered from 1) and return drafts, or raise one InputError."""
    drafts, errors = [], []
    for i, raw in enumerate(rows, start=1):
        if overrides is not None:
            raw = {**raw, **overrides(i, raw)}
        draft, errs = validate_row(i, raw, store.vocabulary)
        errors.extend(errs)
        if draft is not None:
            drafts.append(draft)
    errors.extend(check_sources(drafts))
    if errors:
        shown = errors[:MAX_LISTED_ERRORS]
        more = len(errors) - len(shown)
        raise InputError(f"{len(errors)} problem(s) in the input; nothing was imported:\n"
                         + "\n".join(shown) + (f"\n... and {more} more" if more else ""))
    return drafts


def import_rows(store: Store, rows: list[dict[str, Any]],
                overrides: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None, *,
                new_sources: bool = False) -> int:
    """Validate then write rows in one transaction; returns the number of results written.

    Parameters
    ----------
    store : Store
    rows : list of dict
        Rows in the CSV layout (numbered from 1 in messages).
    overrides : callable, optional
        ``(row number, row) -> columns to replace`` before validation.
    new_sources : bool
        Every source_id must be new to the store (checked under the write lock, so that two
        imports of one source cannot both succeed); otherwise rows may add results to a stored
        source with the same citation, DOI, location, design and simulated flag.

    Raises
    ------
    InputError
        Listing every bad row; or, with ``new_sources``, naming a source_id the store already
        holds. Nothing is written.
    """
    drafts = validate_rows(store, rows, overrides)
    with store.transaction() as session:
        if new_sources:
            _check_new_sources(session, drafts)
        return write_drafts(session, drafts)


def _check_new_sources(session: Session, drafts: list[ResultDraft]) -> None:
    keys = list(dict.fromkeys(d.csv.source_id for d in drafts))
    stored = {k: n for k, n in session.execute(
        select(Source.key, func.count(Result.id)).outerjoin(Result, Result.source_id == Source.id)
        .where(Source.key.in_(keys)).group_by(Source.key))}
    if stored:
        key = next(k for k in keys if k in stored)
        raise InputError(f"source_id {key!r}: the store already holds this source "
                         f"({stored[key]} result(s)); nothing was imported (choose another "
                         "source id, or remove the stored source first)")


def import_csv(store: Store, path: str | Path) -> int:
    """Import a user's CSV of results (all or nothing).

    Parameters
    ----------
    store : Store
    path : str or Path
        CSV in the ``studies.csv`` layout. Required columns: ``REQUIRED_COLUMNS``; optional:
        the other ``CSV_COLUMNS`` and ``EXTRA_COLUMNS``.

    Returns
    -------
    int
        Number of results imported.

    Raises
    ------
    InputError
        Listing every bad row and column; nothing is written.
    """
    return import_rows(store, read_rows(path))


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def export_frame(store: Store) -> pd.DataFrame:
    """The store's results in the CSV layout (strings), in import order."""
    out = []
    for r in store.results():
        row = {
            "source_id": r.source_id, "citation": r.citation, "doi": r.doi, "design": r.design,
            "treatment": r.treatment_raw, "comparator": r.comparator_raw,
            "condition": r.condition_raw, "outcome": r.outcome_raw, "timepoint": r.timepoint_raw,
            "url_or_location": r.url_or_location, "kind": r.kind, "study": r.study,
            "comparator_name": r.comparator_name, "lower_is_better": r.lower_is_better,
        }
        for col in CSV_COLUMNS + EXTRA_COLUMNS:
            if col not in row:
                row[col] = getattr(r, col)
        out.append({c: _text(row[c]) for c in CSV_COLUMNS + EXTRA_COLUMNS})
    return pd.DataFrame(out, columns=list(CSV_COLUMNS + EXTRA_COLUMNS), dtype=str)


def export_csv(store: Store, path: str | Path) -> int:
    """Write all results to ``path`` (UTF-8, header, standard quoting); returns the row count."""
    frame = export_frame(store)
    frame.to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL)
    return len(frame)
