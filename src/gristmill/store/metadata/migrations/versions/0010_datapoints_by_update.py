"""datapoints by dataset and update time: whether the live rows changed since the head was
cut (asked before every export and publication) reads an index, not every row

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_datapoints_dataset_updated", "datapoints", ["dataset_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_datapoints_dataset_updated", table_name="datapoints")
