"""Files partners send in under an agreement (issue 23): each exchange, and its records matched to the
person index (the person ids stay inside the gateway; partners see counts only).

Revision ID: g0008
Revises: g0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing

revision = "g0008"
down_revision = "g0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_missing("exchanges"):
        op.create_table(
            "exchanges",
            sa.Column("exchange_id", sa.String(length=32), nullable=False),
            sa.Column("agreement_id", sa.String(length=60), nullable=False),
            sa.Column("schema_name", sa.String(length=60), nullable=False),
            sa.Column("schema_version", sa.String(length=16), nullable=False),
            sa.Column("uploader", sa.String(length=200), nullable=False),
            sa.Column("received_at", sa.String(length=32), nullable=False),
            sa.Column("filename", sa.String(length=200), nullable=False),
            sa.Column("rows", sa.Integer(), nullable=False),
            sa.Column("matched", sa.Integer(), nullable=False),
            sa.Column("possible", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.PrimaryKeyConstraint("exchange_id"),
        )
    if table_missing("exchange_records"):
        op.create_table(
            "exchange_records",
            sa.Column("exchange_id", sa.String(length=32), nullable=False),
            sa.Column("row_number", sa.Integer(), nullable=False),
            sa.Column("person_id", sa.String(length=16), nullable=True),
            sa.Column("match_probability", sa.Float(), nullable=True),
            sa.Column("record_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("exchange_id", "row_number"),
        )
        op.create_index("ix_exchange_records_person", "exchange_records", ["person_id"])


def downgrade() -> None:
    op.drop_table("exchange_records")
    op.drop_table("exchanges")
