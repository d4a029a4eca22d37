"""index datapoints by (dataset_id, source_inference_id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_datapoints_dataset_inference",
        "datapoints",
        ["dataset_id", "source_inference_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_datapoints_dataset_inference", table_name="datapoints")
