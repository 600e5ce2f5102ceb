"""Editors' changes to the evidence, through the store's own validation, audited.

Every change goes through :func:`metaverdict.evidence.io.validate_rows` (the checks of
``metaverdict evidence import``: each error names its row and column, nothing is written if
one row fails) and :func:`metaverdict.evidence.writer.write_drafts`, inside one
:meth:`~metaverdict.evidence.Store.transaction` that also writes the audit entry, so a
change and its record are committed together or not at all. Two editors never lose a write:
the store serialises writers (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock), and an
edit names the version of the result it started from (:func:`result_version`), so an edit of a
result that someone else changed in the meantime is refused (:class:`EditConflict`) instead
of overwriting theirs.

After a change, :func:`recompute` reads the store again (a new
:class:`~metaverdict.web.state.Snapshot`), compares every answer with those before the change
(:func:`metaverdict.web.changes.answer_changes`) and stores the comparison with the audit
entry.

>>> from metaverdict.evidence import open_store
>>> from metaverdict.web.accounts import add_user
>>> with open_store("sqlite://", seed=False) as store:
...     ada = add_user(store, "ada", "correct horse battery", "editor")
...     edit = add_study(store, {
...         "source_id": "smith2024", "citation": "Smith 2024", "design": "rct",
...         "url_or_location": "https://example.org/smith", "treatment": "dry needling",
...         "comparator": "sham", "condition": "neck pain", "outcome": "pain (VAS, 0-10)",
...         "timepoint": "4 weeks", "effect_measure": "MD", "estimate": "-1.1",
...         "ci_lower": "-2.0", "ci_upper": "-0.2", "verbatim_quote": "MD -1.1"}, ada)
>>> edit.because
'trial smith2024 was added (pain (VAS, 0-10), 4 weeks)'
"""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from metaverdict.errors import InputError
from metaverdict.evidence.io import read_rows, validate_rows
from metaverdict.evidence.models import Result, Source
from metaverdict.evidence.queries import ResultRow
from metaverdict.evidence.records import CSV_COLUMNS, EXTRA_COLUMNS
from metaverdict.evidence.store import Store
from metaverdict.evidence.writer import write_drafts
from metaverdict.web.accounts import Account, audit, record_changes
from metaverdict.web.changes import AnswerChange, answer_changes

#: The source's own fields (shared by all its results).
SOURCE_FIELDS: tuple[str, ...] = ("source_id", "citation", "doi", "design", "url_or_location")
#: A result's fields, as the forms show them (the CSV layout's other columns).
RESULT_FIELDS: tuple[str, ...] = tuple(c for c in CSV_COLUMNS + EXTRA_COLUMNS
                                       if c not in SOURCE_FIELDS)
#: The largest CSV upload accepted (bytes); the web app enforces it on every request body.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
_ROW_COLUMN = re.compile(r"^row 1, column ")


class EditConflict(InputError):
    """The result was changed by someone else since the editor opened it."""


class NotFound(InputError):
    """The study or result to change is not stored."""


@dataclass(frozen=True)
class Edit:
    """A committed change: its audit entry, what it was in words, and what it touched."""

    entry_id: int
    action: str
    because: str
    source_key: str
    result_ids: tuple[int, ...]


