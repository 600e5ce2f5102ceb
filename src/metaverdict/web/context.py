"""What the pages and the API share: the :class:`Site` (store, snapshot, templates, login
limiter), the visitor's account, role checks and CSRF checks.

Slow work (reading the store, drawing figures, hashing passwords) runs in Starlette's thread
pool, so the event loop keeps serving pages that are already rendered.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from metaverdict import __version__
from metaverdict.evidence.store import Store
from metaverdict.grade.mcid import MCIDTable
from metaverdict.report.document import CATEGORY_CLASS, TONE_LEGEND
from metaverdict.verdict import CATEGORY_DEFINITIONS
from metaverdict.web.accounts import ROLES, Account, session_user
from metaverdict.web.editing import MAX_UPLOAD_BYTES
from metaverdict.web.security import SESSION_COOKIE, LoginLimiter, tokens_match
from metaverdict.web.state import SiteState, Snapshot

T = TypeVar("T")


@dataclass(frozen=True)
class WebSettings:
    """How the site runs.

    Attributes
    ----------
    secure_cookies : bool
        Set the ``Secure`` flag on cookies (default True; browsers accept it on
        ``http://localhost``; turn it off only for plain HTTP on another host name).
    check_interval : float
        Seconds between two checks whether another process changed the store.
    max_body_bytes : int
        Largest request body (uploads included).
    login_max_failures, login_window_s
        At most this many failed logins per address and per username in the window.
    cache_pages : bool
        Keep rendered read pages for anonymous visitors until the store changes.
    """

    secure_cookies: bool = True
    check_interval: float = 0.5
    max_body_bytes: int = MAX_UPLOAD_BYTES + 64 * 1024
    login_max_failures: int = 5
    login_window_s: float = 300.0
    cache_pages: bool = True


class AuthRequired(Exception):
    """The visitor must log in (with at least ``role``)."""

    def __init__(self, role: str) -> None:
        super().__init__(f"log in as {'an' if role[0] in 'aeiou' else 'a'} {role} to do this")
        self.role = role


class Forbidden(Exception):
    """The visitor is logged in but may not do this (role or CSRF token)."""


def _svg(s: str) -> Markup:
    """The report's figures: SVG written by matplotlib (text escaped), trusted as markup."""
    return Markup(s)


class Site:
    """One running site: the store, its current snapshot, the templates and the limiter."""

    def __init__(self, store: Store, settings: WebSettings | None = None,
                 mcid_table: MCIDTable | None = None) -> None:
        self.store = store
        self.settings = settings or WebSettings()
        self.state = SiteState(store, mcid_table=mcid_table,
                               check_interval=self.settings.check_interval)
        self.limiter = LoginLimiter(self.settings.login_max_failures,
                                    self.settings.login_window_s)
        env = Environment(loader=PackageLoader("metaverdict.web", "templates"),
                          autoescape=select_autoescape(["html.j2"]), undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
        env.filters["svg"] = _svg
        env.filters["ucfirst"] = lambda t: str(t)[:1].upper() + str(t)[1:]
        env.filters["category_class"] = lambda c: CATEGORY_CLASS.get(c, "unclear")
        env.globals.update(version=__version__, tone_legend=TONE_LEGEND, roles=ROLES,
                           category_definitions=tuple(CATEGORY_DEFINITIONS.items()))
        self.env = env

    def render(self, name: str, **ctx: Any) -> str:
        """Render a template (autoescaped)."""
        return self.env.get_template(name).render(**ctx)


def site_of(request: Request) -> Site:
    """The request's :class:`Site`."""
    site: Site = request.app.state.site
    return site


async def threaded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work in the thread pool."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def snapshot(request: Request) -> Snapshot:
    """The current snapshot (read again only after the store changed)."""
    site = site_of(request)
    snap = site.state.current()
    return snap if snap is not None else await threaded(site.state.snapshot)


async def account(request: Request) -> Account | None:
    """The logged-in account (None for an anonymous visitor); looked up once per request."""
    if hasattr(request.state, "account"):
        acc: Account | None = request.state.account
        return acc
    token = request.cookies.get(SESSION_COOKIE)
    acc = await threaded(session_user, site_of(request).store, token) if token else None
    request.state.account = acc
    return acc


async def require(request: Request, role: str) -> Account:
    """The account, if it has ``role`` (or above).

    Raises
    ------
    AuthRequired
        For an anonymous visitor.
    Forbidden
        For a role below ``role``.
    """
    acc = await account(request)
    if acc is None:
        raise AuthRequired(role)
    if not acc.can(role):
        raise Forbidden(f"your role ({acc.role}) may not do this; "
                        f"{'an' if role[0] in 'aeiou' else 'a'} {role} may")
    return acc


def check_csrf(acc: Account, given: str | None) -> None:
    """Raise :class:`Forbidden` unless ``given`` is the session's CSRF token."""
    if not tokens_match(acc.csrf_token, given):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def client_address(request: Request) -> str:
    """The client's address (for the login limiter)."""
    return request.client.host if request.client else "unknown"
