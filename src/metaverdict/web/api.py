"""The JSON API under ``/api/``: everything the pages show, and editors' writes.

Reads are open to everyone. Writes need a session (``POST /api/session``) with the editor
role and the session's CSRF token in the ``X-CSRF-Token`` header; each write answers with
its audit entry and the answers it changed. Errors are ``{"detail": "..."}`` with 401 (log
in), 403 (role or CSRF token), 404, 409 (changed by someone else meanwhile), 413 (body too
large), 422 (bad input: each problem names its row and column), 429 (too many failed
logins) or 503 (the store is busy). The schema is at ``/openapi.json``.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Header, HTTPException, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, create_model

from metaverdict.errors import InputError
from metaverdict.evidence.records import CSV_COLUMNS, EXTRA_COLUMNS
from metaverdict.web import editing
from metaverdict.web.accounts import (
    Account,
    audit_entry,
    audit_log,
    authenticate,
    end_session,
    start_session,
)
from metaverdict.web.context import (
    account,
    check_csrf,
    client_address,
    require,
    site_of,
    snapshot,
    threaded,
)
from metaverdict.web.security import SESSION_COOKIE
from metaverdict.web.state import Snapshot
from metaverdict.web.views import TreatmentInfo, question_slug, search, source_list

router = APIRouter(prefix="/api", tags=["api"])
Value = str | float | int | bool | None

#: One result in the ``studies.csv`` layout (every column optional here: the store's
#: validation says which are required and why).
ResultFields: type[BaseModel] = create_model(          # type: ignore[call-overload]
    "ResultFields", __config__=ConfigDict(extra="forbid"),
    **{c: (Value, Field(None, description=f"CSV column {c!r}"))
       for c in CSV_COLUMNS + EXTRA_COLUMNS})


class Login(BaseModel):
    """Credentials."""

    username: str
    password: str


class StudyEdit(BaseModel):
    """A study's new citation, DOI or location, and the version it was read at."""

    version: str = Field(description="the 'version' the study was read with")
    citation: str
    doi: str | None = None
    url_or_location: str


class ResultEdit(BaseModel):
    """A changed result: the version it was read at, and its new values."""

    version: str = Field(description="the 'version' the result was read with")
    fields: dict[str, Value] = Field(description="the result's columns (CSV layout)")


def _info(snap: Snapshot, name: str) -> TreatmentInfo:
    info = snap.find(name)
    if info is None:
        raise HTTPException(404, f"treatment {name!r}: no stored evidence; available: "
                                 f"{', '.join(t.term for t in snap.treatments)}")
    return info


def _answers(snap: Snapshot, info: TreatmentInfo) -> list[dict[str, Any]]:
    view = snap.treatment(info)
    return [{**q.answer.to_dict(), "question_id": q.slug,
             "question": q.answer.question.describe(),
             "url": f"/treatments/{info.slug}/questions/{q.slug}"} for q in view.questions]


@router.get("/treatments")
async def treatments(request: Request) -> list[dict[str, Any]]:
    """Treatments with stored evidence."""
    snap = await snapshot(request)
    return [t.to_dict() for t in snap.treatments]


@router.get("/answers")
async def answers(request: Request, treatment: str) -> list[dict[str, Any]]:
    """One answer per clinical question (the objects of ``metaverdict answer --json``, with
    each question's id and page)."""
    snap = await snapshot(request)
    info = _info(snap, treatment)
    return await threaded(_answers, snap, info)


@router.get("/treatments/{name}")
async def treatment(request: Request, name: str) -> dict[str, Any]:
    """A treatment page's content: bottom line groups, overlap, warnings and answers."""
    snap = await snapshot(request)
    info = _info(snap, name)
    view = await threaded(snap.treatment, info)
    return {**info.to_dict(),
            "bottom_line": [{"title": g.title, "question_ids": [r.anchor for r in g.rows]}
                            for g in view.bottom_line],
            "overlap": view.overlap, "possible_overlap": list(view.possible_overlap),
            "warnings": list(view.warnings), "not_shown": list(view.not_shown),
            "answers": _answers(snap, info),
            "report": f"/treatments/{info.slug}/report.html"}