def form_errors(exc: InputError) -> list[str]:
    """An import error as one message per problem; a single row's ``row 1, column 'x'`` reads
    ``field 'x'`` (a form has one row)."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) > 1 and "nothing was imported" in lines[0]:
        lines = lines[1:]
    return [_ROW_COLUMN.sub("field ", ln) for ln in lines]


def _clean(fields: Mapping[str, Any]) -> dict[str, str]:
    """The submitted fields of the CSV layout, as stripped strings (others are ignored)."""
    known = set(CSV_COLUMNS + EXTRA_COLUMNS)
    return {k: str(v).strip() for k, v in fields.items() if k in known and v is not None}


def _source_fields(store: Store, key: str) -> dict[str, str]:
    with store.session() as s:
        src = s.scalars(select(Source).where(Source.key == key)).first()
        if src is None:
            raise NotFound(f"study {key!r}: not stored")
        return {"source_id": src.key, "citation": src.citation, "doi": src.doi or "",
                "design": src.design, "url_or_location": src.url_or_location}


def _design_word(design: str) -> str:
    return "trial" if design == "rct" else "review"


def _taken(key: str) -> InputError:
    return InputError(f"row 1, column 'source_id': study {key!r} is already stored; add a "
                      "result to it instead")


def _write(store: Store, rows: list[dict[str, str]], who: Account, action: str, target: str,
           because: str, key: str, *, new_source: bool = False) -> Edit:
    drafts = validate_rows(store, rows)              # InputError naming row and column
    with store.transaction() as s:
        # checked again under the write lock: two editors adding the same study at once
        # cannot both succeed
        if new_source and s.scalar(select(Source.id).where(Source.key == key)) is not None:
            raise _taken(key)
        before = s.scalar(select(func.max(Result.id))) or 0
        write_drafts(s, drafts)
        ids = tuple(s.scalars(select(Result.id).where(Result.id > before)
                              .order_by(Result.id)))
        entry = audit(s, who, action, target, {"rows": [{k: v for k, v in r.items() if v}
                                                         for r in rows],
                                                "result_ids": list(ids)})
        return Edit(entry.id, action, because, key, ids)


def add_study(store: Store, fields: Mapping[str, Any], who: Account) -> Edit:
    """Add a study (a new source) with its first result.

    Raises
    ------
    InputError
        Naming the field at fault (``row 1, column 'x'``), or when the key is taken.
    """
    row = _clean(fields)
    key = row.get("source_id", "")
    if key:
        with store.session() as s:
            if s.scalar(select(Source.id).where(Source.key == key)) is not None:
                raise _taken(key)
    word = _design_word(row.get("design", ""))
    because = (f"{word} {key} was added ({row.get('outcome', '')}, "
               f"{row.get('timepoint', '')})")
    return _write(store, [row], who, "study-add", f"study {key}", because, key,
                  new_source=True)


def add_results(store: Store, key: str, rows: list[Mapping[str, Any]], who: Account) -> Edit:
    """Add results to a stored study (its source fields are taken from the store).

    Raises
    ------
    NotFound
        For a study that is not stored.
    InputError
        Naming the row and column at fault; nothing is written.
    """
    src = _source_fields(store, key)
    full = [{**_clean(r), **src} for r in rows]
    what = "; ".join(f"{r.get('outcome', '')}, {r.get('timepoint', '')}" for r in full[:3])
    n = len(full)
    because = (f"{'a result' if n == 1 else f'{n} results'} of {_design_word(src['design'])} "
               f"{key} {'was' if n == 1 else 'were'} added ({what}"
               + (", ..." if n > 3 else "") + ")")
    return _write(store, full, who, "result-add", f"study {key}", because, key)


def import_upload(store: Store, data: bytes, filename: str, who: Account) -> Edit:
    """Import an uploaded CSV (the ``studies.csv`` layout) as ``metaverdict evidence import``
    does: every row validated, all rows written in one transaction or none.

    Raises
    ------
    InputError
        For a file over :data:`MAX_UPLOAD_BYTES`, not UTF-8, without the required columns,
        or with bad rows (each named by row and column).
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{filename}: {len(data)} bytes, more than the limit of "
                         f"{MAX_UPLOAD_BYTES} bytes")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(filename or "upload.csv").name) or "upload.csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            rows = read_rows(path)
        except InputError as exc:
            raise InputError(str(exc).replace(str(path), filename)) from None
    if not rows:
        raise InputError(f"{filename}: no data rows")
    keys = sorted({r.get("source_id", "") for r in rows})
    n = len(rows)
    because = (f"{'1 result was' if n == 1 else f'{n} results were'} imported from "
               f"{filename} ({', '.join(keys[:5])}"
               + (", ..." if len(keys) > 5 else "") + ")")
    return _write(store, [_clean(r) for r in rows], who, "upload", f"file {filename}", because,
                  ", ".join(keys))


def result_version(res: Result) -> str:
    """A fingerprint of a stored result's values: an edit names the version it started from."""
    values = {c.key: getattr(res, c.key) for c in Result.__table__.columns}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:20]


def stored_version(store: Store, result_id: int) -> str:
    """:func:`result_version` of a stored result.

    Raises
    ------
    NotFound
    """
    with store.session() as s:
        res = s.get(Result, result_id)
        if res is None:
            raise NotFound(f"result {result_id}: not stored")
        return result_version(res)


