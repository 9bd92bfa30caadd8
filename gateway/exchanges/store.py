"""Partner exchanges kept in the gateway database (migration g0008): one row per file received, one per
record with the index person it matched. Written in one transaction: a file is kept whole or not at all."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Engine, Float, Index, Integer, MetaData, String, Table, Text, insert, select

metadata = MetaData()
exchanges = Table(
    "exchanges",
    metadata,
    Column("exchange_id", String(32), primary_key=True),
    Column("agreement_id", String(60), nullable=False),
    Column("schema_name", String(60), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("uploader", String(200), nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("possible", Integer, nullable=False),
    Column("status", String(16), nullable=False),
)
exchange_records = Table(
    "exchange_records",
    metadata,
    Column("exchange_id", String(32), primary_key=True),
    Column("row_number", Integer, primary_key=True),
    Column("person_id", String(16)),
    Column("match_probability", Float),
    Column("record_json", Text, nullable=False),
    Index("ix_exchange_records_person", "person_id"),
)


class ExchangeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, row: dict[str, Any], records: list[tuple[dict[str, Any], str | None, float | None]]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(exchanges).values(**row))
            if records:
                conn.execute(
                    insert(exchange_records),
                    [
                        {
                            "exchange_id": row["exchange_id"],
                            "row_number": n,
                            "person_id": person,
                            "match_probability": probability,
                            "record_json": json.dumps(record, sort_keys=True),
                        }
                        for n, (record, person, probability) in enumerate(records, start=1)
                    ],
                )

    def get(self, exchange_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(exchanges).where(exchanges.c.exchange_id == exchange_id)).first()
        return dict(found._mapping) if found else None

    def person_ids(self, exchange_id: str) -> list[str]:
        with self.engine.connect() as conn:
            q = select(exchange_records.c.person_id).where(
                exchange_records.c.exchange_id == exchange_id, exchange_records.c.person_id.is_not(None)
            )
            return sorted({r[0] for r in conn.execute(q)})
