"""Property tests for the identity-noise transformations, and the configuration they read."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.synth.noise import (
    Identity,
    NoiseRates,
    apply_noise,
    dob_typo,
    fold_ascii,
    load_noise_config,
    nickname,
    nicknames_for,
    ocr_error,
    partial_dob,
    swap_day_month,
    typo,
)

names = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=20)
dates = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2026, 3, 31))


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@given(names, st.integers())
def test_typo_is_one_small_slip(name: str, seed: int) -> None:
    out = typo(name, random.Random(seed))
    assert levenshtein(name, out) <= 2  # a transposition is two edits
    assert out[:1] == name[:1]  # first letter kept


@given(names)
def test_fold_ascii_is_ascii_and_idempotent(name: str) -> None:
    folded = fold_ascii(name)
    assert folded.isascii()
    assert fold_ascii(folded) == folded


def test_fold_ascii_keeps_the_letters_people_expect() -> None:
    assert fold_ascii("Yılmaz") == "Yilmaz"
    assert fold_ascii("Álvaro") == "Alvaro"
    assert fold_ascii("Łukasz") == "Lukasz"


@given(dates, st.integers())
def test_partial_dob_keeps_the_year_and_never_moves_later(d: dt.date, seed: int) -> None:
    p = partial_dob(d, random.Random(seed))
    assert p.year == d.year and p <= d and p.day == 1


@given(dates)
def test_day_month_swap_is_an_involution_where_possible(d: dt.date) -> None:
    swapped = swap_day_month(d)
    if d.day > 12 or d.day == d.month:
        assert swapped is None
    else:
        assert swapped is not None and swapped != d
        assert swap_day_month(swapped) == d


@given(st.sampled_from(["Robert", "William", "Elizabeth", "Margaret", "Katherine", "Aarav"]), st.integers())
def test_nickname_comes_from_the_table(first: str, seed: int) -> None:
    nick = nickname(first, random.Random(seed))
    assert nick is None or nick in nicknames_for(first)
    if first in ("Robert", "William", "Elizabeth"):
        assert nick is not None


@given(st.integers())
def test_zero_rates_change_nothing(seed: int) -> None:
    zero = NoiseRates(**dict.fromkeys(NoiseRates.model_fields, 0.0))
    true = Identity(
        "Robert", "", "Smith", "M", dt.date(1980, 5, 6), "1 Mill Lane", "NB1 2AB", 100090000001, 9000000019
    )
    out, kinds = apply_noise(
        true,
        rates=zero,
        rnd=random.Random(seed),
        adult=True,
        old_address=("2 Old Road", "NB2 3CD", 1),
        other_surname="X",
    )
    assert out == true and kinds == []


@given(st.integers())
def test_every_logged_kind_is_visible(seed: int) -> None:
    all_on = NoiseRates(**dict.fromkeys(NoiseRates.model_fields, 1.0))
    true = Identity(
        "Robert", "", "Smith", "M", dt.date(1980, 5, 6), "1 Mill Lane", "NB1 2AB", 100090000001, 9000000019
    )
    out, kinds = apply_noise(
        true,
        rates=all_on,
        rnd=random.Random(seed),
        adult=True,
        old_address=("2 Old Road", "NB2 3CD", 1),
        other_surname="Jones",
    )
    assume(kinds)
    assert "dob_missing" in kinds and out.dob is None  # dob_missing wins the DOB draw at rate 1
    assert "old_address" in kinds and (out.address_line == "2 Old Road" or "address_typo" in kinds)
    assert out.address_line.startswith("2 Old R"), "a slip in the address keeps its first letter"
    assert "postcode_missing" in kinds and out.postcode is None
    assert (out.first, out.last) != (true.first, true.last)


@given(names, st.integers())
def test_an_ocr_error_is_one_misread(name: str, seed: int) -> None:
    out = ocr_error(name, random.Random(seed))
    assert abs(len(out) - len(name)) <= 1 and levenshtein(out.lower(), name.lower()) <= 2
    confusable = ("rn", "m", "cl", "d", "l", "o", "i", "e")
    assert out == name or any(c in name.lower() for c in confusable)


@given(dates, st.integers())
def test_a_dob_typo_is_one_wrong_digit_and_still_a_date(d: dt.date, seed: int) -> None:
    out = dob_typo(d, random.Random(seed))
    before, after = d.strftime("%Y%m%d"), out.strftime("%Y%m%d")
    assert isinstance(out, dt.date) and before[:2] == after[:2], "the century is kept"
    assert sum(a != b for a, b in zip(before, after, strict=True)) == (0 if out == d else 1)


def test_noise_file_overrides_and_rejects_unknown_keys(tmp_path) -> None:
    good = tmp_path / "noise.yaml"
    good.write_text("default:\n  first_typo: 0.2\nstores:\n  housing:\n    dob_missing: 0.5\n")
    cfg = load_noise_config(good)
    assert cfg.for_store("education").first_typo == 0.2
    assert cfg.for_store("housing").dob_missing == 0.5
    assert cfg.for_store("education").dob_missing == 0.0  # shipped override kept
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  frist_typo: 0.2\n")
    with pytest.raises(ValidationError):
        load_noise_config(bad)
    out_of_range = tmp_path / "range.yaml"
    out_of_range.write_text("default:\n  first_typo: 1.5\n")
    with pytest.raises(ValidationError):
        load_noise_config(out_of_range)
