"""The FastAPI application: :func:`create_app` (``metaverdict serve`` runs it with uvicorn).

Pages (:mod:`metaverdict.web.pages`), the JSON API (:mod:`metaverdict.web.api`, schema at
``/openapi.json``), static files, and the defences of :mod:`metaverdict.web.security`.
Errors the visitor can fix are answered with a page (or ``{"detail": ...}`` under
``/api/``) that says what was wrong, never a traceback.

>>> from fastapi.testclient import TestClient
>>> from metaverdict.evidence import open_store
>>> with open_store() as store, TestClient(create_app(store=store),
...                                        base_url="https://testserver") as client:
...     client.get("/api/treatments").json()[0]["term"]
'dry needling'
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from metaverdict import __version__
from metaverdict.cli.common import BUSY_MESSAGE, is_busy_message
from metaverdict.errors import InputError
from metaverdict.evidence.opening import open_store
from metaverdict.evidence.store import Store
from metaverdict.grade.mcid import MCIDTable
from metaverdict.web import api, pages
from metaverdict.web.context import AuthRequired, Forbidden, Site, WebSettings
from metaverdict.web.editing import EditConflict, NotFound
from metaverdict.web.security import BodyLimit, SecurityHeaders


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _error(request: Request, status: int, message: str, *, title: str = "",
           errors: list[str] | None = None, headers: dict[str, str] | None = None) -> Response:
    if _is_api(request):
        body: dict[str, object] = {"detail": message}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, headers=headers)
    site: Site = request.app.state.site
    html = site.render("error.html.j2", user=getattr(request.state, "account", None),
                       request_path=request.url.path, title=title or "Not allowed",
                       message=message)
    return HTMLResponse(html, status_code=status, headers=headers)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthRequired)
    async def auth_required(request: Request, exc: AuthRequired) -> Response:
        if not _is_api(request) and request.method == "GET":
            site: Site = request.app.state.site
            html = site.render("error.html.j2", user=None, request_path=request.url.path,
                               title="Log in to edit", message=str(exc)[:1].upper()
                               + str(exc)[1:] + ".", login_next=request.url.path)
            return HTMLResponse(html, status_code=401)
        return _error(request, 401, str(exc), title="Log in to edit")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(EditConflict)
    async def conflict(request: Request, exc: EditConflict) -> Response:
        return _error(request, 409, str(exc), title="Changed by someone else")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc), title="Not found")

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        return _error(request, 422, lines[0] if lines else str(exc), title="Bad input",
                      errors=lines[1:] or None)

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> Response:
        if is_busy_message(str(getattr(exc, "orig", None) or exc)):
            return _error(request, 503, BUSY_MESSAGE, title="Busy",
                          headers={"retry-after": "2"})
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail),
                      title="Not found" if exc.status_code == 404 else "Error",
                      headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(request, 422, "the request does not match the API schema",
                      title="Bad request", errors=errors)


def create_app(url: str | None = None, *, store: Store | None = None,
               settings: WebSettings | None = None,
               mcid_table: MCIDTable | None = None) -> FastAPI:
    """The web application.

    Parameters
    ----------
    url : str, optional
        Database URL (default: ``METAVERDICT_DATABASE_URL``, else the user data SQLite file);
        the store is opened, migrated and seeded with the bundled evidence, and closed when
        the app shuts down.
    store : Store, optional
        An open store to use instead (the caller closes it).
    settings : WebSettings, optional
    mcid_table : MCIDTable, optional
        MCID overrides (default: the bundled table).

    Returns
    -------
    fastapi.FastAPI
    """
    own = store is None
    the_store = open_store(url) if store is None else store
    site = Site(the_store, settings, mcid_table)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own:
            the_store.close()

    app = FastAPI(title="metaverdict", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Does this injury-recovery treatment work, for what, how much, "
                              "and how sure are we? One answer per clinical question, with "
                              "GRADE certainty, from the stored evidence.")
    app.state.site = site
    _handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    static = resources.files("metaverdict.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=308)

    app.add_middleware(BodyLimit, max_bytes=site.settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (several workers): the store from
    ``METAVERDICT_DATABASE_URL``; ``METAVERDICT_WEB_INSECURE_COOKIES=1`` drops the Secure
    flag."""
    import os
    insecure = os.environ.get("METAVERDICT_WEB_INSECURE_COOKIES", "").strip() not in ("", "0")
    return create_app(settings=WebSettings(secure_cookies=not insecure))
