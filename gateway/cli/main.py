"""The `gateway` Typer application; each sub-app and command registers itself from its own module."""

from __future__ import annotations

import typer

from gateway.datadir import keep_files_private

app = typer.Typer(
    help="Governed data-sharing and privacy gateway for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _private_files() -> None:
    """Every command writes under the data dir with owner-only permissions."""
    keep_files_private()
