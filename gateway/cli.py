"""The `gateway` command line. Each command is a thin shell over a library function."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.datadir import DataDir, keep_files_private, safe_url

app = typer.Typer(
    help="Governed data-sharing and privacy gateway for public services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # whole lines: errors end up in logs


@app.callback()
def _private_files() -> None:
    """Every command writes under the data dir with owner-only permissions."""
    keep_files_private()


DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="GATEWAY_DATA_DIR",
        help="Where stores, indexes and keys live.",
        show_default=True,
    ),
]


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


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
    from gateway.synth.noise import load_noise_config
    from gateway.synth.seed import seed as run_seed

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
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.config import load_settings
    from gateway.migrations.runner import SchemaOutOfDate
    from gateway.production import ProductionNotReady

    try:
        settings = load_settings(config, data_dir=data_dir, host=host, port=port)
        service = create_app(settings)
    except (ProductionNotReady, SchemaOutOfDate) as exc:
        _fail(str(exc), code=2)
    except Exception as exc:
        _fail(str(exc))
    uvicorn.run(service, host=settings.host, port=settings.port, log_level="info")


PoliciesOption = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        envvar="GATEWAY_POLICIES_DIR",
        help="Policy directory holding linkage.yaml (default: the project's policies/).",
    ),
]

link_app = typer.Typer(
    help="Build the person index (records -> people, households, families), evaluate it, review it.",
    no_args_is_help=False,
)
app.add_typer(link_app, name="link")
index_app = typer.Typer(help="Read the person index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _profile(policies: Path | None):  # noqa: ANN202 - the type lives in a lazily imported module
    from gateway.config import _default_policies_dir
    from gateway.linkage.profile import ProfileError, load_profile

    try:
        return load_profile(policies or _default_policies_dir())
    except ProfileError as exc:
        _fail(str(exc))


def _require_stores(dd: DataDir) -> None:
    if not dd.exists():
        _fail(f"no departmental stores in {dd.root}: run `gateway seed --data-dir {dd.root}` first")


def run_link(data_dir: Path, engine: str = "duckdb", policies: Path | None = None) -> None:
    from gateway.index.build import build_index
    from gateway.linkage.engines import EngineUnavailable

    dd = DataDir(data_dir)
    _require_stores(dd)
    profile = _profile(policies)
    try:
        with console.status("linking", spinner="dots") as status:
            summary = build_index(dd, engine=engine, profile=profile, progress=lambda m: status.update(m))
    except EngineUnavailable as exc:
        _fail(str(exc))
    table = Table(title=f"Person index (run {summary.run_id}, {summary.engine}, {summary.seconds:.1f} s)")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in (
        ("store records", summary.records),
        ("persons", summary.persons),
        ("households", summary.households),
        ("families", summary.families),
        ("person ids kept from the last run", summary.ids_kept),
        ("person ids created", summary.ids_created),
        ("merges / splits / retired", f"{summary.merges} / {summary.splits} / {summary.retired}"),
        ("pairs for clerical review", summary.review_pairs),
    ):
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    Console().print(table)
    console.print(f"index written to {safe_url(dd.index_url())} (threshold {profile.match_threshold})")
    run_refresh(dd)


def run_refresh(dd: DataDir) -> None:
    """Rebuild the linked analysis store from the stores and the current index."""
    from gateway.analysis.build import build_analysis
    from gateway.index.store import IndexStore

    if not IndexStore(dd.index_url()).exists():
        _fail(f"no person index in {dd.root}: run `gateway link --data-dir {dd.root}` first")
    with console.status("building the analysis store", spinner="dots") as status:
        summary = build_analysis(dd, progress=lambda m: status.update(m))
    rows = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items())
    console.print(f"analysis store written to {safe_url(summary.url)} in {summary.seconds:.1f} s: {rows}")


AnalysisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--analysis-url",
        help="Write the analysis store to this database (default: DuckDB file analysis.duckdb in the data "
        "dir; or a PostgreSQL URL) and remember it in stores.json.",
    ),
]


@link_app.callback(invoke_without_command=True)
def link(
    ctx: typer.Context,
    data_dir: DataDirOption = Path("var"),
    engine: Annotated[
        str, typer.Option("--engine", help="Where linkage runs: duckdb (embedded) or spark (gateway[spark]).")
    ] = "duckdb",
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url",
            help="Write the index to this database (e.g. a PostgreSQL URL) and remember it in stores.json.",
        ),
    ] = None,
    analysis_url: AnalysisUrlOption = None,
    policies: PoliciesOption = None,
) -> None:
    """Build or rebuild the person index and households from all stores, then the analysis store."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.linkage.engines import ENGINES

    if engine not in ENGINES:
        _fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    dd = DataDir(data_dir)
    if index_url or analysis_url:
        _require_stores(dd)
    if index_url:
        dd.set_index_url(index_url)
    if analysis_url:
        dd.set_analysis_url(analysis_url)
    run_link(data_dir, engine, policies)


