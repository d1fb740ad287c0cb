"""curator full texts

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01

One row per full text a curator supplied on the draft page (an uploaded PDF or text file,
or pasted methods): the extracted text (zstd) with its sha256, the upload's sha256, size,
kind and pages, who supplied it and when. Parallel to ``fulltexts`` (0006).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "curator_fulltexts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pmid", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_z", sa.LargeBinary(), nullable=False),
        sa.Column("upload_sha256", sa.String(length=64), nullable=False),
        sa.Column("upload_size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("supplied_by", sa.String(length=80), nullable=False),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_curator_fulltexts_pmid_supplied", "curator_fulltexts",
                    ["pmid", "supplied_at"])


def downgrade() -> None:
    op.drop_index("ix_curator_fulltexts_pmid_supplied", table_name="curator_fulltexts")
    op.drop_table("curator_fulltexts")
