"""The server-rendered pages: read pages for everyone, forms for editors, user admin.

Read pages for anonymous visitors are rendered once per store state and kept
(:attr:`metaverdict.web.state.Snapshot.pages`); a logged-in visitor's pages are rendered per
request from the same cached values (the header shows their name).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError

from metaverdict.cli.common import BUSY_MESSAGE, is_busy_message
from metaverdict.errors import InputError
from metaverdict.web import editing
from metaverdict.web.accounts import (
    ROLES,
    Account,
    add_user,
    audit_entry,
    audit_log,
    authenticate,
    end_session,
    set_role,
    start_session,
    users,
)
from metaverdict.web.context import (
    AuthRequired,
    Forbidden,
    account,
    check_csrf,
    client_address,
    require,
    site_of,
    snapshot,
    threaded,
)
from metaverdict.web.forms import FIELD_NAMES, FORM_GROUPS, fields_in_error
from metaverdict.web.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    new_token,
    tokens_match,
)
from metaverdict.web.state import Snapshot
from metaverdict.web.views import search, source_keys, source_list

router = APIRouter(include_in_schema=False)


async def _page(request: Request, template: str, values: Callable[[Snapshot], dict[str, Any]],
                *, status: int = 200, cache: bool = True) -> Response:
    """Render a page from snapshot values; kept per store state for anonymous visitors."""
    site = site_of(request)
    acc = await account(request)
    snap = await snapshot(request)
    key = (request.url.path if cache and acc is None and not request.url.query
           and site.settings.cache_pages else None)
    if key is not None and (body := snap.pages.get(key)) is not None:
        return HTMLResponse(body, status_code=status)

    def render() -> str:
        return site.render(template, user=acc, request_path=request.url.path,
                           **values(snap))
    html = await threaded(render)
    if key is not None:
        snap.pages[key] = html.encode("utf-8")
    return HTMLResponse(html, status_code=status)


def _not_found(request: Request, what: str) -> Response:
    site = site_of(request)
    acc = getattr(request.state, "account", None)
    return HTMLResponse(site.render("error.html.j2", user=acc, request_path=request.url.path,
                                    title="Not found", message=what), status_code=404)


# -- read pages ----------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def home(request: Request, q: str = "") -> Response:
    """Home: the treatments and a search box."""
    def values(snap: Snapshot) -> dict[str, Any]:
        hits = search(q, snap.treatment_views(), snap.evidence) if q.strip() else []
        return {"treatments": snap.treatments, "q": q, "hits": hits,
                "counts": snap.evidence.counts()}
    return await _page(request, "home.html.j2", values)


async def _treatment_or_redirect(request: Request, name: str,
                                 suffix: str = "") -> tuple[Any, Response | None]:
    snap = await snapshot(request)
    info = snap.find(name)
    if info is None:
        names = ", ".join(t.term for t in snap.treatments)
        return None, _not_found(request, f"No stored evidence for {name!r}. Treatments with "
                                         f"stored evidence: {names}.")
    if info.slug != name:
        return None, RedirectResponse(f"/treatments/{info.slug}{suffix}", status_code=308)
    return info, None


@router.get("/treatments/{name}", response_class=HTMLResponse)
async def treatment_page(request: Request, name: str) -> Response:
    """A treatment's bottom line, evidence map and every question."""
    info, other = await _treatment_or_redirect(request, name)
    if other is not None:
        return other
    return await _page(request, "treatment.html.j2",
                       lambda snap: {"view": snap.treatment(info)})


@router.get("/treatments/{name}/questions/{qslug}", response_class=HTMLResponse)
async def question_page(request: Request, name: str, qslug: str) -> Response:
    """One question: the answer, its GRADE domains, sources, plots and numbers."""
    info, other = await _treatment_or_redirect(request, name, f"/questions/{qslug}")
    if other is not None:
        return other
    snap = await snapshot(request)
    view = await threaded(snap.question, info, qslug)
    if view is None:
        return _not_found(request, f"{info.term} has no question {qslug!r}; see "
                                   f"/treatments/{info.slug} for its questions.")
    return await _page(request, "question.html.j2", lambda _snap: {"q": view})


