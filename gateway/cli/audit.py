"""The tamper-evident audit log: verify the chain, print the checkpoint public key."""

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

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDirOption = Path("var"),
    config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The checkpoint key's public half (PEM, from `gateway audit public-key`): an auditor "
            "verifies without the private key. Default: derived from the configured checkpoint key.",
        ),
    ] = None,
    max_unsealed: Annotated[
        float | None,
        typer.Option(
            "--max-unsealed-seconds",
            help="Fail when the oldest unsigned event is older than this. Default: the sealing "
            "interval (audit_checkpoint_seconds) plus 30 s.",
        ),
    ] = None,
) -> None:
    """Verify the audit chain against its signed checkpoints and its witness: `OK <entries> <head-hash>`,
    or `BAD <seq>: <problem>` naming the first bad event (exit 1). Never creates a key."""
    from audit.open import max_unsealed_seconds, open_audit
    from audit.signing import load_public
    from audit.verify import verify_chain
    from audit.witness import Witness
    from gateway.config import load_settings

    try:
        settings = load_settings(config, data_dir=data_dir)
        key_file = settings.audit_key_file or settings.datadir().audit_key
        if public_key is None and not Path(key_file).is_file():
            _fail(
                f"the checkpoint key {key_file} is missing: verification needs its public half "
                "(--public-key FILE, from `gateway audit public-key` where the key is held); "
                "it does not make a new key"
            )
        store = open_audit(settings, create_key=False) if public_key is None else None
        if store is None:
            from audit.store import audit_engine

            anchor = (
                settings.audit_anchor_dir or settings.audit_anchor_file or settings.datadir().audit_anchor
            )
            assert public_key is not None
            engine, key = audit_engine(settings.audit_db_url()), load_public(public_key)
            witness: Witness | Path | None = Path(anchor)
            retired = tuple(load_public(p) for p in settings.audit_retired_keys)
        else:
            engine, key, retired = store.engine, store.key.public, store.retired_keys
            witness = store.witness
        limit = max_unsealed if max_unsealed is not None else max_unsealed_seconds(settings)
        result = verify_chain(engine, key, witness, retired, max_unsealed_seconds=limit)
    except typer.Exit:
        raise
    except Exception as exc:
        _fail(f"cannot read the audit log: {' '.join(str(exc).split())[:300]}")
    engine.dispose()
    for warning in result.warnings:
        console.print(f"WARNING {warning}")
    if result.ok:
        print(f"OK {result.entries} {result.head_hash}")
        if result.unsealed:
            console.print(
                f"{result.unsealed} newest events are chained and witnessed, "
                "not yet under a signed checkpoint"
            )
        return
    print(f"BAD {result.first_bad}: {result.problem}")
    raise typer.Exit(1)


@audit_app.command("public-key")
def audit_public_key(data_dir: DataDirOption = Path("var"), config: ConfigOption = None) -> None:
    """Print the checkpoint key's public half (PEM): keep it before rotating the key (audit_retired_keys),
    or give it to whoever verifies the log independently."""
    from audit.signing import CheckpointKey, public_pem
    from gateway.config import load_settings

    try:
        settings = load_settings(config, data_dir=data_dir)
        key = CheckpointKey.load(settings.audit_key_file or settings.datadir().audit_key)
    except Exception as exc:
        _fail(f"cannot read the checkpoint key: {exc}")
    print(public_pem(key.public), end="")
    console.print(f"key id {key.key_id}")
