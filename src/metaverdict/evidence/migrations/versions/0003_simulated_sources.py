"""Simulated sources: ``sources.simulated`` (NOT NULL, default false), so that results computed
from simulated data can be stored, left out of the synthesis unless asked, and labelled.

Existing sources are real (false). The server default is SQL ``false`` (rendered ``0`` on
SQLite, ``false`` on PostgreSQL), so the column can be added NOT NULL to a table with rows.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``sources.simulated`` with a plain ``ALTER TABLE ... ADD COLUMN`` (no table rebuild:
    on SQLite a batch rebuild of ``sources`` fails on the foreign keys of a store with rows)."""
    op.add_column("sources", sa.Column("simulated", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    """Drop ``sources.simulated`` (``ALTER TABLE ... DROP COLUMN``, SQLite >= 3.35)."""
    op.drop_column("sources", "simulated")
