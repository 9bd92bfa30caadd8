"""Schema migrations for the two databases the gateway owns: its own (person index, extract requests,
re-identifications) and the audit store.

Each has its own Alembic script directory and its own version table, so both may live in one PostgreSQL
database or in two. Demo mode and the command-line tools upgrade on first use; production mode only
checks that each schema is at its head and refuses to start otherwise, because schema changes there are
a deliberate step (`gateway db upgrade`, the Helm chart's migration Job) run once, not by every replica
racing at start-up. Upgrades take a PostgreSQL advisory lock, so two upgraders queue instead of colliding.

Databases made before migrations existed hold the tables but no version row: the baseline revisions
create only the tables that are missing, so upgrading such a database adopts it in place.
"""

from __future__ import annotations

import fcntl
import io
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from gateway.stores.postgres import create_database, normalise

MIGRATION_LOCK = 727_726_2  # advisory lock id for schema upgrades (PostgreSQL)


@dataclass(frozen=True)
class Schema:
    name: str  # "gateway" or "audit": what the operator calls it
    scripts: Path
    version_table: str


SCHEMAS = {
    "gateway": Schema("gateway", Path(__file__).resolve().parent / "gateway_db", "alembic_version_gateway"),
    "audit": Schema(
        "audit", Path(__file__).resolve().parents[2] / "audit" / "migrations", "alembic_version_audit"
    ),
}


class SchemaOutOfDate(RuntimeError):
    """The database's schema is not the one this release was written for; nothing was changed."""


def _config(schema: Schema, *, connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(schema.scripts))
    cfg.attributes["version_table"] = schema.version_table
    if connection is not None:
        cfg.attributes["connection"] = connection
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername.startswith("postgresql"):
        return create_engine(normalise(parsed), connect_args={"connect_timeout": 10})
    return create_engine(parsed)


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    """Embedded databases: an exclusive lock on a file beside the database, held for the upgrade, so
    two processes starting together on one data directory (demo mode) do not both create the tables."""
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _connected(url: str) -> Iterator[Connection]:
    parsed = make_url(url)
    embedded = not parsed.drivername.startswith("postgresql")
    engine = _engine(url)
    try:
        with _file_lock(parsed.database if embedded else None), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            yield conn
    finally:
        engine.dispose()


def run_environment() -> None:
    """The body of each schema's env.py: both run the same way, only the version table differs."""
    from alembic import context

    config = context.config
    version_table = config.attributes["version_table"]
    if context.is_offline_mode():
        context.configure(url=config.attributes["url"], literal_binds=True, version_table=version_table)
    else:
        context.configure(
            connection=config.attributes["connection"], version_table=version_table, render_as_batch=True
        )
    with context.begin_transaction():
        context.run_migrations()


def table_missing(table: str) -> bool:
    """For baselines: create only what a database made before migrations lacks (offline: everything)."""
    from alembic import context, op
    from sqlalchemy import inspect

    if context.is_offline_mode():
        return True
    return not inspect(op.get_bind()).has_table(table)


def index_missing(table: str, index: str) -> bool:
    """For migrations that add an index: true if `table` has no index of that name yet."""
    from alembic import context, op
    from sqlalchemy import inspect

    if context.is_offline_mode():
        return True
    return index not in {i["name"] for i in inspect(op.get_bind()).get_indexes(table)}


def column_missing(table: str, column: str) -> bool:
    """For migrations that add a column: true if `table` lacks `column` on the database being upgraded."""
    from alembic import context, op
    from sqlalchemy import inspect

    if context.is_offline_mode():
        return True
    return column not in {c["name"] for c in inspect(op.get_bind()).get_columns(table)}


def head(name: str) -> str:
    schema = SCHEMAS[name]
    revision = ScriptDirectory.from_config(_config(schema)).get_current_head()
    assert revision is not None, f"no migrations for {name}"
    return revision


def current(url: str, name: str) -> str | None:
    """The revision the database is at (None: never migrated, or the database does not exist yet)."""
    schema = SCHEMAS[name]
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": schema.version_table})
            return ctx.get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str, name: str) -> str:
    """Bring the schema to head (creating the PostgreSQL database if missing); returns the revision."""
    schema = SCHEMAS[name]
    parsed = make_url(url)
    if parsed.drivername.startswith("postgresql"):
        create_database(url)
    elif parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # a new data directory
    with _connected(url) as conn:
        command.upgrade(_config(schema, connection=conn), "head")
    return head(name)


def upgrade_sql(url: str, name: str) -> str:
    """The DDL an upgrade from nothing would run, for a DBA to review or apply by hand."""
    schema = SCHEMAS[name]
    out = io.StringIO()
    with redirect_stdout(out):
        command.upgrade(
            _config(schema, url=str(normalise(url)) if "postgres" in url else url), "head", sql=True
        )
    return out.getvalue()


def require_head(url: str, name: str) -> None:
    """Refuse to run against a schema this release was not written for (production start-up)."""
    try:
        at = current(url, name)
    except Exception as exc:
        raise SchemaOutOfDate(
            f"the {name} database cannot be read ({type(exc).__name__}): "
            "check its URL, then run `gateway db upgrade`"
        ) from exc
    want = head(name)
    if at != want:
        raise SchemaOutOfDate(
            f"the {name} database schema is at {at or 'no revision'}, this release needs {want}: "
            "run `gateway db upgrade` (the Helm chart's migration Job) first"
        )
