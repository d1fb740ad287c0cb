"""public pages: visitors' contributions and curators' "replicated" links

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-01

``contributions``: what visitors send from the public pages' "Contribute" form (a
correction to an entry, or a missing paper), private to curators; the sender's address
is kept only as a salted sha256 for the per-address rate limit. ``replications``: a
curator's link between two approved entries whose independent studies found the same
thing (the evidence tier's "replicated"), one row per unordered pair.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pmid", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("address_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_by", sa.String(length=80), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contributions_address_created", "contributions",
                    ["address_sha256", "created_at"])
    op.create_index("ix_contributions_state", "contributions", ["state", "id"])
    op.create_table(
        "replications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pmid_a", sa.String(length=20), nullable=False),
        sa.Column("pmid_b", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pmid_a", "pmid_b", name="uq_replications_pair"),
        sa.CheckConstraint("pmid_a < pmid_b", name="ck_replications_order"),
    )
    op.create_index("ix_replications_b", "replications", ["pmid_b"])


def downgrade() -> None:
    op.drop_index("ix_replications_b", table_name="replications")
    op.drop_table("replications")
    op.drop_index("ix_contributions_state", table_name="contributions")
    op.drop_index("ix_contributions_address_created", table_name="contributions")
    op.drop_table("contributions")
