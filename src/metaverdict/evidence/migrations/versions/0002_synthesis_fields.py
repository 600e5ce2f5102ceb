"""Fields the synthesis stage needs: comparator class, known data problems, what a result is
evidence about, a trial's own minimal important difference, and reviews' included trials.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_RESULT_COLUMNS = (
    ("comparator_class", sa.String(40)),
    ("data_problem", sa.Text()),
    ("evidence_about", sa.Text()),
    ("stated_mid", sa.Float()),
    ("stated_mid_text", sa.Text()),
)


def upgrade() -> None:
    """Add the result columns and the ``included_trials`` table."""
    with op.batch_alter_table("results") as batch:
        for name, type_ in _RESULT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "included_trials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("trial", sa.String(200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("source_id", "trial"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("included_trials")
    with op.batch_alter_table("results") as batch:
        for name, _ in reversed(_RESULT_COLUMNS):
            batch.drop_column(name)
