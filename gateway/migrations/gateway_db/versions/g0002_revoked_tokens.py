"""Revoked sessions: the SHA-256 of each bearer token signed out before it expired, shared by every
replica, so a signed-out token is refused everywhere (kept until the token would have expired anyway).

Revision ID: g0002
Revises: g0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing as _missing

revision = "g0002"
down_revision = "g0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if _missing("revoked_tokens"):
        op.create_table(
            "revoked_tokens",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("token_hash"),
        )


def downgrade() -> None:
    op.drop_table("revoked_tokens")
