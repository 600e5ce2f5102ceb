"""The web app's tables in the evidence store: users, login sessions, the audit log.

Declared on the evidence schema's :class:`~metaverdict.evidence.models.Base` (migration
``0004``), so one metadata describes the whole store. The logic that uses them (password
hashing, sessions, audit entries) is :mod:`metaverdict.web.accounts`; this module only
declares the tables and imports nothing beyond SQLAlchemy.

>>> sorted(t for t in Base.metadata.tables if t in ("users", "user_sessions", "audit_log"))
['audit_log', 'user_sessions', 'users']
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from metaverdict.evidence.models import Base

__all__ = ["AuditEntry", "Base", "LoginSession", "User"]


class User(Base):
    """A person who can log in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    """A login: the SHA-256 of the browser's token, its user, CSRF token and expiry."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One change to the evidence (or to the accounts): who, when, what, and its effect.

    ``detail`` is JSON: the values written (and, for an edit, the values before);
    ``changes`` is JSON: the answers that changed, each with the reason
    (:mod:`metaverdict.web.changes`).
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[str | None] = mapped_column(Text)
