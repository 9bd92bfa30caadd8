"""Proposed agreements on their way to sign-off: the draft text the information asset owners, the DPIA
and the DPO decide on (the decisions themselves are audit events, in the tamper-evident chain).

Revision ID: g0007
Revises: g0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing

revision = "g0007"
down_revision = "g0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_missing("agreement_drafts"):
        op.create_table(
            "agreement_drafts",
            sa.Column("agreement_id", sa.String(length=60), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("digest", sa.String(length=64), nullable=False),
            sa.Column("proposed_by", sa.String(length=200), nullable=False),
            sa.Column("proposed_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("agreement_id"),
        )


def downgrade() -> None:
    op.drop_table("agreement_drafts")