@router.get("/treatments/{name}/report.html")
async def report_download(request: Request, name: str) -> Response:
    """The treatment's self-contained HTML report, as ``metaverdict report`` writes it."""
    info, other = await _treatment_or_redirect(request, name, "/report.html")
    if other is not None:
        return other
    snap = await snapshot(request)
    html = await threaded(snap.report_html, info)
    return HTMLResponse(html, headers={
        "content-disposition": f'attachment; filename="metaverdict-{info.slug}.html"'})


@router.get("/studies", response_class=HTMLResponse)
async def studies_page(request: Request) -> Response:
    """Every stored study (source)."""
    def values(snap: Snapshot) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in snap.evidence.rows:
            counts[r.source_id] = counts.get(r.source_id, 0) + 1
        return {"sources": source_list(snap.evidence), "counts": counts}
    return await _page(request, "studies.html.j2", values)


@router.get("/studies/{key}", response_class=HTMLResponse)
async def study_page(request: Request, key: str) -> Response:
    """One study: citation, DOI, every stored number with its quote, the answers using it."""
    snap = await snapshot(request)
    view = await threaded(snap.study, key)
    if view is None:
        return _not_found(request, f"No study {key!r} is stored.")
    return await _page(request, "study.html.j2", lambda _snap: {"study": view})


@router.get("/claims", response_class=HTMLResponse)
async def claims_page(request: Request) -> Response:
    """The article's claims checked against the evidence; opinions flagged."""
    snap = await snapshot(request)
    view = await threaded(snap.claims)
    return await _page(request, "claims.html.j2", lambda _snap: {"claims": view})