@router.get("/treatments/{name}/questions/{qslug}")
async def question(request: Request, name: str, qslug: str) -> dict[str, Any]:
    """One question: the answer, GRADE domains with reasons, and every number's source."""
    snap = await snapshot(request)
    info = _info(snap, name)
    view = await threaded(snap.question, info, qslug)
    if view is None:
        raise HTTPException(404, f"{info.term}: no question {qslug!r}")
    return view.to_dict()


@router.get("/studies")
async def studies(request: Request) -> list[dict[str, Any]]:
    """Every stored study (source) with its number of results."""
    snap = await snapshot(request)
    counts: dict[str, int] = {}
    for r in snap.evidence.rows:
        counts[r.source_id] = counts.get(r.source_id, 0) + 1
    return [{**{k: rec[k] or None for k in ("key", "citation", "doi", "design")},
             "results": counts.get(rec["key"], 0), "url": f"/studies/{rec['key']}"}
            for rec in source_list(snap.evidence)]


@router.get("/studies/{key}")
async def study(request: Request, key: str) -> dict[str, Any]:
    """One study: citation, DOI, every stored number with quote and derivation, and the
    answers that use it."""
    snap = await snapshot(request)
    view = await threaded(snap.study, key)
    if view is None:
        raise HTTPException(404, f"study {key!r}: not stored")
    version = await threaded(editing.study_version, site_of(request).store, key)
    rec = next(r for r in source_list(snap.evidence) if r["key"] == key)
    return {**view.to_dict(), "url_or_location": rec["url_or_location"], "version": version}


@router.get("/results/{result_id}")
async def result(request: Request, result_id: int) -> dict[str, Any]:
    """One stored result, with the ``version`` an edit must name."""
    snap = await snapshot(request)
    row = next((r for r in snap.evidence.rows if r.id == result_id), None)
    if row is None:
        raise HTTPException(404, f"result {result_id}: not stored")
    version = await threaded(editing.stored_version, site_of(request).store, result_id)
    return {**row.to_dict(), "fields": editing.result_fields(row), "version": version}


@router.get("/claims")
async def claims(request: Request) -> dict[str, Any]:
    """The article's claims checked against the evidence, and the experts' opinions."""
    snap = await snapshot(request)
    view = await threaded(snap.claims)
    return view.to_dict()


@router.get("/search")
async def search_api(request: Request, q: str) -> list[dict[str, str]]:
    """Treatments, questions and studies matching every word of ``q``."""
    snap = await snapshot(request)
    views = await threaded(snap.treatment_views)
    return [{"kind": h.kind, "title": h.title, "context": h.context, "url": h.url}
            for h in search(q, views, snap.evidence)]


# -- session ---------------------------------------------------------------------------------
def _cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=8 * 3600, httponly=True,
                        secure=site_of(request).settings.secure_cookies, samesite="strict",
                        path="/")


@router.post("/session")
async def login(request: Request, body: Login, response: Response) -> dict[str, Any]:
    """Log in (rate-limited per address and username); returns the CSRF token for writes."""
    site = site_of(request)
    keys = [f"ip:{client_address(request)}", f"user:{body.username.strip().lower()}"]
    wait = site.limiter.retry_after(keys)
    if wait is not None:
        raise HTTPException(429, f"too many failed logins: try again in {wait} seconds",
                            headers={"retry-after": str(wait)})
    acc = await threaded(authenticate, site.store, body.username.strip(), body.password)
    if acc is None:
        site.limiter.failed(keys)
        raise HTTPException(401, "wrong username or password")
    site.limiter.succeeded(keys[1])
    token, acc = await threaded(start_session, site.store, acc)
    _cookie(request, response, token)
    return {"username": acc.username, "role": acc.role, "csrf_token": acc.csrf_token}


@router.get("/session")
async def whoami(request: Request) -> dict[str, Any]:
    """The logged-in user (401 if none)."""
    acc = await account(request)
    if acc is None:
        raise HTTPException(401, "not logged in")
    return {"username": acc.username, "role": acc.role, "csrf_token": acc.csrf_token}


@router.delete("/session")
async def logout(request: Request, response: Response,
                 x_csrf_token: str | None = Header(None)) -> dict[str, str]:
    """Log out: the session's token stops working at once."""
    acc = await account(request)
    if acc is not None:
        check_csrf(acc, x_csrf_token)
        await threaded(end_session, site_of(request).store,
                       request.cookies.get(SESSION_COOKIE), acc)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=site_of(request).settings.secure_cookies)
    return {"detail": "logged out"}


