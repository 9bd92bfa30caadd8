"""The gateway's own database: the person index, households, families, lineage and review queue.

Embedded default: `<data-dir>/gateway.db` (SQLite); production: any PostgreSQL URL (`--index-url`).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = 16  # prefix + 12 base32 characters, with room to spare

runs = Table(
    "index_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("records", Integer, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("households", Integer, nullable=False),
    Column("families", Integer, nullable=False),
    Column("match_threshold", Float, nullable=False),
    Column("review_band_weight", Float, nullable=False),
    Column("ids_kept", Integer, nullable=False),
    Column("ids_created", Integer, nullable=False),
    Column("merges", Integer, nullable=False),
    Column("splits", Integer, nullable=False),
    Column("retired", Integer, nullable=False),
    Column("model_json", Text, nullable=False),
)

persons = Table(
    "index_persons",
    metadata,
    Column("person_id", String(ID), primary_key=True),
    Column("household_id", String(ID), nullable=False, index=True),
    Column("family_id", String(ID), nullable=False, index=True),
    Column("records", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("index_runs.run_id"), nullable=False),
)

xref = Table(
    "index_xref",
    metadata,
    Column("source", String(40), primary_key=True),
    Column("local_id", String(64), primary_key=True),
    Column("person_id", String(ID), nullable=False),
    # The strongest link from this record to another record of the same person (None: no other record).
    Column("match_probability", Float),
    Column("match_weight", Float),
    Index("ix_xref_person", "person_id"),
)

households = Table(
    "index_households",
    metadata,
    Column("household_id", String(ID), primary_key=True),
    Column("dwelling", String(300)),  # "uprn:<n>" or "address:<line|postcode>", None if unknown
    Column("size", Integer, nullable=False),
)

families = Table(
    "index_families",
    metadata,
    Column("family_id", String(ID), primary_key=True),
    Column("basis", String(16), nullable=False),  # declared | co-resident
    Column("size", Integer, nullable=False),
)

lineage = Table(
    "index_lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("index_runs.run_id"), nullable=False),
    Column("entity", String(16), nullable=False),  # person | household | family
    Column("old_id", String(ID), nullable=False, index=True),
    Column("new_id", String(ID), index=True),
    Column("change", String(16), nullable=False),  # merge | split | retired
)

review = Table(
    "index_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("index_runs.run_id"), nullable=False),
    Column("left_id", String(120), nullable=False),
    Column("right_id", String(120), nullable=False),
    Column("match_weight", Float, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("linked", Integer, nullable=False),  # 1 if the index put both records in one person
)

labels = Table(
    "index_labels",
    metadata,
    Column("left_id", String(120), primary_key=True),
    Column("right_id", String(120), primary_key=True),
    Column("is_match", Integer, nullable=False),
    Column("reviewer", String(120)),
    Column("labelled_at", DateTime(timezone=True), nullable=False),
)
