"""PostgreSQL housekeeping: one database per store, created and dropped through the server's own
maintenance database."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url


def normalise(url: str | URL) -> URL:
    """Use psycopg 3 whatever driver the user wrote (`postgresql://` means psycopg2 to SQLAlchemy)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _admin(url: URL):  # noqa: ANN202 - an Engine; typed loosely to keep the import light
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _quoted(name: str | None) -> str:
    if name is None:
        raise ValueError("the URL names no database")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing unusual database name {name!r}: use letters, digits and underscores")
    return f'"{name}"'


def create_database(url: str | URL, *, replace: bool = False) -> None:
    target = normalise(url)
    engine = _admin(target)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).first()
            if exists and replace:
                conn.execute(text(f"DROP DATABASE {_quoted(target.database)} WITH (FORCE)"))
                exists = None
            if not exists:
                conn.execute(text(f"CREATE DATABASE {_quoted(target.database)}"))
    finally:
        engine.dispose()


def drop_database(url: str | URL) -> None:
    target = normalise(url)
    engine = _admin(target)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_quoted(target.database)} WITH (FORCE)"))
    finally:
        engine.dispose()
