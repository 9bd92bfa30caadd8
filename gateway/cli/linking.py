"""The person index: link, refresh the analysis store, evaluate, clerical review, export, match a
partner file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli.common import (
    AnalysisUrlOption,
    ConfigOption,
    DataDirOption,
    OperatorOption,
    PoliciesOption,
    console,
)
from gateway.cli.common import fail as _fail
from gateway.cli.main import app
from gateway.datadir import DataDir, safe_url

if TYPE_CHECKING:
    from audit.record import AuditRecord

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


@contextmanager
def _governed(
    data_dir: Path, action: str, who: str | None, config: Path | None = None
) -> Iterator[AuditRecord]:
    """The job under its rule, audited before it starts and when it ends (gateway/processing.py)."""
    from gateway.config import load_settings
    from gateway.processing import ProcessingRefused, governed, operator

    try:
        settings = load_settings(config, data_dir=data_dir)
    except Exception as exc:
        _fail(" ".join(str(exc).split()))
    try:
        with governed(settings, action, operator(who)) as record:
            yield record
    except ProcessingRefused as exc:
        _fail(str(exc))


def _datadir(data_dir: Path, config: Path | None) -> DataDir:
    """The data dir as the service sees it: the settings (file, GATEWAY_* variables) may put the
    gateway database, the audit store or the analysis store elsewhere (production: PostgreSQL)."""
    from gateway.config import load_settings

    try:
        return load_settings(config, data_dir=data_dir).datadir()
    except Exception as exc:
        _fail(" ".join(str(exc).split()))
        raise


def run_link(
    data_dir: Path,
    engine: str = "duckdb",
    policies: Path | None = None,
    who: str | None = None,
    config: Path | None = None,
) -> None:
    from gateway.index.build import build_index
    from gateway.linkage.engines import EngineUnavailable

    dd = _datadir(data_dir, config)
    _require_stores(dd)
    profile = _profile(policies)
    try:
        with (
            _governed(data_dir, "index.link", who) as record,
            console.status("linking", spinner="dots") as status,
        ):
            summary = build_index(dd, engine=engine, profile=profile, progress=lambda m: status.update(m))
            record.update(
                rows_released=summary.persons,
                disclosure_applied={
                    "run_id": summary.run_id,
                    "records": summary.records,
                    "persons": summary.persons,
                    "merges": summary.merges,
                    "splits": summary.splits,
                    "review_pairs": summary.review_pairs,
                    "attached_without_dob": summary.attached_without_dob,
                    "ambiguous_without_dob": summary.ambiguous_without_dob,
                },
            )
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
        ("undated records joined to their only candidate", summary.attached_without_dob),
        ("undated records left apart: two people fit", summary.ambiguous_without_dob),
    ):
        table.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    Console().print(table)
    console.print(f"index written to {safe_url(dd.index_url())} (threshold {profile.match_threshold})")
    run_refresh(dd, who, config)


def run_refresh(dd: DataDir, who: str | None = None, config: Path | None = None) -> None:
    """Rebuild the linked analysis store from the stores and the current index."""
    from gateway.analysis.build import build_analysis
    from gateway.index.store import IndexStore

    if not IndexStore(dd.index_url()).exists():
        _fail(f"no person index in {dd.root}: run `gateway link --data-dir {dd.root}` first")
    with (
        _governed(dd.root, "analysis.refresh", who, config) as record,
        console.status("building the analysis store", spinner="dots") as status,
    ):
        summary = build_analysis(dd, progress=lambda m: status.update(m))
        record.update(
            rows_released=sum(summary.rows.values()), disclosure_applied={"rows": dict(summary.rows)}
        )
    rows = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items())
    console.print(f"analysis store written to {safe_url(summary.url)} in {summary.seconds:.1f} s: {rows}")


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
    who: OperatorOption = None,
    config: ConfigOption = None,
) -> None:
    """Build or rebuild the person index and households from all stores, then the analysis store.
    Runs under rule RULE-INDEX-LINK and is audited before it starts and when it ends."""
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
    run_link(data_dir, engine, policies, who, config)


@app.command()
def refresh(
    data_dir: DataDirOption = Path("var"),
    analysis_url: AnalysisUrlOption = None,
    who: OperatorOption = None,
    config: ConfigOption = None,
) -> None:
    """Rebuild the linked analysis store (analyst tables) from the stores and the current person index,
    without relinking. Record keys for perturbation are kept from the last build. Audited, under rule
    RULE-ANALYSIS-REFRESH."""
    dd = _datadir(data_dir, config)
    _require_stores(dd)
    if analysis_url:
        dd.set_analysis_url(analysis_url)
    run_refresh(dd, who, config)


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
    febrl_set: Annotated[
        int | None,
        typer.Option(
            "--febrl",
            min=1,
            max=4,
            help="Instead: link the public FEBRL benchmark set 1, 2, 3 or 4 (no SSN) and score it.",
        ),
    ] = None,
) -> None:
    """Pairwise precision, recall and F1 of the index against ground truth (and any clerical labels),
    or of the same pipeline on a public FEBRL benchmark set (`--febrl`)."""
    import json

    from gateway.index.store import IndexMissing, IndexStore
    from gateway.linkage.evaluate import TruthFileError, label_scores, pairwise_scores, read_truth

    if febrl_set is not None:
        from gateway.linkage import febrl

        try:
            scores = febrl.evaluate(f"febrl{febrl_set}").as_dict()
        except febrl.FebrlUnavailable as exc:
            _fail(str(exc))
        if as_json:
            print(json.dumps({"dataset": f"febrl{febrl_set}", **scores}, indent=2))
        else:
            console.print(
                f"FEBRL{febrl_set}: precision {scores['precision']:.4f}, recall {scores['recall']:.4f}, "
                f"F1 {scores['f1']:.4f} ({scores['records']:,} records, {scores['true_pairs']:,} true pairs)"
            )
        return
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
    """The clerical-review queue: borderline linked and unlinked pairs, those whose decision would change
    the most records' persons first (the chance the model is wrong times the records affected)."""
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
    table = Table(title="Borderline pairs not yet labelled, those that would change the most records first")
    table.add_column("left", overflow="fold")
    table.add_column("right", overflow="fold")
    for col in ("weight", "p", "linked", "records", "expected"):
        table.add_column(col, justify="right")
    table.caption = "records: whose person a decision would change; expected: that x the chance it is wrong"
    for p in pairs:
        table.add_row(
            p.left_id,
            p.right_id,
            f"{p.match_weight:.2f}",
            f"{p.match_probability:.4f}",
            "yes" if p.linked else "no",
            str(p.records_affected),
            f"{p.expected_change:.2f}",
        )
    Console().print(table)


