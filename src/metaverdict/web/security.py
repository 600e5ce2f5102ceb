"""The web app's defences, each small enough to read at once.

* :class:`LoginLimiter`: at most ``max_failures`` failed logins per client address and per
  username within ``window_s`` seconds; further attempts are refused (HTTP 429) until the
  window has passed, whatever the password.
* :class:`BodyLimit`: an ASGI middleware refusing any request body over ``max_bytes`` (HTTP
  413), checked on the ``Content-Length`` header and again while the body streams in, so an
  upload cannot fill memory or disk.
* :class:`SecurityHeaders`: a strict Content-Security-Policy (scripts and styles from this
  site only; no framing), ``nosniff`` and a same-origin referrer policy on every response.
* CSRF tokens (:func:`new_token`, :func:`tokens_match`): every form and every API write
  carries the session's token (or, before login, the ``mv_csrf`` cookie's), compared in
  constant time.

Cookies are set ``HttpOnly``, ``SameSite=Strict`` and ``Secure`` (browsers treat
``http://localhost`` as a secure origin, so this works for ``metaverdict serve`` too).

>>> limiter = LoginLimiter(max_failures=2, window_s=60)
>>> limiter.failed(["ip:127.0.0.1", "user:ada"], now=0.0)
>>> limiter.failed(["ip:127.0.0.1", "user:ada"], now=1.0)
>>> limiter.retry_after(["user:ada"], now=2.0)
58
>>> limiter.retry_after(["user:ada"], now=61.0) is None
True
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "mv_session"
LOGIN_CSRF_COOKIE = "mv_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def new_token() -> str:
    """A random token (CSRF, session)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; False when either is missing."""
    return bool(expected) and bool(given) and secrets.compare_digest(str(expected), str(given))


class LoginLimiter:
    """Failed-login counter per key (``ip:...``, ``user:...``) over a sliding window."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Seconds until a login for these keys may be tried again, or None (allowed)."""
        t = time.monotonic() if now is None else now
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._recent(key, t)
                if len(q) >= self.max_failures:
                    wait = max(wait, q[0] + self.window_s - t)
        return None if wait <= 0 else int(wait + 0.999)

    def failed(self, keys: Iterable[str], now: float | None = None) -> None:
        """Count one failed login for each key."""
        t = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, t).append(t)

    def succeeded(self, key: str) -> None:
        """Forget a username's failures after a successful login (the address keeps them)."""
        with self._lock:
            self._failures.pop(key, None)


async def _send_error(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = (f"request body too large: the limit is {self.max_bytes} bytes "
                   f"({self.max_bytes // 1024} KiB)")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = self.max_bytes + 1
                if size > self.max_bytes:
                    await _send_error(send, 413, message)
                    return
        seen = 0
        started = refused = False

        async def limited_receive() -> Message:
            # over the limit: answer 413 at once and tell the app the client has gone (an
            # exception here would be turned into a 400 by the body parser)
            nonlocal seen, refused, started
            if refused:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        started = True
                        await _send_error(send, 413, message)
                    return {"type": "http.disconnect"}
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if refused:
                return                       # the 413 has been sent; drop the app's reply
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not refused:
                raise


class SecurityHeaders:
    """Add the security headers (see the module docstring) to every HTTP response."""

    HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg["headers"] = list(msg.get("headers", [])) + list(self.HEADERS)
            await send(msg)

        await self.app(scope, receive, with_headers)
