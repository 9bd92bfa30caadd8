"""A rejected extract request keeps the approver's reason, which the requester is shown.

Revision ID: g0005
Revises: g0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import column_missing

revision = "g0005"
down_revision = "g0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if column_missing("extracts", "decision_reason"):
        op.add_column("extracts", sa.Column("decision_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("extracts") as batch:
        batch.drop_column("decision_reason")
