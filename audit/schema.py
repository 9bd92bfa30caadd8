"""Audit tables. Events are only ever INSERTed and SELECTed (on PostgreSQL, enforced by grants)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("time", String(32), nullable=False),  # ISO 8601 UTC, kept as text so the hash input is exact
    Column("actor", String(200), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list
    Column("action", String(40), nullable=False),
    Column("resource", String(300), nullable=False),
    Column("subject_ids", Text, nullable=False),  # JSON list of person ids
    Column("purpose", String(100)),
    Column("agreement_id", String(60)),
    Column("decision", String(5), nullable=False),  # allow | deny
    Column("reason", Text, nullable=False),
    Column("fields_released", Text, nullable=False),  # JSON list
    Column("rows_released", Integer, nullable=False),
    Column("disclosure_applied", Text, nullable=False),  # JSON object
    Column("break_glass", Boolean, nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("status", Integer, nullable=False),  # the HTTP status the caller received
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_actor", "actor"),
    Index("ix_audit_time", "time"),
)

checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("time", String(32), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(200), nullable=False),  # base64 Ed25519 signature
)