# -- login -----------------------------------------------------------------------------------
def _set_cookie(request: Request, response: Response, name: str, value: str,
                max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True,
                        secure=site_of(request).settings.secure_cookies, samesite="strict",
                        path="/")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002
    """The login form (with a CSRF cookie of its own: no session exists yet)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    site = site_of(request)
    acc = await account(request)
    html = site.render("login.html.j2", user=acc, request_path="/login", csrf=token,
                       next=_safe_next(next), error="", username="")
    resp = HTMLResponse(html)
    _set_cookie(request, resp, LOGIN_CSRF_COOKIE, token)
    return resp


def _safe_next(target: str) -> str:
    """Only a path on this site (never another host) after login."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password (rate-limited), start a session, go back where the visitor was."""
    site = site_of(request)
    form = await request.form(max_files=0, max_fields=10)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)

    def fail(msg: str, status: int, headers: dict[str, str] | None = None) -> Response:
        token = cookie_token or new_token()
        resp = HTMLResponse(site.render("login.html.j2", user=None, request_path="/login",
                                        csrf=token, next=target, error=msg, username=username),
                            status_code=status, headers=headers)
        _set_cookie(request, resp, LOGIN_CSRF_COOKIE, token)
        return resp

    if not tokens_match(cookie_token, str(form.get(CSRF_FIELD, ""))):
        return fail("The form expired (missing or wrong CSRF token): try again.", 403)
    keys = [f"ip:{client_address(request)}", f"user:{username.lower()}"]
    wait = site.limiter.retry_after(keys)
    if wait is not None:
        return fail(f"Too many failed logins: try again in {wait} seconds.", 429,
                    {"retry-after": str(wait)})
    acc = await threaded(authenticate, site.store, username, password)
    if acc is None:
        site.limiter.failed(keys)
        return fail("Wrong username or password.", 401)
    site.limiter.succeeded(keys[1])
    token, _acc = await threaded(start_session, site.store, acc)
    resp = RedirectResponse(target, status_code=303)
    _set_cookie(request, resp, SESSION_COOKIE, token, max_age=8 * 3600)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (its token is deleted from the store)."""
    acc = await account(request)
    form = await request.form(max_files=0, max_fields=5)
    if acc is not None:
        check_csrf(acc, str(form.get(CSRF_FIELD, "")))
        await threaded(end_session, site_of(request).store, request.cookies.get(SESSION_COOKIE),
                       acc)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", secure=site_of(request).settings.secure_cookies,
                       httponly=True, samesite="strict")
    return resp


# -- editing -----------------------------------------------------------------------------
def _form_page(request: Request, acc: Account, *, title: str, action: str,
               values: dict[str, str], errors: list[str], source_locked: bool,
               version: str = "", status: int = 200, note: str = "") -> Response:
    site = site_of(request)
    html = site.render("form.html.j2", user=acc, request_path=request.url.path, title=title,
                       action=action, values=values, errors=errors,
                       bad=fields_in_error(errors), groups=FORM_GROUPS,
                       source_locked=source_locked, version=version, note=note)
    return HTMLResponse(html, status_code=status)


async def _form_values(request: Request, acc: Account) -> tuple[dict[str, str], Any]:
    form = await request.form(max_files=0, max_fields=len(FIELD_NAMES) + 10)
    check_csrf(acc, str(form.get(CSRF_FIELD, "")))
    return {k: str(form.get(k, "")).strip() for k in FIELD_NAMES}, form


async def _after_edit(request: Request, before: Snapshot, edit: editing.Edit) -> Response:
    site = site_of(request)

    def work() -> None:
        after = site.state.snapshot(fresh=True)
        editing.recompute(before, after, site.store, edit)
    await threaded(work)
    return RedirectResponse(f"/changes/{edit.entry_id}", status_code=303)


async def _editor(request: Request) -> Account:
    return await require(request, "editor")


def _busy(exc: OperationalError) -> bool:
    return is_busy_message(str(getattr(exc, "orig", None) or exc))


@router.get("/edit/study", response_class=HTMLResponse)
async def new_study_form(request: Request) -> Response:
    """The form for a new study and its first result."""
    acc = await _editor(request)
    return _form_page(request, acc, title="Add a study", action="/edit/study",
                      values={"design": "rct", "comparator": "sham"}, errors=[],
                      source_locked=False)


@router.post("/edit/study", response_class=HTMLResponse)
async def new_study(request: Request) -> Response:
    """Validate and store a new study; then show which answers changed."""
    acc = await _editor(request)
    values, _form = await _form_values(request, acc)
    before = await threaded(site_of(request).state.snapshot, fresh=True)
    await threaded(before.syntheses)
    try:
        edit = await threaded(editing.add_study, site_of(request).store, values, acc)
    except InputError as exc:
        return _form_page(request, acc, title="Add a study", action="/edit/study",
                          values=values, errors=editing.form_errors(exc), source_locked=False,
                          status=422)
    except OperationalError as exc:
        if not _busy(exc):
            raise
        return _form_page(request, acc, title="Add a study", action="/edit/study",
                          values=values, errors=[BUSY_MESSAGE], source_locked=False, status=503)
    return await _after_edit(request, before, edit)


@router.get("/studies/{key}/add-result", response_class=HTMLResponse)
async def new_result_form(request: Request, key: str) -> Response:
    """The form for another result of a stored study."""
    acc = await _editor(request)
    snap = await snapshot(request)
    if key not in source_keys(snap.evidence):
        return _not_found(request, f"No study {key!r} is stored.")
    rec = next(r for r in source_list(snap.evidence) if r["key"] == key)
    values = {k: rec[k if k != "source_id" else "key"]
              for k in ("source_id", "citation", "doi", "design", "url_or_location")}
    return _form_page(request, acc, title=f"Add a result to {key}",
                      action=f"/studies/{quote(key)}/add-result", values=values, errors=[],
                      source_locked=True)


@router.post("/studies/{key}/add-result", response_class=HTMLResponse)
async def new_result(request: Request, key: str) -> Response:
    """Validate and store a result of a stored study."""
    acc = await _editor(request)
    values, _form = await _form_values(request, acc)
    before = await threaded(site_of(request).state.snapshot, fresh=True)
    await threaded(before.syntheses)
    title, action = f"Add a result to {key}", f"/studies/{quote(key)}/add-result"
    try:
        edit = await threaded(editing.add_results, site_of(request).store, key, [values], acc)
    except editing.NotFound as exc:
        return _not_found(request, str(exc))
    except InputError as exc:
        return _form_page(request, acc, title=title, action=action, values=values,
                          errors=editing.form_errors(exc), source_locked=True, status=422)
    return await _after_edit(request, before, edit)


def _study_form(request: Request, acc: Account, key: str, values: dict[str, str],
                version: str, errors: list[str], status: int = 200) -> Response:
    html = site_of(request).render("study_form.html.j2", user=acc,
                                   request_path=request.url.path, key=key, values=values,
                                   version=version, errors=errors, bad=fields_in_error(errors))
    return HTMLResponse(html, status_code=status)


@router.get("/studies/{key}/edit", response_class=HTMLResponse)
async def edit_study_form(request: Request, key: str) -> Response:
    """The form for a study's citation, DOI and location."""
    acc = await _editor(request)
    snap = await snapshot(request)
    rec = next((r for r in source_list(snap.evidence) if r["key"] == key), None)
    if rec is None:
        return _not_found(request, f"No study {key!r} is stored.")
    version = await threaded(editing.study_version, site_of(request).store, key)
    return _study_form(request, acc, key, {k: rec[k] for k in editing.STUDY_EDIT_FIELDS},
                       version, [])