@app.command()
def refresh(data_dir: DataDirOption = Path("var"), analysis_url: AnalysisUrlOption = None) -> None:
    """Rebuild the linked analysis store (analyst tables) from the stores and the current person index,
    without relinking. Record keys for perturbation are kept from the last build."""
    dd = DataDir(data_dir)
    _require_stores(dd)
    if analysis_url:
        dd.set_analysis_url(analysis_url)
    run_refresh(dd)


@link_app.command("evaluate")
def link_evaluate(
    data_dir: DataDirOption = Path("var"),
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="CSV with source,local_id,person_key[,household_key] (default: the seed's)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Pairwise precision, recall and F1 of the index against ground truth (and any clerical labels)."""
    import json

    from gateway.index.store import IndexMissing, IndexStore
    from gateway.linkage.evaluate import TruthFileError, label_scores, pairwise_scores, read_truth

    dd = DataDir(data_dir)
    truth = truth or dd.truth_dir / "identity.csv"
    try:
        true_person, true_household = read_truth(truth)
        store = IndexStore(dd.index_url())
        rows = list(store.export_rows())
    except (TruthFileError, IndexMissing) as exc:
        _fail(str(exc))
    person = {f"{r['source']}:{r['local_id']}": r["person_id"] for r in rows}
    household = {f"{r['source']}:{r['local_id']}": r["household_id"] for r in rows}
    report: dict[str, object] = {"persons": pairwise_scores(person, true_person).as_dict()}
    if true_household:
        report["households"] = pairwise_scores(household, true_household).as_dict()
    labels = store.labels()
    if labels:
        report["clerical_labels"] = label_scores(labels, person)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"Index against {truth}")
    for col in ("", "precision", "recall", "F1", "records", "true pairs", "predicted pairs"):
        table.add_column(col, justify="right" if col else "left")
    for name, s in report.items():
        assert isinstance(s, dict)
        table.add_row(
            name,
            f"{s['precision']:.4f}",
            f"{s['recall']:.4f}",
            f"{s['f1']:.4f}",
            f"{s.get('records', s.get('labelled_pairs', 0)):,}",
            f"{s.get('true_pairs', ''):,}" if "true_pairs" in s else "",
            f"{s.get('predicted_pairs', ''):,}" if "predicted_pairs" in s else "",
        )
    Console().print(table)


@link_app.command("review")
def link_review(
    data_dir: DataDirOption = Path("var"),
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Pairs to list, nearest the threshold first.")
    ] = 50,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the queue as a CSV with an empty is_match column to fill in."),
    ] = None,
    labels_file: Annotated[
        Path | None,
        typer.Option("--import", help="Load a filled-in review CSV (is_match = yes/no) as clerical labels."),
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Who labelled the imported pairs.")
    ] = None,
) -> None:
    """The clerical-review queue: linked and unlinked pairs nearest the match threshold."""
    from gateway.index.review import ReviewFileError, read_labels, write_queue
    from gateway.index.store import IndexMissing, IndexStore

    dd = DataDir(data_dir)
    store = IndexStore(dd.index_url())
    try:
        if labels_file:
            n = store.save_labels((a, b, m, reviewer) for a, b, m in read_labels(labels_file))
            console.print(
                f"saved {n} labels; `gateway link evaluate` now reports precision and recall on them"
            )
            return
        pairs = store.review_queue(limit=limit)
    except (IndexMissing, ReviewFileError) as exc:
        _fail(str(exc))
    if out:
        write_queue(dd, pairs, out)
        console.print(f"wrote {len(pairs)} pairs to {out}; fill in is_match and load it with --import")
        return
    table = Table(title="Pairs nearest the threshold (not yet labelled)")
    for col in ("left", "right", "weight", "probability", "linked"):
        table.add_column(col)
    for p in pairs:
        table.add_row(
            p.left_id,
            p.right_id,
            f"{p.match_weight:.2f}",
            f"{p.match_probability:.4f}",
            "yes" if p.linked else "no",
        )
    Console().print(table)


