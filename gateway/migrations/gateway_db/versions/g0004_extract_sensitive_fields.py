"""Extract requests may name fields to hold l-diverse besides the agreement's sensitive fields.

Revision ID: g0004
Revises: g0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import column_missing

revision = "g0004"
down_revision = "g0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_missing("extracts", "sensitive_json"):
        op.add_column("extracts", sa.Column("sensitive_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("extracts") as batch:
        batch.drop_column("sensitive_json")