# -- writes -----------------------------------------------------------------------------
async def _editor(request: Request, token: str | None) -> Account:
    acc = await require(request, "editor")
    check_csrf(acc, token)
    return acc


async def _apply(request: Request, do: Any) -> dict[str, Any]:
    """Run an edit, recompute the answers, and describe what changed."""
    site = site_of(request)
    before = await threaded(site.state.snapshot, fresh=True)
    await threaded(before.syntheses)
    edit: editing.Edit = await threaded(do)

    def after() -> list[dict[str, Any]]:
        snap = site.state.snapshot(fresh=True)
        return [c.to_dict() for c in editing.recompute(before, snap, site.store, edit)]
    changes = await threaded(after)
    return {"entry_id": edit.entry_id, "action": edit.action, "because": edit.because,
            "source_id": edit.source_key, "result_ids": list(edit.result_ids),
            "changes": changes, "change_page": f"/changes/{edit.entry_id}"}


def _fields(body: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump().items() if v is not None}


@router.post("/studies", status_code=201)
async def add_study(request: Request, body: ResultFields,  # type: ignore[valid-type]
                    x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Add a study (a new source) with its first result (editors)."""
    acc = await _editor(request, x_csrf_token)
    fields = _fields(body)
    return await _apply(request, lambda: editing.add_study(site_of(request).store, fields, acc))


@router.put("/studies/{key}")
async def edit_study(request: Request, key: str, body: StudyEdit,
                     x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Change a study's citation, DOI or location; refused (409) if it changed since
    ``version`` was read (editors)."""
    acc = await _editor(request, x_csrf_token)
    snap = await snapshot(request)
    rows = [r for r in snap.evidence.rows if r.source_id == key]
    fields = body.model_dump()
    return await _apply(request, lambda: editing.edit_study(
        site_of(request).store, key, fields, body.version, rows, acc))


@router.post("/results", status_code=201)
async def add_result(request: Request, body: ResultFields,  # type: ignore[valid-type]
                     x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Add a result to a stored study named by ``source_id`` (editors)."""
    acc = await _editor(request, x_csrf_token)
    fields = _fields(body)
    key = str(fields.get("source_id") or "")
    if not key:
        raise InputError("row 1, column 'source_id': is required (the stored study)")
    return await _apply(request, lambda: editing.add_results(site_of(request).store, key,
                                                             [fields], acc))


@router.put("/results/{result_id}")
async def edit_result(request: Request, result_id: int, body: ResultEdit,
                      x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Replace a result's values; refused (409) if it changed since ``version`` was read."""
    acc = await _editor(request, x_csrf_token)
    return await _apply(request, lambda: editing.edit_result(
        site_of(request).store, result_id, body.fields, body.version, acc))


@router.delete("/results/{result_id}")
async def delete_result(request: Request, result_id: int, version: str,
                        x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Delete a result; refused (409) if it changed since ``version`` was read."""
    acc = await _editor(request, x_csrf_token)
    return await _apply(request, lambda: editing.delete_result(
        site_of(request).store, result_id, version, acc))


@router.post("/upload", status_code=201)
async def upload(request: Request, file: UploadFile = File(...),
                 x_csrf_token: str | None = Header(None)) -> dict[str, Any]:
    """Import a CSV file in the ``studies.csv`` layout: all rows or none (editors)."""
    acc = await _editor(request, x_csrf_token)
    data = await file.read(editing.MAX_UPLOAD_BYTES + 1)
    name = file.filename or "upload.csv"
    return await _apply(request, lambda: editing.import_upload(site_of(request).store, data,
                                                               name, acc))


@router.get("/changes/{entry_id}")
async def change(request: Request, entry_id: int) -> dict[str, Any]:
    """One audited change and the answers it changed (editors)."""
    await require(request, "editor")
    entry = await threaded(audit_entry, site_of(request).store, entry_id)
    if entry is None:
        raise HTTPException(404, f"change {entry_id}: not recorded")
    return entry.to_dict()


@router.get("/audit")
async def audit(request: Request, limit: int = 200) -> list[dict[str, Any]]:
    """The audit log, newest first (editors)."""
    await require(request, "editor")
    return [e.to_dict() for e in await threaded(audit_log, site_of(request).store,
                                                 max(1, min(limit, 1000)))]


__all__ = ["ResultFields", "question_slug", "router"]
