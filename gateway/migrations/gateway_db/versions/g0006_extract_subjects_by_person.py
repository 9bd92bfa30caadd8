"""A person's extracts are found by person id (their subject access request), not by scanning.

Revision ID: g0006
Revises: g0005
"""

from __future__ import annotations

from alembic import op

from gateway.migrations.runner import index_missing

revision = "g0006"
down_revision = "g0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if index_missing("extract_subjects", "ix_extract_subjects_person"):
        op.create_index("ix_extract_subjects_person", "extract_subjects", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_extract_subjects_person", table_name="extract_subjects")
