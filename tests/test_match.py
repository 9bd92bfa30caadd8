"""Partner-file matching, clerical review and evaluation through the CLI, on a linked borough."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.index.match import MatchInputError, parse_map
from gateway.index.store import IndexStore
from tests.conftest import read_csv

runner = CliRunner()


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def linked_small(small_borough):
    build_index(DataDir(small_borough))
    return small_borough


def _partner_file(root, path):
    """30 pupils as a partner (say a health visitor team) would hold them, plus two nobodies."""
    con = sqlite3.connect(root / "stores" / "education.db")
    pupils = con.execute(
        "SELECT pup_pupil_id, pup_forename, pup_surname, pup_dob, pup_address_line, pup_postcode "
        "FROM edu_pupils ORDER BY pup_pupil_id LIMIT 30"
    ).fetchall()
    con.close()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Ref", "Given", "Family", "Born", "Street", "Post code"])
        for ref, first, last, dob, line, pc in pupils:
            w.writerow([ref, first.upper(), last.upper(), dob, line, (pc or "").replace(" ", "").lower()])
        w.writerow(["X1", "Zebedee", "Quuxworth", "1999-01-01", "1 Nowhere Lane", "NB1 1AA"])
        w.writerow(["X2", "", "", "", "", ""])
    return [p[0] for p in pupils]


MAP = [
    "--map",
    "Given=first_name",
    "--map",
    "Family=last_name",
    "--map",
    "Born=dob",
    "--map",
    "Street=address_line",
    "--map",
    "Post code=postcode",
]


def test_partner_rows_get_their_own_person_id_and_strangers_get_none(linked_small, tmp_path):
    pupils = _partner_file(linked_small, tmp_path / "partner.csv")
    before = IndexStore(DataDir(linked_small).index_url()).last_run()
    out = tmp_path / "matched.csv"
    result = runner.invoke(
        app,
        ["match", str(tmp_path / "partner.csv"), "--data-dir", str(linked_small), *MAP, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(rows) == len(pupils) + 2
    person_of = {
        r["local_id"]: r["person_id"]
        for r in IndexStore(DataDir(linked_small).index_url()).export_rows()
        if r["source"] == "education"
    }
    matched = [r for r in rows if r["match_status"] == "matched"]
    assert len(matched) >= 27  # upper-cased names and squashed postcodes still match
    for row in matched:
        assert row["person_id"] == person_of[row["Ref"]]
        assert float(row["match_probability"]) >= before["match_threshold"]
    strangers = [r for r in rows if r["Ref"] in {"X1", "X2"}]
    assert all(r["person_id"] == "" for r in strangers)
    # The partner's people were not added to the index.
    assert IndexStore(DataDir(linked_small).index_url()).last_run()["run_id"] == before["run_id"]
    assert len(list(IndexStore(DataDir(linked_small).index_url()).export_rows())) == before["records"]


def test_bad_maps_are_refused_with_a_reason(linked_small, tmp_path):
    _partner_file(linked_small, tmp_path / "partner.csv")
    header = ["Ref", "Given", "Family"]
    with pytest.raises(MatchInputError, match="no column"):
        parse_map(["Nope=first_name"], header)
    with pytest.raises(MatchInputError, match="unknown field"):
        parse_map(["Given=shoe_size"], header)
    with pytest.raises(MatchInputError, match="COLUMN=FIELD"):
        parse_map(["Given"], header)
    with pytest.raises(MatchInputError, match="at least"):
        parse_map(["Given=first_name"], header)
    result = runner.invoke(
        app, ["match", str(tmp_path / "partner.csv"), "--data-dir", str(linked_small), "--map", "Nope=dob"]
    )
    assert result.exit_code == 1
    assert "no column 'Nope'" in said(result)


def test_match_before_link_says_what_to_do(small_borough, tmp_path):
    _partner_file(small_borough, tmp_path / "partner.csv")
    result = runner.invoke(
        app, ["match", str(tmp_path / "partner.csv"), "--data-dir", str(small_borough), *MAP]
    )
    assert result.exit_code == 1
    assert "gateway link" in said(result)


def test_evaluate_reports_persons_and_households(linked_small):
    result = runner.invoke(app, ["link", "evaluate", "--data-dir", str(linked_small), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["persons"]["precision"] >= 0.97
    assert report["persons"]["recall"] >= 0.9
    assert report["households"]["records"] == report["persons"]["records"] > 0


def test_evaluate_refuses_a_file_without_the_truth_columns(linked_small, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["link", "evaluate", "--data-dir", str(linked_small), "--truth", str(bad)])
    assert result.exit_code == 1
    assert "person_key" in said(result)


def test_review_queue_round_trip_feeds_evaluation(linked_small, tmp_path):
    queue = tmp_path / "queue.csv"
    result = runner.invoke(
        app, ["link", "review", "--data-dir", str(linked_small), "--limit", "10", "--out", str(queue)]
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(queue)
    assert 0 < len(rows) <= 10
    assert {"left_first_name", "right_first_name", "is_match"} <= set(rows[0])
    # A reviewer labels each pair with the generator's truth.
    truth = {
        f"{r['source']}:{r['local_id']}": r["person_key"]
        for r in read_csv(linked_small / "truth/identity.csv")
    }
    for row in rows:
        row["is_match"] = "yes" if truth[row["left_id"]] == truth[row["right_id"]] else "no"
    with queue.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(
        app,
        ["link", "review", "--data-dir", str(linked_small), "--import", str(queue), "--reviewer", "ig.olu"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(
        runner.invoke(app, ["link", "evaluate", "--data-dir", str(linked_small), "--json"]).output
    )
    assert report["clerical_labels"]["labelled_pairs"] == len(rows)
    # Labelled pairs leave the queue.
    remaining = IndexStore(DataDir(linked_small).index_url()).review_queue(limit=1000)
    assert not {(p.left_id, p.right_id) for p in remaining} & {(r["left_id"], r["right_id"]) for r in rows}


def test_review_import_rejects_bad_labels(linked_small, tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("left_id,right_id,is_match\na,b,perhaps\n")
    result = runner.invoke(app, ["link", "review", "--data-dir", str(linked_small), "--import", str(bad)])
    assert result.exit_code == 1
    assert "yes or no" in said(result)


def test_link_without_stores_fails_clearly(tmp_path):
    result = runner.invoke(app, ["link", "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "gateway seed" in said(result)
