"""Baseline: the person index, extract requests and re-identifications as of the first release with
migrations. Tables that already exist (a database made before migrations) are left as they are.

Revision ID: g0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.migrations.runner import table_missing as _missing

revision = "g0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if _missing("index_runs"):
        op.create_table(
            "index_runs",
            sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("engine", sa.String(length=16), nullable=False),
            sa.Column("records", sa.Integer(), nullable=False),
            sa.Column("persons", sa.Integer(), nullable=False),
            sa.Column("households", sa.Integer(), nullable=False),
            sa.Column("families", sa.Integer(), nullable=False),
            sa.Column("match_threshold", sa.Float(), nullable=False),
            sa.Column("review_band_weight", sa.Float(), nullable=False),
            sa.Column("ids_kept", sa.Integer(), nullable=False),
            sa.Column("ids_created", sa.Integer(), nullable=False),
            sa.Column("merges", sa.Integer(), nullable=False),
            sa.Column("splits", sa.Integer(), nullable=False),
            sa.Column("retired", sa.Integer(), nullable=False),
            sa.Column("model_json", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("run_id"),
        )
    if _missing("index_persons"):
        op.create_table(
            "index_persons",
            sa.Column("person_id", sa.String(length=16), nullable=False),
            sa.Column("household_id", sa.String(length=16), nullable=False),
            sa.Column("family_id", sa.String(length=16), nullable=False),
            sa.Column("records", sa.Integer(), nullable=False),
            sa.Column("run_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["index_runs.run_id"]),
            sa.PrimaryKeyConstraint("person_id"),
        )
        op.create_index("ix_index_persons_family_id", "index_persons", ["family_id"])
        op.create_index("ix_index_persons_household_id", "index_persons", ["household_id"])
    if _missing("index_xref"):
        op.create_table(
            "index_xref",
            sa.Column("source", sa.String(length=40), nullable=False),
            sa.Column("local_id", sa.String(length=64), nullable=False),
            sa.Column("person_id", sa.String(length=16), nullable=False),
            sa.Column("match_probability", sa.Float(), nullable=True),
            sa.Column("match_weight", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("source", "local_id"),
        )
        op.create_index("ix_xref_person", "index_xref", ["person_id"])
    if _missing("index_households"):
        op.create_table(
            "index_households",
            sa.Column("household_id", sa.String(length=16), nullable=False),
            sa.Column("dwelling", sa.String(length=300), nullable=True),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("household_id"),
        )
    if _missing("index_families"):
        op.create_table(
            "index_families",
            sa.Column("family_id", sa.String(length=16), nullable=False),
            sa.Column("basis", sa.String(length=16), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("family_id"),
        )
    if _missing("index_lineage"):
        op.create_table(
            "index_lineage",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.Integer(), nullable=False),
            sa.Column("entity", sa.String(length=16), nullable=False),
            sa.Column("old_id", sa.String(length=16), nullable=False),
            sa.Column("new_id", sa.String(length=16), nullable=True),
            sa.Column("change", sa.String(length=16), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["index_runs.run_id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_index_lineage_new_id", "index_lineage", ["new_id"])
        op.create_index("ix_index_lineage_old_id", "index_lineage", ["old_id"])
    if _missing("index_review"):
        op.create_table(
            "index_review",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("run_id", sa.Integer(), nullable=False),
            sa.Column("left_id", sa.String(length=120), nullable=False),
            sa.Column("right_id", sa.String(length=120), nullable=False),
            sa.Column("match_weight", sa.Float(), nullable=False),
            sa.Column("match_probability", sa.Float(), nullable=False),
            sa.Column("linked", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["run_id"], ["index_runs.run_id"]),
            sa.PrimaryKeyConstraint("id"),
        )
    if _missing("index_labels"):
        op.create_table(
            "index_labels",
            sa.Column("left_id", sa.String(length=120), nullable=False),
            sa.Column("right_id", sa.String(length=120), nullable=False),
            sa.Column("is_match", sa.Integer(), nullable=False),
            sa.Column("reviewer", sa.String(length=120), nullable=True),
            sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("left_id", "right_id"),
        )
    if _missing("extracts"):
        op.create_table(
            "extracts",
            sa.Column("extract_id", sa.String(length=32), nullable=False),
            sa.Column("requester", sa.String(length=120), nullable=False),
            sa.Column("requester_json", sa.Text(), nullable=False),
            sa.Column("purpose", sa.String(length=64), nullable=False),
            sa.Column("project", sa.String(length=64), nullable=False),
            sa.Column("agreement_id", sa.String(length=64), nullable=False),
            sa.Column("dataset", sa.String(length=64), nullable=False),
            sa.Column("fields_json", sa.Text(), nullable=False),
            sa.Column("filters_json", sa.Text(), nullable=False),
            sa.Column("pseudonyms", sa.String(length=16), nullable=False),
            sa.Column("key_version", sa.Integer(), nullable=True),
            sa.Column("status", sa.String(length=24), nullable=False),
            sa.Column("progress", sa.Integer(), nullable=False),
            sa.Column("stage", sa.String(length=200), nullable=False),
            sa.Column("created_at", sa.String(length=32), nullable=False),
            sa.Column("decided_by", sa.String(length=120), nullable=True),
            sa.Column("decided_at", sa.String(length=32), nullable=True),
            sa.Column("finished_at", sa.String(length=32), nullable=True),
            sa.Column("expires_at", sa.String(length=32), nullable=True),
            sa.Column("rows", sa.Integer(), nullable=True),
            sa.Column("report_json", sa.Text(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("extract_id"),
        )
        op.create_index("ix_extracts_project", "extracts", ["project"])
        op.create_index("ix_extracts_status", "extracts", ["status"])
    if _missing("extract_subjects"):
        op.create_table(
            "extract_subjects",
            sa.Column("extract_id", sa.String(length=32), nullable=False),
            sa.Column("person_id", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("extract_id", "person_id"),
        )
    if _missing("extract_projects"):
        op.create_table(
            "extract_projects",
            sa.Column("project", sa.String(length=64), nullable=False),
            sa.Column("key_version", sa.Integer(), nullable=False),
            sa.Column("rotated_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("project"),
        )
    if _missing("reidentifications"):
        op.create_table(
            "reidentifications",
            sa.Column("reid_id", sa.String(length=32), nullable=False),
            sa.Column("requester", sa.String(length=120), nullable=False),
            sa.Column("project", sa.String(length=64), nullable=False),
            sa.Column("pseudonym", sa.String(length=200), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.String(length=32), nullable=False),
            sa.Column("approved_at", sa.String(length=32), nullable=True),
            sa.Column("person_id", sa.String(length=32), nullable=True),
            sa.PrimaryKeyConstraint("reid_id"),
        )
    if _missing("reidentification_approvals"):
        op.create_table(
            "reidentification_approvals",
            sa.Column("reid_id", sa.String(length=32), nullable=False),
            sa.Column("approver", sa.String(length=120), nullable=False),
            sa.Column("approved_at", sa.String(length=32), nullable=False),
            sa.PrimaryKeyConstraint("reid_id", "approver"),
        )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore from a backup instead")
