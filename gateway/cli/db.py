"""Schema migrations for the gateway database and the audit store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
    ConfigOption,
    DataDirOption,
    console,
)
from gateway.cli.common import fail as _fail
from gateway.cli.main import app
from gateway.datadir import safe_url

db_app = typer.Typer(
    help="Schema migrations for the gateway database and the audit store.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
SchemaOption = Annotated[
    list[str] | None,
    typer.Option("--only", help="Only this schema: gateway or audit (repeatable). Default: both."),
]


def _schema_targets(data_dir: Path, config: Path | None, only: list[str] | None) -> list[tuple[str, str]]:
    from gateway.config import load_settings

    try:
        settings = load_settings(config, data_dir=data_dir)
    except Exception as exc:
        _fail(str(exc))
    chosen = only or ["gateway", "audit"]
    unknown = sorted(set(chosen) - {"gateway", "audit"})
    if unknown:
        _fail(f"unknown schema {', '.join(unknown)}: choose gateway or audit")
    urls = {"gateway": settings.gateway_db_url(), "audit": settings.audit_db_url()}
    return [(name, urls[name]) for name in chosen]


@db_app.command("upgrade")
def db_upgrade(
    data_dir: DataDirOption = Path("var"),
    config: ConfigOption = None,
    only: SchemaOption = None,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the DDL from an empty database instead of running it.")
    ] = False,
) -> None:
    """Bring the gateway database and the audit store to this release's schema (run once per release,
    before the new processes start; the Helm chart's migration Job runs this)."""
    from gateway.migrations import runner as migrations

    for name, url in _schema_targets(data_dir, config, only):
        if sql:
            print(f"-- {name} schema at {safe_url(url)}")
            print(migrations.upgrade_sql(url, name))
            continue
        try:
            before = migrations.current(url, name)
        except Exception:
            before = None  # the PostgreSQL database does not exist yet: upgrade creates it
        try:
            revision = migrations.upgrade(url, name)
        except Exception as exc:
            _fail(
                f"{name} schema at {safe_url(url)} could not be upgraded: {' '.join(str(exc).split())[:300]}"
            )
        change = "already at" if before == revision else f"{before or 'empty'} ->"
        console.print(f"{name}: {change} {revision} ({safe_url(url)})")


@db_app.command("current")
def db_current(
    data_dir: DataDirOption = Path("var"), config: ConfigOption = None, only: SchemaOption = None
) -> None:
    """Print each schema's revision and this release's head; exit 1 if any is behind."""
    from gateway.migrations import runner as migrations

    behind = False
    for name, url in _schema_targets(data_dir, config, only):
        try:
            at = migrations.current(url, name)
        except Exception as exc:
            at = None
            console.print(f"{name}: cannot be read ({type(exc).__name__})")
        want = migrations.head(name)
        behind |= at != want
        print(f"{name} {at or 'none'} head {want}{'' if at == want else ' (run gateway db upgrade)'}")
    if behind:
        raise typer.Exit(1)
