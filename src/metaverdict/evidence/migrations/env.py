"""Alembic environment for the evidence store.

Run programmatically by :func:`metaverdict.evidence.store.migrate`: the caller puts an open
SQLAlchemy ``Connection`` in ``config.attributes["connection"]``; with none, the URL in the
``sqlalchemy.url`` option is used. No alembic.ini and no logging configuration are needed.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import metaverdict.evidence.accounts  # noqa: F401 (its tables are in Base.metadata)
from metaverdict.evidence.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations on the given connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