@index_app.command("export")
def index_export(
    data_dir: DataDirOption = Path("var"),
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path("index.csv"),
) -> None:
    """Write source,local_id,person_id,household_id,family_id for every store record."""
    import csv

    from gateway.index.store import IndexMissing, IndexStore

    store = IndexStore(DataDir(data_dir).index_url())
    fields = ["source", "local_id", "person_id", "household_id", "family_id"]
    try:
        rows = store.export_rows()
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            n = 0
            for row in rows:
                writer.writerow(row)
                n += 1
    except IndexMissing as exc:
        _fail(str(exc))
    console.print(f"wrote {n:,} records to {out}")


@app.command()
def match(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Partner CSV file (with a header row).")
    ],
    data_dir: DataDirOption = Path("var"),
    map_: Annotated[
        list[str],
        typer.Option(
            "--map",
            help="COLUMN=FIELD, repeatable. Fields: first_name, middle_name, last_name, dob, sex, "
            "address_line, postcode, uprn, nhs_number.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    out: Annotated[Path, typer.Option("--out", help="Where to write the file with person ids added.")] = Path(
        "matched.csv"
    ),
) -> None:
    """Match a partner file to the index: adds person_id, match_probability, match_weight per row.

    The partner's people are not added to the index.
    """
    from gateway.index.match import MatchInputError, match_file
    from gateway.index.store import IndexMissing

    dd = DataDir(data_dir)
    _require_stores(dd)
    try:
        with console.status("matching", spinner="dots") as status:
            summary = match_file(dd, file, map_, out, progress=lambda m: status.update(m))
    except (MatchInputError, IndexMissing) as exc:
        _fail(str(exc))
    console.print(
        f"{summary.matched:,} of {summary.rows:,} rows matched a person, {summary.possible:,} more are "
        f"possible matches below the threshold (no person id given); wrote {summary.out}"
    )


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
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users

    try:
        settings = load_settings(config, data_dir=data_dir)
    except Exception as exc:
        _fail(" ".join(str(exc).split()))
    if not settings.uses_dev_issuer:
        _fail("tokens come from the identity provider here: the development issuer is off in production mode")
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


ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML settings file.")]
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


notes_app = typer.Typer(
    help="Free text in extracts: the NER model the scrubber can use.", no_args_is_help=True
)
app.add_typer(notes_app, name="notes")


@notes_app.command("train-ner")
def notes_train_ner(
    notes: Annotated[int, typer.Option(min=50, help="Generated training notes.")] = 3000,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training notes.")] = 8,
    seed_value: Annotated[int, typer.Option("--seed", help="Same seed, same notes and model.")] = 7,
    data_dir: DataDirOption = Path("var"),
) -> None:
    """Train the notes NER model offline from generated notes and keep it in DATA_DIR/models/notes-ner,
    where extract builds find it (a few minutes at the defaults; nothing is downloaded). To use another
    spaCy pipeline instead, set GATEWAY_SCRUB_SPACY_MODEL to an installed package or a directory."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from gateway.privacy.ner_model import MODEL_DIR
    from gateway.synth.ner_training import train_notes_ner

    out = Path(data_dir) / MODEL_DIR
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[loss]}"))
    with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("training the notes NER model", total=epochs, loss="")
        trained = train_notes_ner(
            out,
            notes=notes,
            epochs=epochs,
            seed=seed_value,
            progress=lambda done, _total, loss: progress.update(
                task, completed=done, loss=f"loss {loss:,.1f}"
            ),
        )
    console.print(
        f"trained on {trained.notes:,} notes in {trained.seconds:.0f} s; on notes of another seed: "
        f"precision {trained.dev_precision:.3f}, recall {trained.dev_recall:.3f} (the project's own "
        f"phrasing: see docs/extracts.md for recall on notes it did not write). Saved to {out}"
    )


@app.command()
def demo(
    people: Annotated[int, typer.Option("--people", min=10, help="Residents, when seeding.")] = 20_000,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = Path("var"),
) -> None:
    """Seed the synthetic borough (if absent), link it (if not yet linked), serve it on http://127.0.0.1:PORT."""
    from gateway.analysis.store import AnalysisStore
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


if __name__ == "__main__":  # pragma: no cover
    app()
