"""policy lifecycle

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

One row per policy version that has been activated (or retired): its file's sha256,
state (draft / active / retired), who activated it and when. At most one is active.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_states",
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("activated_by", sa.String(length=80), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_policy_states_state", "policy_states", ["state"])


def downgrade() -> None:
    op.drop_index("ix_policy_states_state", table_name="policy_states")
    op.drop_table("policy_states")
