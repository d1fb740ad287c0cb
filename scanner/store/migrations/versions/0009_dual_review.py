"""dual review

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01

Per-curator blind decisions (``review_decisions``) and adjudications
(``review_adjudications``) for policies with ``[review] mode = "dual"``, and the draft's
``review_round`` (decisions taken so far), which says which decisions are current.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id"), nullable=False),
        sa.Column("pmid", sa.String(length=12), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
    ]


def _labels() -> list[sa.Column[Any]]:
    return [
        sa.Column("relevance", sa.String(length=20), nullable=False),
        sa.Column("pem", sa.String(length=20), nullable=False),
        sa.Column("evidence", JSONType, nullable=False),
        sa.Column("design", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fields", JSONType, nullable=False),
    ]


def upgrade() -> None:
    op.add_column("drafts", sa.Column("review_round", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.create_table(
        "review_decisions", *_common(),
        sa.Column("curator", sa.String(length=80), nullable=False), *_labels(),
        sa.Column("classifier", JSONType, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draft_id", "round", "curator"),
    )
    op.create_index("ix_review_decisions_draft_id", "review_decisions", ["draft_id"])
    op.create_table(
        "review_adjudications", *_common(),
        sa.Column("adjudicator", sa.String(length=80), nullable=False), *_labels(),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draft_id", "round"),
    )
    op.create_index("ix_review_adjudications_draft_id", "review_adjudications", ["draft_id"])


def downgrade() -> None:
    op.drop_index("ix_review_adjudications_draft_id", table_name="review_adjudications")
    op.drop_table("review_adjudications")
    op.drop_index("ix_review_decisions_draft_id", table_name="review_decisions")
    op.drop_table("review_decisions")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("review_round")
