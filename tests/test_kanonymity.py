"""Generalisation ladders and k-anonymity, checked independently with pandas group sizes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.generalise import HIERARCHIES, WITHHELD, hierarchy_for, postcode_parts
from gateway.privacy.kanonymity import NotAnonymisable, QuasiIdentifier, k_anonymise

ON = dt.date(2026, 3, 31)
dobs = st.dates(min_value=dt.date(1930, 1, 1), max_value=ON)
postcodes = st.builds(
    lambda a, d, s, u: f"{a}{d} {s}{u}",
    st.sampled_from(["NB", "N", "SE"]),
    st.integers(1, 12),
    st.integers(0, 9),
    st.sampled_from(["AB", "NS", "ZZ", "QX"]),
)
records = st.lists(
    st.fixed_dictionaries(
        {
            "date_of_birth": dobs,
            "sex": st.sampled_from(["F", "M", "Unknown"]),
            "postcode": postcodes,
            "person": st.integers(0, 400),
        }
    ),
    min_size=0,
    max_size=300,
)


def _qis(dob_start: str = "year") -> list[QuasiIdentifier]:
    out = []
    for field, kind, start in (
        ("date_of_birth", "date_of_birth", dob_start),
        ("sex", "category", "value"),
        ("postcode", "postcode", "sector"),
    ):
        h, i = hierarchy_for(kind, start)
        out.append(QuasiIdentifier(field, h, i))
    return out


@given(rows=records, k=st.integers(2, 10), share=st.sampled_from([0.0, 0.05, 0.2]))
def test_every_released_class_holds_at_least_k_people(rows, k, share) -> None:
    if len({r["person"] for r in rows}) < k:
        with pytest.raises(NotAnonymisable):
            k_anonymise(rows, _qis(), k=k, max_suppression=share, subject="person", on=ON)
        return
    result = k_anonymise(rows, _qis(), k=k, max_suppression=share, subject="person", on=ON)
    released = pd.DataFrame(result.values)
    released["person"] = [rows[i]["person"] for i in result.kept]
    if not released.empty:  # checked independently of the module: distinct people per class
        sizes = released.groupby(["date_of_birth", "sex", "postcode"])["person"].nunique()
        assert sizes.min() >= k
        assert result.report["k_achieved"] == sizes.min()
    assert result.report["records_suppressed"] <= int(share * len(rows))
    assert result.report["records_released"] + result.report["records_suppressed"] == len(rows)
    assert 0.0 <= result.report["information_loss"]["generalisation"] <= 1.0


@given(rows=records)
def test_the_same_records_give_the_same_extract(rows) -> None:
    if len({r["person"] for r in rows}) < 5:
        return
    a = k_anonymise(rows, _qis(), k=5, subject="person", on=ON)
    b = k_anonymise(list(rows), _qis(), k=5, subject="person", on=ON)
    assert (a.kept, a.values, a.levels) == (b.kept, b.values, b.levels)


@given(born=dobs)
def test_each_date_of_birth_level_is_a_function_of_the_one_below(born) -> None:
    h = HIERARCHIES["date_of_birth"]
    values = [h.apply(born, level, ON) for level in h.levels]
    assert values[0] == born.isoformat() and values[-1] == WITHHELD
    assert values[2] == str(born.year)
    start = int(values[3][:4])
    assert start <= born.year <= start + 4 and start % 5 == 0
    age = HIERARCHIES["age"]
    assert age.apply(born, "age_band", ON) in {"0-4", "5-10", "11-15", "16-17", "18-24", "25-64", "65+"}
    assert age.apply(born, "life_stage", ON) in {"0-17", "18-64", "65+"}


@given(code=postcodes)
def test_postcodes_climb_from_unit_to_area(code) -> None:
    area, district, sector, unit = postcode_parts(code)
    h = HIERARCHIES["postcode"]
    assert [h.apply(code, lvl, ON) for lvl in h.levels] == [unit, sector, district, area, WITHHELD]
    assert unit.startswith(sector) and sector.startswith(district) and district.startswith(area)


def test_unreadable_values_are_unknown_and_bad_levels_refused() -> None:
    assert HIERARCHIES["postcode"].apply("not a postcode", "district", ON) == "Unknown"
    assert HIERARCHIES["event_date"].apply(None, "month", ON) == "Unknown"
    assert HIERARCHIES["event_date"].apply(dt.date(2024, 11, 3), "quarter", ON) == "2024-Q4"
    with pytest.raises(ValueError, match="not a level"):
        hierarchy_for("postcode", "street")
