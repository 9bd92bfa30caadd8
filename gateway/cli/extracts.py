"""De-identified extracts: key rotation and expiry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
    DataDirOption,
    console,
)
from gateway.cli.common import fail as _fail
from gateway.cli.main import app
from gateway.datadir import DataDir

extracts_app = typer.Typer(help="De-identified extracts: key rotation and expiry.", no_args_is_help=True)
app.add_typer(extracts_app, name="extracts")


@extracts_app.command("rotate")
def extracts_rotate(
    project: Annotated[str, typer.Argument(help="The project whose pseudonymisation key is rotated.")],
    data_dir: DataDirOption = Path("var"),
) -> None:
    """Rotate a project's pseudonymisation key: its next extracts get new pseudonyms, and each holder of
    an earlier extract can fetch the old -> new mapping from GET /v1/extracts/{id}/rotation."""
    from gateway.extracts.store import ExtractStore

    store = ExtractStore(DataDir(data_dir).index_url())
    try:
        store.create()
        if not store.known_project(project):
            _fail(f"there is no project {project!r} (no extract has used it)")
        version = store.rotate(project)
    finally:
        store.dispose()
    console.print(f"project {project} now uses key version {version}")


@extracts_app.command("expire")
def extracts_expire(data_dir: DataDirOption = Path("var")) -> None:
    """Delete the files of every extract past its expiry date (the server also does this as it runs)."""
    from gateway.extracts.service import expire_due
    from gateway.extracts.store import ExtractStore

    dd = DataDir(data_dir)
    store = ExtractStore(dd.index_url())
    try:
        store.create()
        gone = expire_due(dd, store)
    finally:
        store.dispose()
    console.print(f"{len(gone)} extract(s) expired and deleted")
