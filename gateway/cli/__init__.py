"""The `gateway` command line. Each command is a thin shell over a library function; each group of
commands is one module here, registered on the one Typer app in `main.py`."""

# Imported in the order `gateway --help` lists them; each module registers its commands.
from gateway.cli import stores, linking, policy, audit, db, extracts, scrub  # noqa: F401, I001
from gateway.cli.main import app

__all__ = ["app"]
