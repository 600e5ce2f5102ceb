"""Accounts of the web app: users and roles, login sessions, and the audit log.

The tables live in the evidence store (migration ``0004``; models in
:mod:`metaverdict.evidence.accounts`), next to the evidence, so the CLI (``metaverdict user
add``) and every web worker share them. Nothing here imports FastAPI.

* **Roles** (:data:`ROLES`): ``reader`` reads (as an anonymous visitor does), ``editor`` also
  adds and edits studies and results and reads the audit log, ``admin`` also manages users.
* **Passwords** are hashed with Argon2id by pwdlib (:func:`password_hasher`); a login against
  an unknown user still verifies a dummy hash, so timing does not tell which users exist.
* **Sessions** are server-side: the browser holds a random token (cookie), the store holds
  only its SHA-256, the user, an expiry and the session's CSRF token.
* **Audit log**: one :class:`~metaverdict.evidence.accounts.AuditEntry` per change (who,
  when, what, the values before and after, and the answers that changed), written in the
  same transaction as the change.

>>> from metaverdict.evidence import open_store
>>> with open_store("sqlite://", seed=False) as store:
...     user = add_user(store, "ada", "correct horse battery", "editor")
...     login = authenticate(store, "ada", "correct horse battery")
...     token, session = start_session(store, login)
...     session_user(store, token).username, session_user(store, "forged") is None
('ada', True)
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from metaverdict.errors import InputError
from metaverdict.evidence.accounts import AuditEntry, LoginSession, User

if TYPE_CHECKING:
    from pwdlib import PasswordHash

    from metaverdict.evidence.store import Store

#: Roles in increasing order of what they may do.
ROLES: tuple[str, ...] = ("reader", "editor", "admin")
#: How long a login lasts.
SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{2,80}")


@dataclass(frozen=True)
class Account:
    """A logged-in (or looked-up) user, detached from any database session."""

    id: int
    username: str
    role: str
    csrf_token: str = ""

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above (reader < editor < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _utc(t: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written in UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@cache
def password_hasher() -> PasswordHash:
    """The Argon2id hasher (pwdlib's recommended parameters)."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher
    return PasswordHash((Argon2Hasher(),))


@cache
def _dummy_hash() -> str:
    return password_hasher().hash(secrets.token_urlsafe(16))


def check_new_user(username: str, password: str, role: str) -> None:
    """Raise :class:`InputError` naming the field that is wrong for a new user."""
    if not _USERNAME.fullmatch(username or ""):
        raise InputError("field 'username': 2 to 80 letters, digits or . _ @ -, got "
                         f"{username!r}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InputError(f"field 'password': at least {MIN_PASSWORD_LENGTH} characters, got "
                         f"{len(password or '')}")
    if role not in ROLES:
        raise InputError(f"field 'role': must be one of {', '.join(ROLES)}, got {role!r}")


def add_user(store: Store, username: str, password: str, role: str = "reader") -> Account:
    """Create a user (the password is stored only as its Argon2 hash); audited.

    Raises
    ------
    InputError
        For a bad username, a password shorter than :data:`MIN_PASSWORD_LENGTH`, an unknown
        role, or a username already taken.
    """
    check_new_user(username, password, role)
    hashed = password_hasher().hash(password)
    with store.transaction() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise InputError(f"field 'username': {username!r} is already taken")
        user = User(username=username, password_hash=hashed, role=role, active=True,
                    created_at=now())
        s.add(user)
        s.flush()
        audit(s, None, "user-add", f"user {username}", {"role": role})
        return Account(user.id, user.username, user.role)


def set_role(store: Store, by: Account, username: str, role: str) -> None:
    """Change a user's role (an admin's action); audited."""
    if role not in ROLES:
        raise InputError(f"field 'role': must be one of {', '.join(ROLES)}, got {role!r}")
    with store.transaction() as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise InputError(f"field 'username': no user {username!r}")
        before, user.role = user.role, role
        audit(s, by, "user-role", f"user {username}", {"before": before, "after": role})


def users(store: Store) -> list[Account]:
    """Every user, by name."""
    with store.session() as s:
        return [Account(u.id, u.username, u.role)
                for u in s.scalars(select(User).order_by(User.username))]


def authenticate(store: Store, username: str, password: str) -> Account | None:
    """The user if the password matches (and the user is active), else None."""
    with store.session() as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        stored = user.password_hash if user is not None and user.active else None
    ph = password_hasher()
    if stored is None:
        ph.verify(password, _dummy_hash())          # same work as for a real user
        return None
    if not ph.verify(password, stored):
        return None
    assert user is not None
    return Account(user.id, user.username, user.role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(store: Store, account: Account) -> tuple[str, Account]:
    """A new login session: returns the token for the cookie and the account with its CSRF
    token. Expired sessions are removed on the way."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    t = now()
    with store.transaction() as s:
        s.execute(delete(LoginSession).where(LoginSession.expires_at < t))
        s.add(LoginSession(token_hash=_token_hash(token), user_id=account.id, csrf_token=csrf,
                           created_at=t, expires_at=t + SESSION_LIFETIME))
        audit(s, account, "login", f"user {account.username}", None)
    return token, Account(account.id, account.username, account.role, csrf)


def session_user(store: Store, token: str | None) -> Account | None:
    """The account of a valid, unexpired session token, else None."""
    if not token:
        return None
    with store.session() as s:
        row = s.execute(select(LoginSession, User).join(User, User.id == LoginSession.user_id)
                        .where(LoginSession.token_hash == _token_hash(token))).first()
    if row is None:
        return None
    login, user = row
    if _utc(login.expires_at) < now() or not user.active:
        return None
    return Account(user.id, user.username, user.role, login.csrf_token)


def end_session(store: Store, token: str | None, account: Account | None) -> None:
    """Log out: the session is deleted, so its token is worthless from now on."""
    if not token:
        return
    with store.transaction() as s:
        s.execute(delete(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
        if account is not None:
            audit(s, account, "logout", f"user {account.username}", None)


def audit(session: Session, who: Account | None, action: str, target: str,
          detail: dict[str, Any] | None) -> AuditEntry:
    """Add an audit entry inside the caller's transaction (committed with the change)."""
    entry = AuditEntry(at=now(), user_id=who.id if who else None,
                       username=who.username if who else "(command line)", action=action,
                       target=target,
                       detail=None if detail is None else json.dumps(detail, default=str))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditRecord:
    """An audit entry as plain data (``detail`` and ``changes`` decoded)."""

    id: int
    at: datetime
    username: str
    action: str
    target: str
    detail: dict[str, Any] | None
    changes: list[dict[str, Any]] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"id": self.id, "at": self.at.isoformat(), "username": self.username,
                "action": self.action, "target": self.target, "detail": self.detail,
                "changes": self.changes}


def _record(e: AuditEntry) -> AuditRecord:
    return AuditRecord(e.id, _utc(e.at), e.username, e.action, e.target,
                       json.loads(e.detail) if e.detail else None,
                       json.loads(e.changes) if e.changes else None)


def audit_log(store: Store, limit: int = 200) -> list[AuditRecord]:
    """The latest audit entries, newest first."""
    with store.session() as s:
        return [_record(e) for e in s.scalars(select(AuditEntry)
                                              .order_by(AuditEntry.id.desc()).limit(limit))]


def audit_entry(store: Store, entry_id: int) -> AuditRecord | None:
    """One audit entry, or None."""
    with store.session() as s:
        e = s.get(AuditEntry, entry_id)
        return None if e is None else _record(e)


def record_changes(store: Store, entry_id: int, changes: list[dict[str, Any]]) -> None:
    """Attach the answers that changed to an audit entry (after the answers were
    recomputed)."""
    with store.transaction() as s:
        e = s.get(AuditEntry, entry_id)
        if e is not None:
            e.changes = json.dumps(changes)


#: Account actions: they do not change the evidence (nor the answers).
ACCOUNT_ACTIONS: tuple[str, ...] = ("login", "logout", "user-add", "user-role")


def last_evidence_change(session: Session) -> int:
    """The id of the newest audit entry that changed the evidence (0 for none): part of the
    store's state token (logins do not invalidate the answers)."""
    return int(session.scalar(select(func.max(AuditEntry.id))
                              .where(AuditEntry.action.not_in(ACCOUNT_ACTIONS))) or 0)
