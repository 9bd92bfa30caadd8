"""Engines for departmental stores, SQLite or PostgreSQL, with the settings each needs."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from gateway.stores.postgres import normalise


def store_engine(url: str, *, bulk_load: bool = False) -> Engine:
    """An engine for one store. `bulk_load` trades crash safety for speed while seeding a new file."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        if bulk_load:

            @event.listens_for(engine, "connect")
            def _fast(dbapi_conn, _record) -> None:  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=OFF")
                cur.execute("PRAGMA synchronous=OFF")
                cur.close()

        return engine
    return create_engine(normalise(parsed), pool_pre_ping=True)
