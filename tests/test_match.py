"""Partner-file matching, clerical review and evaluation through the CLI, on a linked borough."""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gateway.cli import app
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.index.match import MatchInputError, parse_map
from gateway.index.review import prioritise
from gateway.index.store import IndexStore, ReviewPair
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


def test_the_queue_puts_the_pairs_that_would_change_most_records_first(linked_small, tmp_path):
    """The order, recomputed from the index's own tables with SQL: each pair's chance of being wrong
    (1 - p when linked, p when not) times the records whose person its decision would change."""
    queue = tmp_path / "queue.csv"
    result = runner.invoke(app, ["link", "review", "--data-dir", str(linked_small), "--out", str(queue)])
    assert result.exit_code == 0, result.output
    rows = read_csv(queue)
    with sqlite3.connect(linked_small / "gateway.db") as con:
        person = {
            f"{s}:{lid}": p for s, lid, p in con.execute("SELECT source, local_id, person_id FROM index_xref")
        }
        size = dict(con.execute("SELECT person_id, COUNT(*) FROM index_xref GROUP BY person_id"))
        review = con.execute("SELECT COUNT(*) FROM index_review").fetchone()[0]
    assert len(rows) == review > 1, "every unlabelled borderline pair is queued"
    expected = []
    for r in rows:
        left, right, p = person[r["left_id"]], person[r["right_id"]], float(r["match_probability"])
        if left == right:
            assert r["linked"] == "yes"
            want = (1 - p) * size[left], size[left]
        else:
            assert r["linked"] == "no"
            want = p * (size[left] + size[right]), size[left] + size[right]
        assert int(r["records_affected"]) == want[1]
        assert float(r["expected_change"]) == pytest.approx(want[0], abs=2e-3)
        expected.append(want[0])
    # The file rounds p to 4 places, so neighbours may differ by that rounding times the records.
    slack = 5e-5 * max(size.values()) * 2
    assert all(a >= b - slack for a, b in itertools.pairwise(expected)), "the largest expected change first"


@given(
    st.dictionaries(
        st.sampled_from([f"s:{i}" for i in range(30)]), st.sampled_from(["P1", "P2", "P3", "P4"])
    ),
    st.lists(
        st.tuples(st.integers(0, 29), st.integers(0, 29), st.floats(0, 1), st.floats(-5, 15)), max_size=20
    ),
)
def test_prioritise_orders_by_the_chance_of_error_times_the_records_it_would_move(person_of, raw) -> None:
    pairs = [
        ReviewPair(f"s:{a}", f"s:{b}", w, p, person_of.get(f"s:{a}") == person_of.get(f"s:{b}") is not None)
        for a, b, p, w in raw
        if a != b
    ]
    ranked = prioritise(pairs, person_of, 6.6)
    assert sorted((p.left_id, p.right_id, p.match_weight) for p in ranked) == sorted(
        (p.left_id, p.right_id, p.match_weight) for p in pairs
    ), "every pair once"
    sizes: dict[str, int] = {}
    for person in person_of.values():
        sizes[person] = sizes.get(person, 0) + 1
    for p in ranked:
        left, right = person_of.get(p.left_id), person_of.get(p.right_id)
        if p.linked:
            assert p.records_affected == sizes[left]
            assert p.expected_change == pytest.approx((1 - p.match_probability) * sizes[left], abs=1e-6)
        else:
            assert p.records_affected == sizes.get(left, 1) + sizes.get(right, 1)
            assert p.expected_change == pytest.approx(p.match_probability * p.records_affected, abs=1e-6)
    changes = [p.expected_change for p in ranked]
    assert changes == sorted(changes, reverse=True)


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
