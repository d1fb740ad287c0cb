"""daemon state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

One row per daemon lease name: what the daemon holding that lease is doing, its last and
recent runs, failures and next runs, so that ``scanner status`` (another process) can
report them. The lease itself stays in ``leases``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "daemon_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schedule", _json(), nullable=False),
        sa.Column("current", _json(), nullable=True),
        sa.Column("last_run", _json(), nullable=True),
        sa.Column("next_runs", _json(), nullable=False),
        sa.Column("recent", _json(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("total_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("daemon_state")
