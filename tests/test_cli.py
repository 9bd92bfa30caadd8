"""The `gateway` command line as a user runs it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


def test_seed_writes_stores_truth_and_a_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["seed", "--people", "400", "--data-dir", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "400 residents" in result.stdout
    assert len(list((tmp_path / "stores").glob("*.db"))) == 7
    assert (
        (tmp_path / "truth" / "identity.csv")
        .read_text()
        .startswith("source,local_id,person_key,household_key\n")
    )


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    result = runner.invoke(app, ["seed", "--people", "100"], env={"GATEWAY_DATA_DIR": str(tmp_path / "env")})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env" / "stores.json").is_file()


def test_bad_input_gets_a_clear_message(tmp_path: Path) -> None:
    r = runner.invoke(app, ["seed", "--people", "100", "--data-dir", str(tmp_path), "--as-of", "31/03/2026"])
    assert r.exit_code == 1 and "--as-of must be a date" in r.output
    noise = tmp_path / "noise.yaml"
    noise.write_text("default:\n  typoo: 0.1\n")
    r = runner.invoke(app, ["seed", "--people", "100", "--data-dir", str(tmp_path), "--noise", str(noise)])
    assert r.exit_code == 1 and "typoo" in r.output
    r = runner.invoke(app, ["seed", "--people", "5", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2


def test_help_lists_the_commands() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for command in ("seed", "serve", "demo"):
        assert command in r.output


def test_scrub_train_keeps_a_model_the_extract_builds_find(tmp_path: Path) -> None:
    from gateway.privacy.ner_model import notes_model

    r = runner.invoke(app, ["scrub", "train", "--notes", "60", "--epochs", "1", "--data-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "trained on 60 notes" in r.output
    model = tmp_path / "models" / "notes-ner"
    assert (model / "meta.json").is_file()
    assert notes_model(tmp_path, None) == str(model)


def test_link_refresh_db_and_extract_commands_on_a_small_borough(tmp_path: Path) -> None:
    """The commands other tests do not reach, as an operator runs them, with their failures."""
    from gateway.migrations.runner import head

    data = ["--data-dir", str(tmp_path)]
    latest = head("gateway")
    assert runner.invoke(app, ["seed", "--people", "300", *data]).exit_code == 0
    r = runner.invoke(app, ["db", "current", *data])
    assert r.exit_code == 1 and f"gateway none head {latest} (run gateway db upgrade)" in r.output, r.output
    r = runner.invoke(app, ["db", "upgrade", *data])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["db", "current", *data])
    assert r.exit_code == 0 and f"gateway {latest} head {latest}" in r.output, r.output
    r = runner.invoke(app, ["refresh", *data])
    assert r.exit_code == 1 and "gateway link" in r.output, r.output  # nothing linked yet: says what to run
    r = runner.invoke(app, ["link", *data])
    assert r.exit_code == 0, r.output
    assert "analysis store written" in r.output
    # The run says what its rules for records without a date of birth did (docs/linkage.md).
    assert "undated records joined to their only candidate" in r.output, r.output
    r = runner.invoke(app, ["refresh", *data])
    assert r.exit_code == 0 and "analysis store written" in r.output, r.output
    r = runner.invoke(app, ["extracts", "rotate", "no-such-project", *data])
    assert r.exit_code == 1 and "no project 'no-such-project'" in r.output, r.output
    r = runner.invoke(app, ["extracts", "expire", *data])
    assert r.exit_code == 0 and "0 extract(s) expired" in r.output, r.output


def test_token_refuses_a_data_dir_without_gateway_data(tmp_path: Path) -> None:
    """Run from another directory, `gateway token` used to make a new key and print a token the server
    rejects; now it says where to run it and creates nothing."""
    r = runner.invoke(app, ["token", "cw.alice", "--data-dir", str(tmp_path / "var")])
    assert r.exit_code == 1 and "no gateway data" in r.output and "--data-dir" in r.output
    assert not (tmp_path / "var").exists()


def test_link_evaluate_scores_a_public_febrl_set() -> None:
    """`gateway link evaluate --febrl 1 --json`, as the contract names it. The true pairs are counted
    here from the file's own record ids (`rec-<n>-org` / `rec-<n>-dup-<k>`), not by the gateway."""
    import csv
    import json
    import re
    from collections import Counter

    from gateway.linkage.febrl import febrl_dir

    with (febrl_dir() / "dataset1.csv").open(newline="") as fh:
        people = Counter(re.match(r"rec-(\d+)-", r["rec_id"]).group(1) for r in csv.DictReader(fh))
    true_pairs = sum(n * (n - 1) // 2 for n in people.values())
    result = runner.invoke(app, ["link", "evaluate", "--febrl", "1", "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["dataset"] == "febrl1" and scores["true_pairs"] == true_pairs
    assert scores["records"] == sum(people.values())
    assert scores["precision"] == scores["true_positive_pairs"] / scores["predicted_pairs"]
    assert scores["recall"] == scores["true_positive_pairs"] / true_pairs
    assert scores["precision"] >= 0.99  # no identifier shared, and still no false links
    assert runner.invoke(app, ["link", "evaluate", "--febrl", "5"]).exit_code == 2


def test_serve_lowers_its_own_cpu_priority_only_when_asked(tmp_path: Path, monkeypatch) -> None:
    import os

    import uvicorn

    niced: list[int] = []
    served: list[int] = []
    monkeypatch.setattr(os, "nice", lambda steps: niced.append(steps) or steps)
    monkeypatch.setattr(uvicorn, "run", lambda service, **kw: served.append(kw["port"]))
    analysts = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--port", "8123", "--nice", "7"])
    assert analysts.exit_code == 0, analysts.output
    assert niced == [7] and served == [8123]
    caseworkers = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--port", "8124"])
    assert caseworkers.exit_code == 0, caseworkers.output
    assert niced == [7] and served == [8123, 8124], "no --nice: the priority is left alone"
    wrong = runner.invoke(app, ["serve", "--data-dir", str(tmp_path), "--nice", "25"])
    assert wrong.exit_code == 2 and served == [8123, 8124]
