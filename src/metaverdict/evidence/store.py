"""The evidence store: a database (SQLite file by default, PostgreSQL by URL) behind an object.

>>> store = open_store("sqlite:///evidence.db")      # doctest: +SKIP
>>> store.results(treatment="dry needling", outcome="pain")   # doctest: +SKIP

The URL comes from the argument, else ``METAVERDICT_DATABASE_URL``, else a SQLite file
``evidence.sqlite`` in ``platformdirs.user_data_dir("metaverdict")`` (created on first use).
Opening applies the Alembic migrations in ``migrations/`` (no alembic.ini needed) and, by
default, loads the bundled evidence into a store that has never held it. There is no global
state: pass the :class:`Store` around and :meth:`Store.close` it (or use ``with``).
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
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from metaverdict.evidence.models import Opinion, Result, Source, StoreMeta
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
DEFAULT_FILENAME = "evidence.sqlite"


def default_url() -> str:
    """``METAVERDICT_DATABASE_URL`` if set, else a SQLite file in the user data directory."""
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env
    folder = Path(platformdirs.user_data_dir("metaverdict"))
    return f"sqlite:///{folder / DEFAULT_FILENAME}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False},
                                   poolclass=StaticPool)

        @event.listens_for(engine, "connect")
        def _fk_on(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return create_engine(url)


def migrate(engine: Engine) -> None:
    """Apply the Alembic migrations shipped in ``metaverdict/evidence/migrations`` (to head)."""
    location = resources.files("metaverdict.evidence").joinpath("migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                        .replace("%", "%%"))
    with engine.begin() as conn:
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

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
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
        """Results matching the filters (see :mod:`metaverdict.evidence.queries`)."""
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
        """Sources: key, citation, doi, url_or_location, design, notes."""
        with self.session() as s:
            rows = s.scalars(select(Source).order_by(Source.id)).all()
            return pd.DataFrame([{c: getattr(r, c) for c in (
                "key", "citation", "doi", "url_or_location", "design", "notes")} for r in rows],
                columns=["key", "citation", "doi", "url_or_location", "design", "notes"])

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str | None = None, *, seed: bool = True,
               vocabulary: Vocabulary | None = None) -> Store:
    """Open (and migrate) the evidence store.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL, e.g. ``"sqlite:///path/evidence.sqlite"``, ``"sqlite://"`` (memory)
        or ``"postgresql+psycopg://user:pw@host/db"``. Default: :func:`default_url`.
    seed : bool
        Load the bundled evidence if this store has never held it (default True).
    vocabulary : Vocabulary, optional
        Default: the bundled vocabulary.

    Returns
    -------
    Store
    """
    engine = _engine(url or default_url())
    migrate(engine)
    store = Store(engine, vocabulary)
    if seed:
        from metaverdict.evidence.bundled import seed as seed_bundled
        seed_bundled(store)
    return store
