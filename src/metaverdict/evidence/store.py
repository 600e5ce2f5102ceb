"""The evidence store: a database (SQLite file by default, PostgreSQL by URL) behind an object.

>>> with connect("sqlite://") as store:              # an empty store in memory
...     store.counts()
{'sources': 0, 'results': 0, 'opinions': 0}

The URL comes from the argument, else ``METAVERDICT_DATABASE_URL``, else a SQLite file
``evidence.sqlite`` in ``platformdirs.user_data_dir("metaverdict")`` (created on first use).
:func:`connect` applies the Alembic migrations in ``migrations/`` (no alembic.ini needed);
:func:`metaverdict.evidence.open_store` (module ``opening``, above this one and
``bundled``) does the same and then loads the bundled evidence into a store that has never
held it. There is no global state: pass the :class:`Store` around and :meth:`Store.close` it
(or use ``with``).

Concurrency: every write (:meth:`Store.transaction`, migrations, seeding) holds the store's
write lock for its whole transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction-level
advisory lock), so two processes writing at once are serialised: reads inside the transaction
(e.g. the next ``position``) see the other's committed rows. A writer waits up to
:data:`BUSY_TIMEOUT_S` seconds (SQLite URL query ``?timeout=`` overrides it) and then fails with
SQLite's "database is locked" / PostgreSQL's lock timeout, which the CLI reports as "the evidence
store is busy, try again".
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, func, make_url, select
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from metaverdict.errors import InputError
from metaverdict.evidence.models import RESULT_KINDS, Opinion, Result, Source, StoreMeta
from metaverdict.evidence.queries import (
    IncludedTrialRow,
    OpinionRow,
    ResultRow,
    query_included_trials,
    query_opinions,
    query_results,
    results_frame,
)
from metaverdict.evidence.vocabulary import Vocabulary, bundled_vocabulary

ENV_URL = "METAVERDICT_DATABASE_URL"
#: Columns of :meth:`Store.sources`.
SOURCE_COLUMNS: tuple[str, ...] = ("key", "citation", "doi", "url_or_location", "design",
                                   "notes", "simulated")
DEFAULT_FILENAME = "evidence.sqlite"
#: How long a writer waits for another process's write to finish (seconds).
BUSY_TIMEOUT_S = 30.0
#: Execution option marking a connection whose transactions take the write lock.
_WRITE_OPTION = "metaverdict_write_lock"
#: Key of the PostgreSQL advisory lock that serialises writers of one database.
_PG_LOCK_KEY = 0x6D657461          # "meta"


def default_url() -> str:
    """``METAVERDICT_DATABASE_URL`` if set, else a SQLite file in the user data directory."""
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env
    folder = Path(platformdirs.user_data_dir("metaverdict"))
    return f"sqlite:///{folder / DEFAULT_FILENAME}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
        timeout = {} if "timeout=" in url else {"timeout": BUSY_TIMEOUT_S}
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args=timeout)
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False, **timeout},
                                   poolclass=StaticPool)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy emits BEGIN itself (below), so that a transaction covers its reads
            # too and a write transaction can take the lock first (BEGIN IMMEDIATE).
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(_WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        return engine
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(_WRITE_OPTION, False):
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    return engine


def write_engine(engine: Engine) -> Engine:
    """``engine`` whose transactions take the store's write lock (see the module docstring)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def _at_head(conn: Connection, cfg: Config) -> bool:
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    return set(MigrationContext.configure(conn).get_current_heads()) == heads