@router.post("/studies/{key}/edit", response_class=HTMLResponse)
async def edit_study(request: Request, key: str) -> Response:
    """Store a study's new citation, DOI or location (every result re-validated)."""
    acc = await _editor(request)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(acc, str(form.get(CSRF_FIELD, "")))
    values = {k: str(form.get(k, "")).strip() for k in editing.STUDY_EDIT_FIELDS}
    version = str(form.get("version", ""))
    before = await threaded(site_of(request).state.snapshot, fresh=True)
    await threaded(before.syntheses)
    rows = [r for r in before.evidence.rows if r.source_id == key]
    try:
        edit = await threaded(editing.edit_study, site_of(request).store, key, values,
                              version, rows, acc)
    except editing.NotFound as exc:
        return _not_found(request, str(exc))
    except InputError as exc:
        status = 409 if isinstance(exc, editing.EditConflict) else 422
        return _study_form(request, acc, key, values, version, editing.form_errors(exc),
                           status)
    return await _after_edit(request, before, edit)


@router.get("/results/{result_id}/edit", response_class=HTMLResponse)
async def edit_result_form(request: Request, result_id: int) -> Response:
    """The form for changing a stored result."""
    acc = await _editor(request)
    snap = await snapshot(request)
    row = next((r for r in snap.evidence.rows if r.id == result_id), None)
    if row is None:
        return _not_found(request, f"No result {result_id} is stored.")
    version = await threaded(editing.stored_version, site_of(request).store, result_id)
    return _form_page(request, acc, title=f"Edit result {result_id} of {row.source_id}",
                      action=f"/results/{result_id}/edit", values=editing.result_fields(row),
                      errors=[], source_locked=True, version=version)


@router.post("/results/{result_id}/edit", response_class=HTMLResponse)
async def edit_result(request: Request, result_id: int) -> Response:
    """Validate and store the changed result (refused if someone changed it meanwhile)."""
    acc = await _editor(request)
    values, form = await _form_values(request, acc)
    version = str(form.get("version", ""))
    before = await threaded(site_of(request).state.snapshot, fresh=True)
    await threaded(before.syntheses)
    try:
        edit = await threaded(editing.edit_result, site_of(request).store, result_id, values,
                              version, acc)
    except editing.NotFound as exc:
        return _not_found(request, str(exc))
    except InputError as exc:
        status = 409 if isinstance(exc, editing.EditConflict) else 422
        return _form_page(request, acc, title=f"Edit result {result_id}",
                          action=f"/results/{result_id}/edit", values=values,
                          errors=editing.form_errors(exc), source_locked=True,
                          version=version, status=status)
    return await _after_edit(request, before, edit)


