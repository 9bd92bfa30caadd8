"""Synthetic identifiers: valid by python-stdnum's rules and never in a range issued to real people."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from stdnum.gb import nhs, upn

from gateway.synth.identifiers import make_upn, nhs_check_digits, synthetic_nhs_numbers
from tests.conftest import read_csv


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_check_digit_agrees_with_stdnum(base: int) -> None:
    check = int(nhs_check_digits(np.array([base], dtype=np.int64))[0])
    candidates = [f"{base}{d}" for d in range(10)]
    valid = [c for c in candidates if nhs.is_valid(c)]
    if check < 0:
        assert valid == []  # remainder 10: no valid number with this base
    else:
        assert valid == [f"{base}{check}"]


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=500))
def test_generated_nhs_numbers_are_valid_distinct_and_synthetic(seed: int, n: int) -> None:
    numbers = synthetic_nhs_numbers(np.random.default_rng(seed), n)
    assert len(numbers) == n == len(set(numbers.tolist()))
    for x in numbers.tolist():
        assert 9_000_000_000 <= x <= 9_999_999_999
        assert nhs.is_valid(f"{x:010d}")


@given(st.integers(0, 9999), st.integers(2000, 2030), st.integers(0, 999))
def test_upns_validate(establishment: int, year: int, serial: int) -> None:
    assert upn.is_valid(make_upn(establishment, year, serial))


def test_every_nhs_number_and_upn_in_the_borough_validates(borough) -> None:
    persons = read_csv(borough / "truth" / "persons.csv")
    assert all(nhs.is_valid(p["nhs_number"]) and p["nhs_number"].startswith("9") for p in persons)
    import sqlite3

    con = sqlite3.connect(borough / "stores" / "education.db")
    rows = list(con.execute("SELECT pup_pupil_id, pup_upn FROM edu_pupils"))
    assert rows and all(upn.is_valid(u) for _, u in rows)
    # One UPN, one pupil: duplicate records of the same pupil may share it, different pupils never do.
    who = {
        r["local_id"]: r["person_key"]
        for r in read_csv(borough / "truth" / "identity.csv")
        if r["source"] == "education"
    }
    owners: dict[str, set[str]] = {}
    for local_id, u in rows:
        owners.setdefault(u, set()).add(who[local_id])
    assert all(len(people) == 1 for people in owners.values())
    con = sqlite3.connect(borough / "stores" / "adult_social_care.db")
    held = [
        r[0] for r in con.execute("SELECT cli_nhs_number FROM asc_clients WHERE cli_nhs_number IS NOT NULL")
    ]
    assert held and all(nhs.is_valid(x) for x in held)
