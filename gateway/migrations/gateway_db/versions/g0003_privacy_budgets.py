"""Privacy budgets for analyst tables: what each scope (a project, an analyst, under one agreement) may
spend and has spent, every spend, and the stored answer of every distinct query (asked again, it is
returned free).

Revision ID: g0003
Revises: g0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing as _missing

revision = "g0003"
down_revision = "g0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if _missing("privacy_budgets"):
        op.create_table(
            "privacy_budgets",
            sa.Column("scope", sa.String(length=300), nullable=False),
            sa.Column("allowance", sa.Float(), nullable=False),
            sa.Column("spent", sa.Float(), nullable=False),
            sa.Column("updated_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("scope"),
        )
    if _missing("privacy_spends"):
        op.create_table(
            "privacy_spends",
            sa.Column("spend_id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("scope", sa.String(length=300), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("rho", sa.Float(), nullable=False),
            sa.Column("answer_key", sa.String(length=64), nullable=False),
            sa.Column("time", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("spend_id"),
        )
        op.create_index("ix_privacy_spends_actor", "privacy_spends", ["actor"])
    if _missing("aggregate_answers"):
        op.create_table(
            "aggregate_answers",
            sa.Column("answer_key", sa.String(length=64), nullable=False),
            sa.Column("reply", sa.Text(), nullable=False),
            sa.Column("created_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("answer_key"),
        )


def downgrade() -> None:
    op.drop_table("aggregate_answers")
    op.drop_index("ix_privacy_spends_actor", "privacy_spends")
    op.drop_table("privacy_spends")
    op.drop_table("privacy_budgets")
