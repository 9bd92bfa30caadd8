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
from gateway.policy.whatif import Simulation

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


@policy_app.command("what-if")
def policy_what_if(
    proposed: Annotated[
        Path,
        typer.Argument(
            help="A proposed copy of policies/ (an agreement added, edited or ended, a rule changed). "
            "It is read, never applied."
        ),
    ],
    data_dir: DataDirOption = Path("var"),
    days: Annotated[
        int, typer.Option("--days", min=0, max=3660, help="Replay the audited requests of the last N days.")
    ] = 30,
    on: Annotated[
        str | None, typer.Option("--on", help="Decide as on this day (YYYY-MM-DD; default today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the difference as JSON.")] = False,
    policies: PoliciesOption = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
) -> None:
    """Compare the live policies with a proposed copy: every (role, department, dataset, view, purpose)
    gained or lost, or whose agreement or fields change, and the past requests of the last N days that
    would now be decided differently. Never changes the live policy."""
    import datetime as dt
    import json

    from audit.store import audit_engine
    from gateway.config import load_settings
    from gateway.datadir import DataDir
    from gateway.policy.whatif import WhatIfError, simulate_live

    try:
        day = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        _fail(f"--on must be a date like 2026-12-02, not {on!r}")
    if not proposed.is_dir():
        _fail(f"{proposed} is not a directory: pass a proposed copy of policies/")
    try:
        settings = load_settings(config, data_dir=data_dir)
    except Exception as exc:
        _fail(" ".join(str(exc).split()))
    live = policies or Path(settings.policies_dir)
    # The audited history is read only where a gateway has run; with none, only access is compared.
    audit = audit_engine(settings.audit_db_url()) if DataDir(settings.data_dir).exists() else None
    try:
        result = simulate_live(live, proposed, day, days, audit)
    except WhatIfError as exc:
        console.print(f"[red]error:[/red] the proposed policy {proposed} cannot be simulated:")
        for problem in exc.problems:
            console.print(f"  - {problem}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    _print_simulation(result)


KIND_HEADINGS = {
    "gained": "Gain access",
    "lost": "Lose access",
    "fields_changed": "Fields change",
    "basis_changed": "Allowed under another agreement or rule",
}


def _print_simulation(result: Simulation) -> None:
    """One line per change, grouped by kind, so that a long difference reads in a terminal or a log."""
    out = Console(soft_wrap=True)
    if not result.access:
        out.print(f"On {result.day}: no role, department or purpose gains or loses access.")
    for kind, heading in KIND_HEADINGS.items():
        changes = [c for c in result.access if c.kind == kind]
        if not changes:
            continue
        out.print(f"[bold]{heading} ({len(changes)})[/bold] on {result.day}:")
        for c in changes:
            q = c.question
            line = f"  {q.role} in {q.department or 'no department'}: {q.dataset} ({q.view}) for {q.purpose}"
            if kind == "gained":
                line += f", under {c.after.basis}"
            elif kind == "lost":
                line += f", was {c.before.basis}: {c.after.reason}"
            elif kind == "basis_changed":
                line += f", {c.before.basis} -> {c.after.basis}"
            fields = [*(f"+{f}" for f in c.fields_gained), *(f"-{f}" for f in c.fields_lost)]
            if fields and kind != "lost":
                line += f" [{' '.join(fields)}]"
            out.print(line, markup=False, highlight=False)
    past = f"{result.replayed} past requests replayed"
    if result.not_replayable:
        past += f" ({result.not_replayable} not decided by data-sharing policy, skipped)"
    out.print(past + f": {len(result.requests)} would now be decided differently.")
    for r in result.requests:
        e = r.event
        datasets = ", ".join(sorted({c.question.dataset for c in r.changes}))
        out.print(
            f"  {str(e.get('time', ''))[:16]} {e.get('actor')} {e.get('action')} ({e.get('purpose')}): "
            f"{r.verdict.replace('_', ' ')} [{datasets}]",
            markup=False,
            highlight=False,
        )