def result_fields(r: ResultRow) -> dict[str, str]:
    """A stored result as the form's (and the CSV layout's) strings."""
    def as_text(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return f"{v:g}" if isinstance(v, float) else str(v)
    raw = {"treatment": r.treatment_raw, "comparator": r.comparator_raw,
           "condition": r.condition_raw, "outcome": r.outcome_raw, "timepoint": r.timepoint_raw}
    return {c: as_text(raw[c] if c in raw else getattr(r, c, None))
            for c in SOURCE_FIELDS + RESULT_FIELDS}


def edit_result(store: Store, result_id: int, fields: Mapping[str, Any], version: str,
                who: Account) -> Edit:
    """Replace a result's values (validated as an import row); its id and place are kept.

    Raises
    ------
    NotFound
        For a result that is not stored.
    EditConflict
        When the stored result is no longer the ``version`` the editor started from.
    InputError
        Naming the field at fault; nothing is written.
    """
    with store.session() as s:
        res = s.get(Result, result_id)
        if res is None:
            raise NotFound(f"result {result_id}: not stored")
        key = res.source.key
    src = _source_fields(store, key)
    row = {**_clean(fields), **src}
    drafts = validate_rows(store, [row])
    with store.transaction() as s:
        res = s.get(Result, result_id)
        if res is None:
            raise NotFound(f"result {result_id}: deleted by someone else in the meantime")
        if result_version(res) != version:
            raise EditConflict(f"result {result_id}: changed by someone else since you opened "
                               "it; reload it, then make your edit again")
        before = {c.key: getattr(res, c.key) for c in Result.__table__.columns}
        position = res.position
        s.delete(res)
        s.flush()
        write_drafts(s, drafts)
        new = s.scalars(select(Result).order_by(Result.position.desc()).limit(1)).one()
        new.id, new.position = result_id, position
        s.flush()
        after = {c.key: getattr(new, c.key) for c in Result.__table__.columns}
        changed = [k for k in after if k not in ("id", "position", "derivation")
                   and before.get(k) != after[k]]
        shown = ", ".join(f"{k}: {_short(before.get(k))} \u2192 {_short(after[k])}"
                          for k in changed[:4]) + (", ..." if len(changed) > 4 else "")
        entry = audit(s, who, "result-edit", f"result {result_id} of {key}",
                      {"before": before, "after": after, "changed": changed})
    because = (f"result {result_id} of {_design_word(src['design'])} {key} was edited"
               + (f" ({shown})" if shown else " (no value changed)"))
    return Edit(entry.id, "result-edit", because, key, (result_id,))


def _short(v: Any) -> str:
    s = "empty" if v is None or v == "" else (f"{v:g}" if isinstance(v, float) else str(v))
    return s if len(s) <= 40 else s[:37] + "..."


def delete_result(store: Store, result_id: int, version: str, who: Account) -> Edit:
    """Delete a result (audited with its values).

    Raises
    ------
    NotFound, EditConflict
    """
    with store.transaction() as s:
        res = s.get(Result, result_id)
        if res is None:
            raise NotFound(f"result {result_id}: not stored")
        if result_version(res) != version:
            raise EditConflict(f"result {result_id}: changed by someone else since you opened "
                               "it; reload it before deleting it")
        key, design = res.source.key, res.source.design
        before = {c.key: getattr(res, c.key) for c in Result.__table__.columns}
        what = f"{res.outcome_raw}, {res.timepoint_raw}"
        s.delete(res)
        entry = audit(s, who, "result-delete", f"result {result_id} of {key}",
                      {"before": before})
    return Edit(entry.id, "result-delete", f"result {result_id} of {_design_word(design)} "
                f"{key} ({what}) was deleted", key, (result_id,))


#: The fields of a stored study that an edit may change (its key and design stay: the
#: results' kinds were derived from the design).
STUDY_EDIT_FIELDS: tuple[str, ...] = ("citation", "doi", "url_or_location")


def source_version(src: Source) -> str:
    """A fingerprint of a stored study's own fields."""
    values = {c.key: getattr(src, c.key) for c in Source.__table__.columns}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:20]


def study_version(store: Store, key: str) -> str:
    """:func:`source_version` of a stored study.

    Raises
    ------
    NotFound
    """
    with store.session() as s:
        src = s.scalars(select(Source).where(Source.key == key)).first()
        if src is None:
            raise NotFound(f"study {key!r}: not stored")
        return source_version(src)


def edit_study(store: Store, key: str, fields: Mapping[str, Any], version: str,
               rows: list[ResultRow], who: Account) -> Edit:
    """Change a study's citation, DOI or location. Every result of the study is validated
    again with the new values (as an import would), so an error names the row and column.

    Parameters
    ----------
    rows : list of ResultRow
        The study's stored results (from the current snapshot).

    Raises
    ------
    NotFound, EditConflict, InputError
    """
    new = {k: str(fields.get(k) or "").strip() for k in STUDY_EDIT_FIELDS}
    for col in ("citation", "url_or_location"):
        if not new[col]:
            raise InputError(f"row 1, column {col!r}: is required, got ''")
    if rows:
        validate_rows(store, [{**result_fields(r), **new} for r in rows])
    elif len(new["doi"]) > 255:
        raise InputError(f"row 1, column 'doi': at most 255 characters, got {len(new['doi'])}")
    with store.transaction() as s:
        src = s.scalars(select(Source).where(Source.key == key)).first()
        if src is None:
            raise NotFound(f"study {key!r}: not stored")
        if source_version(src) != version:
            raise EditConflict(f"study {key!r}: changed by someone else since you opened it; "
                               "reload it, then make your edit again")
        before = {k: getattr(src, k) or "" for k in STUDY_EDIT_FIELDS}
        src.citation, src.doi, src.url_or_location = (new["citation"], new["doi"] or None,
                                                      new["url_or_location"])
        changed = [k for k in STUDY_EDIT_FIELDS if before[k] != new[k]]
        entry = audit(s, who, "study-edit", f"study {key}",
                      {"before": before, "after": new, "changed": changed})
    shown = ", ".join(f"{k}: {_short(before[k])} \u2192 {_short(new[k])}" for k in changed)
    return Edit(entry.id, "study-edit", f"study {key} was edited"
                + (f" ({shown})" if shown else " (no value changed)"), key, ())


def recompute(before: Any, after: Any, store: Store, edit: Edit) -> list[AnswerChange]:
    """Compare the answers of the snapshots before and after ``edit`` and store the changes
    with its audit entry (``before`` and ``after``: :class:`~metaverdict.web.state.Snapshot`)."""
    changes = answer_changes(before.syntheses(), after.syntheses(), edit.because)
    record_changes(store, edit.entry_id, [c.to_dict() for c in changes])
    return changes

