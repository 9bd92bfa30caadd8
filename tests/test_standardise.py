"""Standardisation is total (never raises), idempotent, and yields only what the model expects."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st
from stdnum.gb import nhs

from gateway.linkage import standardise as sd

anything = st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=True), st.dates())


@given(anything)
def test_clean_name_is_lowercase_letters_or_none(value):
    out = sd.clean_name(value)
    assert out is None or re.fullmatch(r"[a-z]+", out)
    if out is not None:
        assert sd.clean_name(out) == out


def test_clean_name_folds_accents_and_punctuation():
    assert sd.clean_name("O'Neill-Smith ") == "oneillsmith"
    assert sd.clean_name("Yılmaz") == sd.clean_name("Yilmaz") == "yilmaz"
    assert sd.clean_name("Kołodziejczyk") == "kolodziejczyk"
    assert sd.clean_name("  ") is None


def test_first_token_keeps_the_first_given_name():
    assert sd.first_token("Mary Ann") == "mary"
    assert sd.first_token("Jean-Paul") == "jean"
    assert sd.first_token(None) is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12))
def test_name_roots_contain_the_name_itself(name):
    roots = sd.name_roots(name)
    assert name in roots
    assert list(roots) == sorted(roots)


def test_nicknames_share_a_root():
    assert set(sd.name_roots("bill")) & set(sd.name_roots("william"))
    assert set(sd.name_roots("bob")) & set(sd.name_roots("robert"))
    assert not set(sd.name_roots("bob")) & set(sd.name_roots("william"))


@given(anything)
def test_postcode_is_canonical_and_idempotent(value):
    out = sd.postcode(value)
    if out is not None:
        assert out == out.upper().strip()
        assert sd.postcode(out) == out


def test_uk_postcodes_get_one_space():
    assert sd.postcode("nb14sf") == "NB1 4SF"
    assert sd.postcode(" NB10  6PH ") == "NB10 6PH"
    assert sd.postcode("4223") == "4223"  # a partner's foreign code is kept, compacted
    assert sd.postcode("x") is None


@given(anything)
def test_date_of_birth_is_total(value):
    out = sd.date_of_birth(value)
    assert out is None or (isinstance(out, dt.date) and 1880 <= out.year <= 2100)


def test_date_of_birth_formats():
    assert sd.date_of_birth("2014-03-28") == dt.date(2014, 3, 28)
    assert sd.date_of_birth("19151111") == dt.date(1915, 11, 11)
    assert sd.date_of_birth("2014-02-30") is None
    assert sd.date_of_birth(dt.datetime(2001, 5, 6, 12)) == dt.date(2001, 5, 6)


@given(st.integers(min_value=0, max_value=10**10 - 1))
def test_nhs_number_keeps_only_valid_numbers(n):
    digits = f"{n:010d}"
    assert sd.nhs_number(digits) == (digits if nhs.is_valid(digits) else None)


def test_nhs_number_strips_formatting():
    assert sd.nhs_number("955-745-1610") == ("9557451610" if nhs.is_valid("9557451610") else None)
    assert sd.nhs_number(None) is None


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "first_name",
                "last_name",
                "dob",
                "sex",
                "postcode",
                "address_line",
                "uprn",
                "nhs_number",
                "middle_name",
            ]
        ),
        anything,
    )
)
def test_standardise_record_matches_the_arrow_schema(fields):
    record = sd.standardise_record("housing", {"local_id": "HP1", **fields})
    assert list(record) == sd.RECORD_SCHEMA.names
    assert record["unique_id"] == "housing:HP1"
    table = sd.to_arrow([record])
    assert table.num_rows == 1
