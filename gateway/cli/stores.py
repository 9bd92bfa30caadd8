"""Seeding the synthetic borough, serving the gateway, and the demo that does both."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli.common import (
    DataDirOption,
    console,
)
from gateway.cli.common import fail as _fail
from gateway.cli.main import app
from gateway.datadir import DataDir


@app.command()
def seed(
    people: Annotated[
        int, typer.Option("--people", min=10, help="Residents in the synthetic borough.")
    ] = 20_000,
    data_dir: DataDirOption = Path("var"),
    seed_value: Annotated[
        int, typer.Option("--seed", help="Same seed, same stores, byte for byte.")
    ] = 20260331,
    dsn_prefix: Annotated[
        str | None,
        typer.Option(
            "--dsn-prefix",
            help="Write PostgreSQL databases named <prefix><store> instead of SQLite files, "
            "e.g. postgresql://postgres@127.0.0.1:5432/borough_",
        ),
    ] = None,
    noise_file: Annotated[
        Path | None, typer.Option("--noise", exists=True, dir_okay=False, help="YAML overriding noise rates.")
    ] = None,
    as_of: Annotated[
        str, typer.Option("--as-of", help="The date the borough is described at (YYYY-MM-DD).")
    ] = "2026-03-31",
) -> None:
    """Write the synthetic departmental stores plus a hidden ground-truth file for linkage evaluation."""
    from gateway.seed import seed as run_seed
    from gateway.synth.noise import load_noise_config

    try:
        as_of_date = dt.date.fromisoformat(as_of)
    except ValueError:
        _fail(f"--as-of must be a date like 2026-03-31, not {as_of!r}")
    try:
        noise = load_noise_config(noise_file)
    except Exception as exc:  # pydantic or YAML errors: say which key is wrong
        _fail(f"noise file {noise_file}: {exc}")
    try:
        result = run_seed(data_dir, people, seed_value, dsn_prefix, noise, as_of_date, show_progress=True)
    except Exception as exc:
        _fail(str(exc).splitlines()[0])
    table = Table(title=f"Synthetic borough: {result.people:,} residents in {result.households:,} households")
    table.add_column("store")
    table.add_column("person records", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("database")
    for store in result.records:
        table.add_row(store, f"{result.records[store]:,}", f"{result.rows[store]:,}", result.urls[store])
    Console().print(table)
    console.print(f"ground truth (never read by the gateway): {DataDir(data_dir).truth_dir}/identity.csv")


@app.command()
def serve(
    data_dir: DataDirOption = Path("var"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
    nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="Run this process N steps below normal CPU priority: for a replica that serves "
            "analysts (your proxy sends it /v1/aggregates and /v1/extracts) beside the replicas that "
            "serve caseworkers on the same machine, so a flood of tables waits for them "
            "(docs/performance.md).",
        ),
    ] = 0,
) -> None:
    """Run the HTTP service."""
    import logging
    import os

    import uvicorn

    from gateway.api.app import create_app
    from gateway.config import load_settings
    from gateway.migrations.runner import SchemaOutOfDate
    from gateway.production import ProductionNotReady
    from gateway.telemetry.tracing import RedactedAccessLog

    try:
        settings = load_settings(config, data_dir=data_dir, host=host, port=port)
        service = create_app(settings)
    except (ProductionNotReady, SchemaOutOfDate) as exc:
        _fail(str(exc), code=2)
    except Exception as exc:
        _fail(str(exc))
    # Production writes no access-log line per request: the audit log is the record of every request.
    access_log = settings.access_log if settings.access_log is not None else settings.mode != "production"
    # The line names the path with its ids and query values redacted, as spans do (a subject search's
    # query holds a name and a date of birth).
    logging.getLogger("uvicorn.access").addFilter(RedactedAccessLog())
    if nice:
        os.nice(nice)  # lowering one's own priority needs no privilege
    uvicorn.run(service, host=settings.host, port=settings.port, log_level="info", access_log=access_log)


@app.command()
def demo(
    people: Annotated[int, typer.Option("--people", min=10, help="Residents, when seeding.")] = 20_000,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = Path("var"),
) -> None:
    """Seed the synthetic borough (if absent), link it (if not yet linked), serve it on http://127.0.0.1:PORT."""
    from gateway.analysis.store import AnalysisStore
    from gateway.cli.linking import run_link, run_refresh
    from gateway.index.store import IndexStore

    dd = DataDir(data_dir)
    if dd.exists():
        console.print(f"reusing the stores in {data_dir} (delete it to start afresh)")
    else:
        seed(
            people=people,
            data_dir=data_dir,
            seed_value=20260331,
            dsn_prefix=None,
            noise_file=None,
            as_of="2026-03-31",
        )
    if IndexStore(dd.index_url()).exists():
        console.print("reusing the person index (run `gateway link` to rebuild it)")
        if not AnalysisStore(dd.analysis_url()).exists():
            run_refresh(dd)
    else:
        run_link(data_dir)
    token_command = f"TOKEN=$(.venv/bin/gateway token cw.alice --data-dir {data_dir})"
    curl = f'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{port}/v1/me'
    console.print(f"in a browser: http://127.0.0.1:{port}/ui/ (pick a demo user)")
    console.print(f"from the command line: {token_command}; {curl}")
    serve(data_dir=data_dir, host="127.0.0.1", port=port, config=None)
