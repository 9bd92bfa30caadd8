"""Baseline: the hash-chained events and the signed checkpoints as of the first release with
migrations. Tables that already exist (an audit store made before migrations) are left as they are.

Revision ID: a0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing as _missing

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if _missing("audit_events"):
        op.create_table(
            "audit_events",
            sa.Column(
                "seq",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                autoincrement=False,
                nullable=False,
            ),
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("time", sa.String(length=32), nullable=False),
            sa.Column("actor", sa.String(length=200), nullable=False),
            sa.Column("roles", sa.Text(), nullable=False),
            sa.Column("action", sa.String(length=40), nullable=False),
            sa.Column("resource", sa.String(length=300), nullable=False),
            sa.Column("subject_ids", sa.Text(), nullable=False),
            sa.Column("purpose", sa.String(length=100), nullable=True),
            sa.Column("agreement_id", sa.String(length=60), nullable=True),
            sa.Column("decision", sa.String(length=5), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("fields_released", sa.Text(), nullable=False),
            sa.Column("rows_released", sa.Integer(), nullable=False),
            sa.Column("disclosure_applied", sa.Text(), nullable=False),
            sa.Column("break_glass", sa.Boolean(), nullable=False),
            sa.Column("trace_id", sa.String(length=64), nullable=False),
            sa.Column("status", sa.Integer(), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("seq"),
            sa.UniqueConstraint("id"),
        )
        op.create_index("ix_audit_actor", "audit_events", ["actor"])
        op.create_index("ix_audit_time", "audit_events", ["time"])
    if _missing("audit_checkpoints"):
        op.create_table(
            "audit_checkpoints",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("head_hash", sa.String(length=64), nullable=False),
            sa.Column("time", sa.String(length=32), nullable=False),
            sa.Column("key_id", sa.String(length=32), nullable=False),
            sa.Column("signature", sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )


def downgrade() -> None:
    raise NotImplementedError("the audit log is never migrated down: restore from a backup instead")
