"""Fast, deterministic bulk loading of a store: SQLite executemany or PostgreSQL COPY.

Rows are sorted by primary key before loading so that a table's physical order says nothing about the
order the generator produced them in (which would otherwise leak who is who across stores), and so
that the same rows always give a byte-identical SQLite file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter

from sqlalchemy import Date, Engine, MetaData, Table
from sqlalchemy.schema import CreateIndex, CreateTable

Progress = Callable[[int], None]
CHUNK = 50_000


def _sqlite_rows(table: Table, rows: Sequence[tuple]) -> Iterable[tuple]:
    date_cols = [k for k, c in enumerate(table.columns) if isinstance(c.type, Date)]
    if not date_cols:
        return rows

    def convert(row: tuple) -> tuple:
        out = list(row)
        for k in date_cols:
            v = out[k]
            if isinstance(v, dt.date):
                out[k] = v.isoformat()
        return tuple(out)

    return [convert(r) for r in rows]


def load_store(
    engine: Engine, md: MetaData, rows: dict[str, list[dict]], advance: Progress | None = None
) -> None:
    """Create the store's tables, load every row, then build the indexes (faster than the other way)."""
    unknown = set(rows) - set(md.tables)
    if unknown:
        raise ValueError(f"rows for tables the schema does not define: {sorted(unknown)}")
    is_sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        md.drop_all(conn)
        for table in md.sorted_tables:
            conn.execute(CreateTable(table))
    for table in md.sorted_tables:
        cols = [c.name for c in table.columns]
        getter = itemgetter(*cols)
        pk = [cols.index(c.name) for c in table.primary_key.columns]
        data = [getter(r) if len(cols) > 1 else (getter(r),) for r in rows.get(table.name, [])]
        data.sort(key=itemgetter(*pk))
        if is_sqlite:
            sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
            with engine.begin() as conn:
                for start in range(0, len(data), CHUNK):
                    chunk = data[start : start + CHUNK]
                    conn.exec_driver_sql(sql, list(_sqlite_rows(table, chunk)))
                    if advance:
                        advance(len(chunk))
        else:
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                with cur.copy(f'COPY "{table.name}" ({", ".join(cols)}) FROM STDIN') as copy:
                    for n, row in enumerate(data, 1):
                        copy.write_row(row)
                        if advance and n % CHUNK == 0:
                            advance(CHUNK)
                raw.commit()
                if advance:
                    advance(len(data) % CHUNK)
            finally:
                raw.close()
    with engine.begin() as conn:
        for table in md.sorted_tables:
            for index in sorted(table.indexes, key=lambda i: i.name or ""):
                conn.execute(CreateIndex(index))