def migrate(engine: Engine) -> None:
    """Apply the Alembic migrations shipped in ``metaverdict/evidence/migrations`` (to head)."""
    location = resources.files("metaverdict.evidence").joinpath("migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                        .replace("%", "%%"))
    with engine.connect() as conn:              # cheap check first: most opens change nothing
        up_to_date = _at_head(conn, cfg)
        conn.rollback()
    if up_to_date:
        return
    with write_engine(engine).begin() as conn:  # locked: a second opener waits, then sees head
        if _at_head(conn, cfg):
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """An open evidence store.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine of a migrated database.
    vocabulary : Vocabulary, optional
        Vocabulary for normalising imports and matching queries (default: the bundled one).
    """

    def __init__(self, engine: Engine, vocabulary: Vocabulary | None = None) -> None:
        self.engine = engine
        self.vocabulary = vocabulary or bundled_vocabulary()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(write_engine(engine), expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction holding the store's write lock: committed on success,
        rolled back on any error (or when the process dies)."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session."""
        with self._sessions() as session:
            yield session

    # -- state --------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        """A value from the store's key/value table."""
        with self.session() as s:
            row = s.get(StoreMeta, key)
            return row.value if row else None

    def counts(self) -> dict[str, int]:
        """Row counts: sources, results, opinions."""
        with self.session() as s:
            return {name: int(s.scalar(select(func.count()).select_from(model)) or 0)
                    for name, model in (("sources", Source), ("results", Result),
                                        ("opinions", Opinion))}

    def is_empty(self) -> bool:
        """True when the store holds no source."""
        return self.counts()["sources"] == 0

    # -- queries ------------------------------------------------------------------------
    def results(self, treatment: str | None = None, condition: str | None = None,
                outcome: str | None = None, kind: str | None = None, *,
                comparator: str | None = None, source: str | None = None,
                window: str | None = None) -> list[ResultRow]:
        """Results matching the filters (see :mod:`metaverdict.evidence.queries`).

        Raises
        ------
        InputError
            If ``kind`` is not one of ``RESULT_KINDS`` (primary, review).
        """
        if kind is not None and kind not in RESULT_KINDS:
            raise InputError(f"option 'kind': must be one of {', '.join(RESULT_KINDS)}, "
                             f"got {kind!r}")
        with self.session() as s:
            return query_results(s, self.vocabulary, treatment=treatment, comparator=comparator,
                                 condition=condition, outcome=outcome, kind=kind,
                                 source=source, window=window)

    def results_frame(self, treatment: str | None = None, condition: str | None = None,
                      outcome: str | None = None, kind: str | None = None,
                      **filters: str | None) -> pd.DataFrame:
        """:meth:`results` as a DataFrame (one column per ``ResultRow`` field)."""
        return results_frame(self.results(treatment, condition, outcome, kind, **filters))

    def opinions(self, treatment: str | None = None,
                 condition: str | None = None) -> list[OpinionRow]:
        """Expert opinions (claims without trial data)."""
        with self.session() as s:
            return query_opinions(s, treatment=treatment, condition=condition)

    def included_trials(self) -> list[IncludedTrialRow]:
        """The primary trials each review lists as included (for overlap between reviews)."""
        with self.session() as s:
            return query_included_trials(s)

    def sources(self) -> pd.DataFrame:
        """Sources: key, citation, doi, url_or_location, design, notes, simulated (bool)."""
        with self.session() as s:
            rows = s.scalars(select(Source).order_by(Source.id)).all()
            return pd.DataFrame([{c: getattr(r, c) for c in SOURCE_COLUMNS} for r in rows],
                                columns=list(SOURCE_COLUMNS))

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str | None = None, *, vocabulary: Vocabulary | None = None) -> Store:
    """Open (and migrate) the evidence store, without seeding it.

    :func:`metaverdict.evidence.open_store` calls this and then loads the bundled evidence.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL, e.g. ``"sqlite:///path/evidence.sqlite"``, ``"sqlite://"`` (memory)
        or ``"postgresql+psycopg://user:pw@host/db"``. Default: :func:`default_url`.
    vocabulary : Vocabulary, optional
        Default: the bundled vocabulary.

    Returns
    -------
    Store

    Raises
    ------
    InputError
        If the URL cannot be parsed, names a database this installation cannot use, or
        the database cannot be opened (a busy SQLite file raises SQLAlchemy's
        ``OperationalError``, so that the caller may try again).
    """
    url = url or default_url()
    try:
        shown = repr(make_url(url).render_as_string(hide_password=True))
    except ArgumentError:
        raise InputError("evidence store: the database URL (--db or METAVERDICT_DATABASE_URL) "
                         "cannot be parsed; expected e.g. 'sqlite:///path/evidence.sqlite' or "
                         "'postgresql+psycopg://user@host/db'") from None
    try:
        engine = _engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InputError(f"evidence store {shown}: not a database URL this installation can "
                         f"use ({exc})") from None
    try:
        migrate(engine)
    except DatabaseError as exc:
        engine.dispose()
        reason = str(exc.orig or exc).strip().splitlines()
        if isinstance(exc, OperationalError) and reason and "locked" in reason[0]:
            raise                                  # busy: the caller may try again
        raise InputError(f"evidence store {shown}: cannot be opened"
                         + (f" ({reason[0]})" if reason else "")) from None
    return Store(engine, vocabulary)
