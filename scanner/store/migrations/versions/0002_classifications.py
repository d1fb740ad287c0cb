"""classifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pmid", sa.String(length=12), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("scanner_version", sa.String(length=40), nullable=False),
        sa.Column("relevance_label", sa.String(length=20), nullable=False),
        sa.Column("relevance_score", sa.Float(), nullable=False),
        sa.Column("relevance_route", sa.String(length=20), nullable=False),
        sa.Column("pem_label", sa.String(length=20), nullable=False),
        sa.Column("pem_confidence", sa.Float(), nullable=False),
        sa.Column("pem_route", sa.String(length=20), nullable=False),
        sa.Column("design", sa.String(length=20), nullable=False),
        sa.Column("human_participants", sa.Boolean(), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pmid"],
            ["records.pmid"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pmid", "policy_version", "content_hash"),
    )
    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_classifications_pem_label"), ["pem_label"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_classifications_pmid"), ["pmid"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_classifications_policy_version"), ["policy_version"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_classifications_relevance_route"), ["relevance_route"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("classifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_classifications_relevance_route"))
        batch_op.drop_index(batch_op.f("ix_classifications_policy_version"))
        batch_op.drop_index(batch_op.f("ix_classifications_pmid"))
        batch_op.drop_index(batch_op.f("ix_classifications_pem_label"))

    op.drop_table("classifications")
