"""Initial evidence schema.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True)


def upgrade() -> None:
    """Create all evidence tables."""
    op.create_table(
        "sources", _id(),
        sa.Column("key", sa.String(120), nullable=False, unique=True),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("url_or_location", sa.Text(), nullable=False),
        sa.Column("design", sa.String(40), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_table(
        "studies", _id(),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("design", sa.String(40), nullable=False),
        sa.UniqueConstraint("source_id", "label"),
    )
    op.create_table(
        "risk_of_bias", _id(),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False,
                  unique=True),
        sa.Column("tool", sa.String(40), nullable=False),
        *[sa.Column(name, sa.String(20), nullable=True) for name in (
            "d1_randomisation", "d2_deviations", "d3_missing_data", "d4_measurement",
            "d5_selection", "overall")],
        sa.Column("score_text", sa.Text(), nullable=True),
    )
    op.create_table(
        "treatments", _id(),
        sa.Column("term", sa.String(200), nullable=False, unique=True),
        sa.Column("family", sa.String(200), nullable=False),
    )
    op.create_table(
        "comparators", _id(),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.UniqueConstraint("kind", "name"),
    )
    op.create_table(
        "conditions", _id(),
        sa.Column("term", sa.String(200), nullable=False, unique=True),
        sa.Column("body_region", sa.String(100), nullable=True),
    )
    op.create_table(
        "outcome_domains", _id(),
        sa.Column("domain", sa.String(100), nullable=False),
        sa.Column("instrument", sa.String(300), nullable=False),
        sa.Column("scale", sa.String(100), nullable=False),
        sa.Column("lower_is_better", sa.Boolean(), nullable=True),
        sa.Column("direction_basis", sa.Text(), nullable=False),
        sa.UniqueConstraint("domain", "instrument", "scale"),
    )
    op.create_table(
        "timepoints", _id(),
        sa.Column("raw", sa.String(300), nullable=False, unique=True),
        sa.Column("days", sa.Float(), nullable=True),
        sa.Column("days_min", sa.Float(), nullable=True),
        sa.Column("days_max", sa.Float(), nullable=True),
        sa.Column("window", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_table(
        "results", _id(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=True),
        sa.Column("treatment_id", sa.Integer(), sa.ForeignKey("treatments.id"), nullable=False),
        sa.Column("comparator_id", sa.Integer(), sa.ForeignKey("comparators.id"), nullable=False),
        sa.Column("condition_id", sa.Integer(), sa.ForeignKey("conditions.id"), nullable=False),
        sa.Column("outcome_id", sa.Integer(), sa.ForeignKey("outcome_domains.id"),
                  nullable=False),
        sa.Column("timepoint_id", sa.Integer(), sa.ForeignKey("timepoints.id"), nullable=False),
        sa.Column("treatment_raw", sa.Text(), nullable=False),
        sa.Column("comparator_raw", sa.String(40), nullable=False),
        sa.Column("condition_raw", sa.Text(), nullable=False),
        sa.Column("outcome_raw", sa.Text(), nullable=False),
        sa.Column("timepoint_raw", sa.Text(), nullable=False),
        sa.Column("effect_measure", sa.String(100), nullable=False),
        sa.Column("measure", sa.String(40), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("ci_lower", sa.Float(), nullable=True),
        sa.Column("ci_upper", sa.Float(), nullable=True),
        sa.Column("n_treatment", sa.Integer(), nullable=True),
        sa.Column("n_control", sa.Integer(), nullable=True),
        sa.Column("mean_treatment", sa.String(100), nullable=True),
        sa.Column("sd_treatment", sa.Float(), nullable=True),
        sa.Column("mean_control", sa.String(100), nullable=True),
        sa.Column("sd_control", sa.Float(), nullable=True),
        sa.Column("k_studies", sa.Integer(), nullable=True),
        sa.Column("i2", sa.Float(), nullable=True),
        sa.Column("certainty", sa.Text(), nullable=True),
        sa.Column("p_value", sa.String(100), nullable=True),
        sa.Column("mean_treatment_value", sa.Float(), nullable=True),
        sa.Column("mean_control_value", sa.Float(), nullable=True),
        sa.Column("p_relation", sa.String(2), nullable=True),
        sa.Column("p_number", sa.Float(), nullable=True),
        sa.Column("se", sa.Float(), nullable=True),
        sa.Column("sign_convention", sa.String(40), nullable=False),
        sa.Column("sign_reason", sa.Text(), nullable=True),
        sa.Column("harmonised_measure", sa.String(100), nullable=True),
        sa.Column("harmonised_estimate", sa.Float(), nullable=True),
        sa.Column("harmonised_ci_lower", sa.Float(), nullable=True),
        sa.Column("harmonised_ci_upper", sa.Float(), nullable=True),
        sa.Column("favours_treatment_when", sa.String(40), nullable=True),
        sa.Column("direction_reported", sa.String(40), nullable=True),
        sa.Column("direction_reason", sa.Text(), nullable=True),
        sa.Column("smd_bound_relation", sa.String(2), nullable=True),
        sa.Column("smd_bound", sa.Float(), nullable=True),
        sa.Column("derivation", sa.Text(), nullable=False),
        sa.Column("verbatim_quote", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_table(
        "opinions", _id(),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("expert", sa.String(200), nullable=False),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("treatment_id", sa.Integer(), sa.ForeignKey("treatments.id"), nullable=True),
        sa.Column("condition_id", sa.Integer(), sa.ForeignKey("conditions.id"), nullable=True),
        sa.Column("evidence_level", sa.String(100), nullable=False),
        sa.Column("verbatim_quote", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    """Drop all evidence tables."""
    for table in ("store_meta", "opinions", "results", "timepoints", "outcome_domains",
                  "conditions", "comparators", "treatments", "risk_of_bias", "studies",
                  "sources"):
        op.drop_table(table)