@index_app.command("export")
def index_export(
    data_dir: DataDirOption = Path("var"),
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path("index.csv"),
    who: OperatorOption = None,
) -> None:
    """Write source,local_id,person_id,household_id,family_id for every store record. Audited, under
    rule RULE-INDEX-EXPORT; the file is put in place only once the audit log has recorded it."""
    import csv

    from gateway.index.store import IndexMissing, IndexStore
    from gateway.processing import released_after_audit

    store = IndexStore(DataDir(data_dir).index_url())
    fields = ["source", "local_id", "person_id", "household_id", "family_id"]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with released_after_audit(out) as partial:
            with _governed(data_dir, "index.export", who) as record:
                rows = store.export_rows()
                with partial.open("w", newline="", encoding="utf-8") as fh:
                    writer = csv.DictWriter(fh, fieldnames=fields)
                    writer.writeheader()
                    n = 0
                    for row in rows:
                        writer.writerow(row)
                        n += 1
                record.update(rows_released=n, fields_released=fields, disclosure_applied={"file": out.name})
            partial.replace(out)
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
    who: OperatorOption = None,
) -> None:
    """Match a partner file to the index: adds person_id, match_probability, match_weight per row.

    The partner's people are not added to the index. Audited, under rule RULE-INDEX-MATCH: the event
    names every person matched, and the file is put in place only once it is recorded.
    """
    from gateway.index.match import MatchInputError, match_file
    from gateway.index.store import IndexMissing
    from gateway.processing import released_after_audit

    dd = DataDir(data_dir)
    _require_stores(dd)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with released_after_audit(out) as partial:
            with (
                _governed(data_dir, "index.match", who) as record,
                console.status("matching", spinner="dots") as status,
            ):
                summary = match_file(dd, file, map_, partial, progress=lambda m: status.update(m))
                record.update(
                    rows_released=summary.rows,
                    subject_ids=sorted(summary.person_ids),
                    fields_released=["person_id", "match_probability", "match_weight"],
                    disclosure_applied={
                        "file": file.name,
                        "matched": summary.matched,
                        "possible": summary.possible,
                    },
                )
            partial.replace(out)
    except (MatchInputError, IndexMissing) as exc:
        _fail(str(exc))
    console.print(
        f"{summary.matched:,} of {summary.rows:,} rows matched a person, {summary.possible:,} more are "
        f"possible matches below the threshold (no person id given); wrote {summary.out}"
    )
