"""What every command shares: the console, the data-dir, policies and config options, and failing
with a sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)  # whole lines: errors end up in logs

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="GATEWAY_DATA_DIR",
        help="Where stores, indexes and keys live.",
        show_default=True,
    ),
]


PoliciesOption = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        envvar="GATEWAY_POLICIES_DIR",
        help="Policy directory holding linkage.yaml (default: the project's policies/).",
    ),
]

AnalysisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--analysis-url",
        help="Write the analysis store to this database (default: DuckDB file analysis.duckdb in the data "
        "dir; or a PostgreSQL URL) and remember it in stores.json.",
    ),
]
OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        envvar="GATEWAY_OPERATOR",
        help="Who runs this, as the audit log names them (default: your login name).",
    ),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML settings file.")]


def fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
