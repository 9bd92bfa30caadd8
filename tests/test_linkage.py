"""The person index on the default-noise 20k borough, judged against the generator's ground truth."""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from pathlib import Path

from gateway.datadir import DataDir
from gateway.departments import department
from gateway.index.build import build_index
from gateway.index.records import read_stores
from gateway.index.store import IndexStore
from gateway.linkage.evaluate import pairwise_scores, read_truth
from gateway.linkage.model import Profile
from tests.conftest import read_csv


def _export(root: Path) -> list[dict]:
    return list(IndexStore(DataDir(root).index_url()).export_rows())


def _person_of(root: Path) -> dict[str, str]:
    return {f"{r['source']}:{r['local_id']}": r["person_id"] for r in _export(root)}


def _records_of_truth(root: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for row in read_csv(root / "truth" / "identity.csv"):
        out[row["person_key"]].append(f"{row['source']}:{row['local_id']}")
    return out


def test_precision_and_recall_meet_the_targets(linked_borough):
    truth, _ = read_truth(linked_borough / "truth" / "identity.csv")
    person_of = _person_of(linked_borough)
    assert set(person_of) == set(truth)  # every store record is indexed exactly once
    scores = pairwise_scores(person_of, truth)
    # Measured 0.9995 / 0.9907 (issue 25's goal is 0.999 / 0.99 at 100k); the margin is for changes
    # to the generator, not to the model.
    assert scores.precision >= 0.998, scores
    assert scores.recall >= 0.985, scores
    assert scores.true_pairs > 4000  # the borough really has cross-store links to find


def test_records_without_a_date_of_birth_join_their_person_and_nobody_else(linked_borough):
    """The undated records are where plain clustering fails both ways: stranded below the threshold
    (59% of those with another record joined one of them; 86% now), or bridging a mother and daughter
    of one name (2 of 128 joined to someone else). Judged per record against the generator's truth."""
    records, _ = read_stores(DataDir(linked_borough), lambda _m: None)
    truth, _ = read_truth(linked_borough / "truth" / "identity.csv")
    person_of = _person_of(linked_borough)
    truth_members: dict[str, set[str]] = defaultdict(set)
    index_members: dict[str, set[str]] = defaultdict(set)
    for uid, key in truth.items():
        truth_members[key].add(uid)
        index_members[person_of[uid]].add(uid)
    undated = [r["unique_id"] for r in records if not r["dob"]]
    joined = wrong = considered = 0
    for uid in undated:
        partners = truth_members[truth[uid]] - {uid}
        if not partners:
            continue
        considered += 1
        mates = index_members[person_of[uid]] - {uid}
        joined += bool(mates & partners)
        wrong += bool(mates - partners)
    assert considered >= 80
    assert joined >= 0.8 * considered, (joined, considered)  # 110 of 128 measured
    assert wrong <= 0.01 * considered, (wrong, considered)


def _assert_kept_apart(root: Path, column: str, minimum: int) -> None:
    """No person id holds records of two residents the truth pairs by `column` (twin_of, same_name_as)."""
    person_of = _person_of(root)
    records = _records_of_truth(root)
    pairs = [(p["person_key"], p[column]) for p in read_csv(root / "truth" / "persons.csv") if p[column]]
    checked = 0
    for a, b in pairs:
        ids_a = {person_of[r] for r in records.get(a, [])}
        ids_b = {person_of[r] for r in records.get(b, [])}
        if ids_a and ids_b:
            checked += 1
            assert not ids_a & ids_b, f"{a} and {b} ({column}) were merged"
    assert checked >= minimum


def test_twins_are_never_merged(linked_borough):
    _assert_kept_apart(linked_borough, "twin_of", minimum=20)


def test_same_name_neighbours_are_never_merged(linked_borough):
    _assert_kept_apart(linked_borough, "same_name_as", minimum=10)


def test_households_follow_the_dwelling(linked_borough):
    _, truth_household = read_truth(linked_borough / "truth" / "identity.csv")
    household_of = {f"{r['source']}:{r['local_id']}": r["household_id"] for r in _export(linked_borough)}
    scores = pairwise_scores(household_of, truth_household)
    assert scores.precision >= 0.97, scores
    assert scores.recall >= 0.95, scores


def test_childrens_social_care_families_share_a_family_id(linked_borough):
    rows = _export(linked_borough)
    family_of_record = {(r["source"], r["local_id"]): r["family_id"] for r in rows}
    con = sqlite3.connect(linked_borough / "stores" / "childrens_social_care.db")
    families: dict[str, set[str]] = defaultdict(set)
    for family, person in con.execute("SELECT fami_family_id, fami_person_id FROM ssd_family"):
        families[family].add(family_of_record[("childrens_social_care", person)])
    con.close()
    assert len(families) > 50
    assert all(len(ids) == 1 for ids in families.values())


def test_every_record_has_a_household_and_family_and_persons_hold_their_records(linked_borough):
    rows = _export(linked_borough)
    assert all(r["person_id"].startswith("P") and r["household_id"].startswith("H") for r in rows)
    assert all(r["family_id"].startswith("F") for r in rows)
    run = IndexStore(DataDir(linked_borough).index_url()).last_run()
    assert run["records"] == len(rows)
    assert run["persons"] == len({r["person_id"] for r in rows})


def test_rerunning_keeps_every_person_id(small_borough):
    dd = DataDir(small_borough)
    first = build_index(dd)
    before = _export(small_borough)
    second = build_index(dd)
    assert second.ids_kept == first.persons and second.ids_created == 0
    assert _export(small_borough) == before


def test_merges_and_splits_are_recorded_and_other_ids_survive(small_borough):
    dd = DataDir(small_borough)
    build_index(dd)
    strict = _person_of(small_borough)
    loose = build_index(dd, profile=Profile(match_threshold=0.51, review_band_weight=0))
    assert loose.merges > 0
    merged = _person_of(small_borough)
    store = IndexStore(dd.index_url())
    merges = [c for c in store.lineage("person") if c["change"] == "merge"]
    assert merges
    # Every merged-away id points at the person now holding its records.
    for change in merges:
        holders = {merged[r] for r, p in strict.items() if p == change["old_id"]}
        assert holders == {change["new_id"]}
    # People untouched by the looser threshold keep their ids.
    changed_old = {c["old_id"] for c in merges}
    kept = [r for r, p in strict.items() if p not in changed_old]
    assert kept and all(merged[r] == strict[r] for r in kept)

    back = build_index(dd)
    assert back.splits > 0
    assert any(c["change"] == "split" for c in store.lineage("person"))


def test_a_deleted_record_leaves_its_person_id_in_place(small_borough):
    dd = DataDir(small_borough)
    build_index(dd)
    before = _person_of(small_borough)
    by_person: dict[str, list[str]] = defaultdict(list)
    for record, person in before.items():
        by_person[person].append(record)
    person, records = next((p, rs) for p, rs in sorted(by_person.items()) if len(rs) >= 3)
    source, local_id = records[0].split(":", 1)
    db = small_borough / "stores" / f"{source}.db"
    table, column = department(source).person_table
    con = sqlite3.connect(db)
    con.execute(f"DELETE FROM {table} WHERE {column} = ?", (local_id,))
    con.commit()
    con.close()
    build_index(dd)
    after = _person_of(small_borough)
    assert records[0] not in after
    assert all(after[r] == person for r in records[1:])


def test_index_export_cli_writes_the_contract_columns(linked_borough, tmp_path):
    from typer.testing import CliRunner

    from gateway.cli import app

    out = tmp_path / "index.csv"
    args = ["index", "export", "--data-dir", str(linked_borough), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["source", "local_id", "person_id", "household_id", "family_id"]
        assert sum(1 for _ in reader) == len(_export(linked_borough))
