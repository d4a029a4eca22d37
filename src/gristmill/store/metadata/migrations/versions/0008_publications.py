"""publications of dataset versions to other services

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("dataset_id", sa.String(40), nullable=False),
        sa.Column("version_id", sa.String(40), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("secrets", JSON, nullable=True),
        sa.Column("state", JSON, nullable=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result_url", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_publications_dataset_id", "publications", ["dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_publications_dataset_id", "publications")
    op.drop_table("publications")
