"""evaluations of dataset versions, and the rows their checks flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("dataset_id", sa.String(40), nullable=False),
        sa.Column("version_id", sa.String(40), nullable=False, unique=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("grade", sa.String(2), nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_evaluations_dataset_id", "evaluations", ["dataset_id"])
    op.create_table(
        "evaluation_flags",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("evaluation_id", sa.String(40), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("check", sa.String(40), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=True),
        sa.Column("datapoint_id", sa.String(40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_flags_evaluation_check", "evaluation_flags", ["evaluation_id", "check", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_flags_evaluation_check", table_name="evaluation_flags")
    op.drop_table("evaluation_flags")
    op.drop_index("ix_evaluations_dataset_id", table_name="evaluations")
    op.drop_table("evaluations")
