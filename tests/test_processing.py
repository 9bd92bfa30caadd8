"""Processing outside requests is governed and audited: `gateway link`, `refresh`, `match` and
`index export` each run under a rule, write an event before they start and one when they end, in the
same chain that `gateway audit verify` checks; output leaves only once its event is durable, and a
refusal or an audit outage leaves nothing behind. The truth (who was matched, how many records were
exported) is read from the files and the index with plain SQL and CSV."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.review import EventFilter, stream
from audit.store import audit_engine
from gateway.cli import app
from gateway.config import Settings, _default_policies_dir
from tests.test_match import MAP, _partner_file

runner = CliRunner()


def _events(root: Path) -> list[dict]:
    engine = audit_engine(Settings(data_dir=root).audit_db_url())
    try:
        return list(reversed(list(stream(engine, EventFilter()))))
    finally:
        engine.dispose()


def test_link_refresh_match_and_export_are_audited_and_verify(small_borough: Path, tmp_path: Path) -> None:
    root = small_borough
    env = {"GATEWAY_OPERATOR": "dee.steward"}
    linked = runner.invoke(app, ["link", "--data-dir", str(root)], env=env)
    assert linked.exit_code == 0, linked.output
    refreshed = runner.invoke(app, ["refresh", "--data-dir", str(root), "--operator", "sam.steward"])
    assert refreshed.exit_code == 0, refreshed.output
    pupils = _partner_file(root, tmp_path / "partner.csv")
    matched_file = tmp_path / "out" / "matched.csv"
    matched = runner.invoke(
        app,
        ["match", str(tmp_path / "partner.csv"), "--data-dir", str(root), *MAP, "--out", str(matched_file)],
        env=env,
    )
    assert matched.exit_code == 0, matched.output
    export_file = tmp_path / "out" / "index.csv"
    exported = runner.invoke(
        app, ["index", "export", "--data-dir", str(root), "--out", str(export_file)], env=env
    )
    assert exported.exit_code == 0, exported.output

    events = _events(root)
    actions = [e["action"] for e in events]
    assert actions == [
        "index.link.start",
        "index.link",
        "analysis.refresh.start",
        "analysis.refresh",  # gateway link refreshes the analysis store
        "analysis.refresh.start",
        "analysis.refresh",
        "index.match.start",
        "index.match",
        "index.export.start",
        "index.export",
    ]
    assert all(e["decision"] == "allow" for e in events)
    by_action = {e["action"]: e for e in events}
    assert by_action["index.link"]["reason"].startswith("allowed by rule RULE-INDEX-LINK")
    assert by_action["index.link"]["actor"] == "operator:dee.steward"
    assert events[4]["actor"] == "operator:sam.steward"
    assert {e["purpose"] for e in events} == {
        "identity_resolution",
        "statistics_preparation",
        "partner_matching",
        "index_quality_assurance",
    }
    with sqlite3.connect(root / "gateway.db") as con:
        persons = con.execute("SELECT COUNT(DISTINCT person_id) FROM index_xref").fetchone()[0]
        records = con.execute("SELECT COUNT(*) FROM index_xref").fetchone()[0]
    assert by_action["index.link"]["rows_released"] == persons
    with matched_file.open(newline="") as fh:
        named = {r["person_id"] for r in csv.DictReader(fh) if r["person_id"]}
    assert len(named) >= len(pupils) * 0.9
    assert set(by_action["index.match"]["subject_ids"]) == named, "every person the file names, no one else"
    with export_file.open(newline="") as fh:
        assert by_action["index.export"]["rows_released"] == sum(1 for _ in csv.DictReader(fh)) == records
    assert not list(tmp_path.glob("out/.*partial")), "no partial files left behind"

    verified = runner.invoke(app, ["audit", "verify", "--data-dir", str(root)])
    assert verified.exit_code == 0 and verified.output.startswith(f"OK {len(events)} "), verified.output


def test_a_refused_or_unrecorded_job_does_nothing(small_borough: Path, tmp_path: Path) -> None:
    root = small_borough
    assert runner.invoke(app, ["link", "--data-dir", str(root)]).exit_code == 0
    before = len(_events(root))

    # The rule taken out of a copy of the policies: the export is refused, recorded, and writes nothing.
    policies = tmp_path / "policies"
    shutil.copytree(_default_policies_dir(), policies)
    rules = policies / "rules.csv"
    rules.write_text(
        "\n".join(line for line in rules.read_text().splitlines() if "RULE-INDEX-EXPORT" not in line)
    )
    out = tmp_path / "index.csv"
    refused = runner.invoke(
        app,
        ["index", "export", "--data-dir", str(root), "--out", str(out)],
        env={"GATEWAY_POLICIES_DIR": str(policies)},
    )
    assert refused.exit_code == 1
    assert "not run" in refused.output and "index_quality_assurance" in " ".join(refused.output.split())
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
    denied = _events(root)[before:]
    assert [(e["action"], e["decision"], e["status"]) for e in denied] == [
        ("index.export.start", "deny", 403)
    ]

    # The audit store unreachable: the match does not run and nothing is written.
    pupils = _partner_file(root, tmp_path / "partner.csv")
    assert pupils
    out = tmp_path / "matched.csv"
    unrecorded = runner.invoke(
        app,
        ["match", str(tmp_path / "partner.csv"), "--data-dir", str(root), *MAP, "--out", str(out)],
        env={"GATEWAY_AUDIT_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=1"},
    )
    assert unrecorded.exit_code == 1, unrecorded.output
    assert "not run" in unrecorded.output and "audit" in unrecorded.output
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
    assert len(_events(root)) == before + 1


@pytest.mark.parametrize("command", [["refresh"], ["index", "export"]])
def test_processing_before_link_says_what_to_do(small_borough: Path, command: list[str]) -> None:
    result = runner.invoke(
        app, [*command, "--data-dir", str(small_borough), "--out", "x.csv"][: len(command) + 2]
    )
    assert result.exit_code == 1
    assert "gateway link" in " ".join(result.output.split())
