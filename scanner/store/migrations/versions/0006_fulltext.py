"""full texts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

One row per full-text fetch for a paper: PMC JATS (zstd) with its sha256, or the note that
no open-access full text was available.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fulltexts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pmid", sa.String(length=20), nullable=False),
        sa.Column("pmcid", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_z", sa.LargeBinary(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fulltexts_pmid_fetched", "fulltexts", ["pmid", "fetched_at"])


def downgrade() -> None:
    op.drop_index("ix_fulltexts_pmid_fetched", table_name="fulltexts")
    op.drop_table("fulltexts")
