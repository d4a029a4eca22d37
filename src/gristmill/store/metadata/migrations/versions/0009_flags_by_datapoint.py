"""evaluation flags by datapoint: the viewer shows each row's flags

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_flags_evaluation_datapoint", "evaluation_flags", ["evaluation_id", "datapoint_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_flags_evaluation_datapoint", table_name="evaluation_flags")
