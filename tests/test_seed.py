"""The synthetic borough: determinism, consistency of households and families, noise rates, ground truth."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from gateway.departments import DEPARTMENTS, STORE_NAMES
from gateway.departments.records import read_identities
from gateway.seed import seed
from gateway.stores.engines import store_engine
from gateway.synth.noise import load_noise_config, swap_day_month
from tests.conftest import read_csv


def digest(root: Path) -> dict[str, str]:
    files = sorted([*root.glob("stores/*.db"), *root.glob("truth/*.csv"), root / "stores.json"])
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_same_seed_gives_byte_identical_stores(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    seed(a, people=1500, seed_value=7)
    seed(b, people=1500, seed_value=7)
    seed(c, people=1500, seed_value=8)
    da, db, dc = digest(a), digest(b), digest(c)
    assert len(da) == len(STORE_NAMES) + 5  # 7 stores, 4 truth files, the manifest
    assert da == db
    assert all(dc[k] != da[k] for k in da if k.startswith("stores/"))


def identities(root: Path) -> dict[str, list[dict]]:
    urls = {s: f"sqlite:///{root}/stores/{s}.db" for s in STORE_NAMES}
    return {s: read_identities(s, store_engine(u)) for s, u in urls.items()}


@pytest.fixture(scope="module")
def truth(borough: Path) -> dict:
    persons = {p["person_key"]: p for p in read_csv(borough / "truth" / "persons.csv")}
    identity = read_csv(borough / "truth" / "identity.csv")
    noise = {
        (r["source"], r["local_id"]): [k for k in r["kinds"].split(";") if k]
        for r in read_csv(borough / "truth" / "noise.csv")
    }
    return {"persons": persons, "identity": identity, "noise": noise, "stores": identities(borough)}


def test_ground_truth_covers_every_store_record_exactly_once(borough: Path, truth: dict) -> None:
    in_truth = Counter((r["source"], r["local_id"]) for r in truth["identity"])
    assert all(n == 1 for n in in_truth.values())
    for store, (table, id_col) in ((d.name, d.person_table) for d in DEPARTMENTS):
        con = sqlite3.connect(borough / "stores" / f"{store}.db")
        ids = {r[0] for r in con.execute(f"SELECT {id_col} FROM {table}")}
        assert ids == {lid for s, lid in in_truth if s == store}, store
        assert len(ids) > 20, f"{store} holds too few people to be realistic"


def test_truth_households_agree_with_persons(truth: dict) -> None:
    persons = truth["persons"]
    for row in truth["identity"]:
        assert persons[row["person_key"]]["household_key"] == row["household_key"]
    by_household = defaultdict(list)
    for p in persons.values():
        by_household[p["household_key"]].append(p)
    for members in by_household.values():
        assert len({m["uprn"] for m in members}) == 1  # one current address per household
        assert len({m["previous_uprn"] for m in members}) == 1
    sizes = Counter(len(m) for m in by_household.values())
    assert sizes[1] > 0 and sum(v for k, v in sizes.items() if k >= 6) > 0  # singles and large families
    mean = sum(len(m) for m in by_household.values()) / len(by_household)
    assert 2.2 <= mean <= 2.9  # inner London: 2.4-2.7 people per household


def test_families_group_children_with_their_parents(truth: dict) -> None:
    persons = truth["persons"].values()
    families = defaultdict(list)
    for p in persons:
        if p["family_key"]:
            families[p["family_key"]].append(p)
    assert families
    as_of = dt.date(2026, 3, 31)
    for members in families.values():
        assert len({m["household_key"] for m in members}) == 1
        roles = Counter(m["role"] for m in members)
        assert roles["child"] >= 1 and 1 <= roles["head"] + roles["partner"] <= 2
        for m in members:
            if m["role"] == "child":
                assert dt.date.fromisoformat(m["date_of_birth"]) > as_of.replace(year=as_of.year - 18)


def test_twins_and_same_name_neighbours_exist(truth: dict) -> None:
    persons = truth["persons"]
    twins = [p for p in persons.values() if p["twin_of"]]
    assert len(twins) >= 20
    for t in twins:
        other = persons[t["twin_of"]]
        assert other["date_of_birth"] == t["date_of_birth"] and other["household_key"] == t["household_key"]
        assert other["person_key"] != t["person_key"]
    same = [p for p in persons.values() if p["same_name_as"]]
    assert len(same) >= 20
    for p in same:
        other = persons[p["same_name_as"]]
        assert (other["first_name"], other["last_name"]) == (p["first_name"], p["last_name"])
        assert other["household_key"] != p["household_key"]
        assert abs(int(other["uprn"]) - int(p["uprn"])) == 7  # next-door property ids


def _within(observed: int, n: int, rate: float) -> bool:
    """Binomial tolerance: 5 standard deviations plus half a point, so the test is not flaky."""
    sd = math.sqrt(max(rate * (1 - rate), 1e-9) / max(n, 1))
    return abs(observed / max(n, 1) - rate) <= 5 * sd + 0.005


@pytest.mark.parametrize("store", STORE_NAMES)
def test_noise_rates_match_the_configuration(store: str, truth: dict) -> None:
    rates = load_noise_config().for_store(store)
    records = [(lid, kinds) for (s, lid), kinds in truth["noise"].items() if s == store]
    n = len(records)
    counts = Counter(k for _, kinds in records for k in kinds)
    for kind in ("dob_missing", "postcode_missing", "name_swap"):
        assert _within(counts[kind], n, getattr(rates, kind)), (kind, counts[kind], n)
    # typos are skipped only for names under three letters: allow a little below the rate
    for kind in ("first_typo", "last_typo"):
        assert _within(counts[kind], n, getattr(rates, kind) * 0.97), (kind, counts[kind], n)
    dup_share = rates.duplicate / (1 + rates.duplicate)
    assert _within(counts["duplicate"], n, dup_share)


def test_noise_is_really_in_the_stores_and_only_where_logged(truth: dict) -> None:
    persons = truth["persons"]
    key = {(r["source"], r["local_id"]): r["person_key"] for r in truth["identity"]}
    checked = Counter()
    for store, rows in truth["stores"].items():
        for row in rows:
            kinds = truth["noise"][(store, row["local_id"])]
            true = persons[key[(store, row["local_id"])]]
            true_dob = dt.date.fromisoformat(true["date_of_birth"])
            if "dob_missing" in kinds:
                assert row["dob"] is None
            elif "dob_day_month_swap" in kinds:
                assert row["dob"] == swap_day_month(true_dob)
            elif "dob_partial" not in kinds:
                assert row["dob"] == true_dob
                checked["dob"] += 1
            if "postcode_missing" in kinds and store != "benefits":
                assert row["postcode"] is None
            name_kinds = {
                "nickname",
                "surname_change",
                "first_typo",
                "last_typo",
                "name_swap",
                "ascii_folded",
            }
            if not name_kinds & set(kinds):
                assert (row["first_name"], row["last_name"]) == (true["first_name"], true["last_name"])
                checked["name"] += 1
            if kinds == ["name_swap"]:
                assert (row["first_name"], row["last_name"]) == (true["last_name"], true["first_name"])
                checked["swap"] += 1
    assert checked["dob"] > 1000 and checked["name"] > 1000 and checked["swap"] > 5


def test_case_notes_carry_the_identifiers_recorded_as_planted(borough: Path) -> None:
    planted = read_csv(borough / "truth" / "case_note_identifiers.csv")
    kinds = Counter(p["kind"] for p in planted)
    assert {"name", "nhs_number", "phone", "address", "postcode", "date_of_birth"} <= set(kinds)
    texts = {}
    for store, table, id_col, text_col in (
        ("childrens_social_care", "ssd_case_notes", "cano_case_note_id", "cano_note_text"),
        ("early_help", "eh_case_notes", "ehn_note_id", "ehn_note_text"),
    ):
        con = sqlite3.connect(borough / "stores" / f"{store}.db")
        texts.update({(store, i): t for i, t in con.execute(f"SELECT {id_col}, {text_col} FROM {table}")})
    assert texts
    for p in planted:
        text = texts[(p["source"], p["note_id"])]
        assert text[int(p["start"]) : int(p["end"])] == p["value"]


def test_no_shared_key_across_stores_except_nhs_numbers(truth: dict) -> None:
    """Local ids never coincide across stores, and only health-adjacent records carry NHS numbers."""
    ids = defaultdict(set)
    for store, rows in truth["stores"].items():
        for row in rows:
            ids[row["local_id"]].add(store)
            if row["nhs_number"] is not None:
                assert store in ("childrens_social_care", "early_help", "adult_social_care")
    assert all(len(stores) == 1 for stores in ids.values())