@router.post("/results/{result_id}/delete", response_class=HTMLResponse)
async def delete_result(request: Request, result_id: int) -> Response:
    """Delete a result (audited)."""
    acc = await _editor(request)
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(acc, str(form.get(CSRF_FIELD, "")))
    before = await threaded(site_of(request).state.snapshot, fresh=True)
    await threaded(before.syntheses)
    try:
        edit = await threaded(editing.delete_result, site_of(request).store, result_id,
                              str(form.get("version", "")), acc)
    except editing.NotFound as exc:
        return _not_found(request, str(exc))
    except editing.EditConflict as exc:
        raise Forbidden(str(exc)) from None
    return await _after_edit(request, before, edit)


@router.get("/edit/upload", response_class=HTMLResponse)
async def upload_form(request: Request) -> Response:
    """The CSV upload form."""
    acc = await _editor(request)
    site = site_of(request)
    return HTMLResponse(site.render("upload.html.j2", user=acc, request_path=request.url.path,
                                    errors=[], limit=editing.MAX_UPLOAD_BYTES))


@router.post("/edit/upload", response_class=HTMLResponse)
async def upload(request: Request) -> Response:
    """Import an uploaded CSV: every row validated, all written in one transaction or none."""
    acc = await _editor(request)
    site = site_of(request)
    form = await request.form(max_files=1, max_fields=5,
                              max_part_size=editing.MAX_UPLOAD_BYTES + 1)
    check_csrf(acc, str(form.get(CSRF_FIELD, "")))
    file = form.get("file")
    if file is None or isinstance(file, str):
        errors = ["choose a CSV file to upload"]
    else:
        data = await file.read(editing.MAX_UPLOAD_BYTES + 1)
        before = await threaded(site.state.snapshot, fresh=True)
        await threaded(before.syntheses)
        try:
            edit = await threaded(editing.import_upload, site.store, data,
                                  file.filename or "upload.csv", acc)
        except InputError as exc:
            errors = editing.form_errors(exc)
        else:
            return await _after_edit(request, before, edit)
    return HTMLResponse(site.render("upload.html.j2", user=acc, request_path=request.url.path,
                                    errors=errors, limit=editing.MAX_UPLOAD_BYTES),
                        status_code=422)


@router.get("/changes/{entry_id}", response_class=HTMLResponse)
async def change_page(request: Request, entry_id: int) -> Response:
    """What one change was, who made it, and which answers it changed and why."""
    acc = await _editor(request)
    entry = await threaded(audit_entry, site_of(request).store, entry_id)
    if entry is None:
        return _not_found(request, f"No change {entry_id} is recorded.")
    return HTMLResponse(site_of(request).render("change.html.j2", user=acc,
                                                request_path=request.url.path, entry=entry))


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request) -> Response:
    """Who changed what, newest first."""
    acc = await _editor(request)
    entries = await threaded(audit_log, site_of(request).store)
    return HTMLResponse(site_of(request).render("audit.html.j2", user=acc,
                                                request_path=request.url.path,
                                                entries=entries))


# -- users (admin) -----------------------------------------------------------------------
@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request) -> Response:
    """Every user and their role; a form to add one."""
    acc = await require(request, "admin")
    return await _users_page(request, acc, [], "")


async def _users_page(request: Request, acc: Account, errors: list[str], note: str,
                      status: int = 200) -> Response:
    people = await threaded(users, site_of(request).store)
    return HTMLResponse(site_of(request).render("users.html.j2", user=acc,
                                                request_path=request.url.path, people=people,
                                                errors=errors, note=note, roles=ROLES),
                        status_code=status)


@router.post("/admin/users", response_class=HTMLResponse)
async def users_change(request: Request) -> Response:
    """Add a user, or change a user's role."""
    acc = await require(request, "admin")
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(acc, str(form.get(CSRF_FIELD, "")))
    username = str(form.get("username", "")).strip()
    role = str(form.get("role", "reader"))
    try:
        if form.get("password"):
            await threaded(add_user, site_of(request).store, username,
                           str(form.get("password", "")), role)
            note = f"added {username} ({role})"
        else:
            await threaded(set_role, site_of(request).store, acc, username, role)
            note = f"{username} is now {role}"
    except InputError as exc:
        return await _users_page(request, acc, [str(exc)], "", status=422)
    return await _users_page(request, acc, [], note)


__all__ = ["AuthRequired", "Forbidden", "router"]
