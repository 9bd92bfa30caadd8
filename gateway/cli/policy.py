"""Policies and demo identities: check, test and report on policies/, and issue demo tokens."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.common import (
    DataDirOption,
    PoliciesOption,
    console,
)
from gateway.cli.common import fail as _fail
from gateway.cli.main import app
from gateway.datadir import DataDir

policy_app = typer.Typer(
    help="Validate, test and report on the policies under policies/.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")


def _policies_dir(policies: Path | None) -> Path:
    from gateway.config import _default_policies_dir

    return policies or _default_policies_dir()


@app.command()
def token(
    user: Annotated[str, typer.Argument(help="A user id from policies/demo-users.yaml, e.g. cw.alice.")],
    ttl: Annotated[int, typer.Option("--ttl", min=1, max=86_400, help="Lifetime in seconds.")] = 3600,
    data_dir: DataDirOption = Path("var"),
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
) -> None:
    """Print a signed bearer token for a demo user (development issuer only; refused in production)."""
    from gateway.config import load_settings
    from gateway.identity.dev_issuer import KEY_FILE, sign_token
    from gateway.identity.users import load_demo_users

    try:
        settings = load_settings(config, data_dir=data_dir)
    except Exception as exc:
        _fail(" ".join(str(exc).split()))
    if not settings.uses_dev_issuer:
        _fail("tokens come from the identity provider here: the development issuer is off in production mode")
    data = Path(settings.data_dir)
    if not DataDir(data).exists() and not (data / KEY_FILE).is_file():
        # Signing with a fresh key here would print a token the running server rejects.
        _fail(
            f"there is no gateway data in {data.resolve()} (no stores.json, no signing key): run this "
            "from the directory where `make demo` runs, or pass --data-dir with the server's data dir"
        )
    try:
        found = load_demo_users(settings.policies_dir).get(user)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    print(sign_token(settings.data_dir, found, ttl=ttl, issuer=settings.issuer, audience=settings.audience))


@policy_app.command("check")
def policy_check(policies: PoliciesOption = None) -> None:
    """Validate everything under policies/; exit 1 with each problem on its own line."""
    from gateway.policy.check import check_policies

    folder = _policies_dir(policies)
    problems = check_policies(folder)
    for problem in problems:
        print(problem)
    if problems:
        raise typer.Exit(1)
    console.print(f"policies in {folder}: no problems")


@policy_app.command("test")
def policy_test(policies: PoliciesOption = None) -> None:
    """Run the policy tests in policies/tests/*.yaml; exit 1 if any decision differs."""
    from gateway.policy.cases import CaseFileError, run_cases

    try:
        outcomes = run_cases(_policies_dir(policies))
    except (CaseFileError, KeyError) as exc:
        _fail(str(exc))
    for o in outcomes:
        mark = "[green]pass[/green]" if o.passed else "[red]FAIL[/red]"
        Console().print(f"{mark} {o.file}: {o.case.name}")
        for failure in o.failures:
            Console().print(f"     {failure} (reason: {o.decision.reason})")
    failed = sum(not o.passed for o in outcomes)
    console.print(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed or not outcomes:
        raise typer.Exit(1)


@policy_app.command("ropa")
def policy_ropa(
    fmt: Annotated[str, typer.Option("--format", help="md or csv.")] = "md",
    policies: PoliciesOption = None,
) -> None:
    """Print the Article 30 record of processing activities, generated from the agreement registry."""
    from gateway.policy.agreements import RegistryError
    from gateway.policy.ropa import render_csv, render_markdown, ropa_rows

    if fmt not in {"md", "csv"}:
        _fail(f"--format must be md or csv, not {fmt!r}")
    try:
        rows = ropa_rows(_policies_dir(policies))
    except RegistryError as exc:
        _fail(f"the agreement registry does not load: {exc}")
    sys.stdout.write(render_csv(rows) if fmt == "csv" else render_markdown(rows))
