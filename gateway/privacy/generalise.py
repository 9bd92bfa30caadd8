"""Generalisation hierarchies for quasi-identifiers: each value can be coarsened one level at a time.

A hierarchy is a ladder of levels, most detailed first, ending in `*` (the value withheld). The
catalogue says which hierarchy each quasi-identifier uses; the agreement says the level an extract
starts at (date of birth as a year, postcode as a district...); k-anonymity may climb further.
Every function here is pure: the same value, level and reference date give the same output.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

WITHHELD = "*"
UNKNOWN = "Unknown"


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# The analysis tables' bands, so that extracts and tables can be read side by side.
AGE_BANDS = ((0, "0-4"), (5, "5-10"), (11, "11-15"), (16, "16-17"), (18, "18-24"), (25, "25-64"), (65, "65+"))
LIFE_STAGES = ((0, "0-17"), (18, "18-64"), (65, "65+"))


def _banded(years: int, bands: tuple[tuple[int, str], ...]) -> str:
    label = bands[0][1]
    for start, name in bands:
        if years >= start:
            label = name
    return label


def age_band(born: dt.date, on: dt.date) -> str:
    return _banded(age(born, on), AGE_BANDS)


def life_stage(born: dt.date, on: dt.date) -> str:
    return _banded(age(born, on), LIFE_STAGES)


def year_range(year: int, width: int) -> str:
    start = year - year % width
    return f"{start}-{start + width - 1}"


_POSTCODE = re.compile(r"^\s*([A-Z]{1,2})([0-9][0-9A-Z]?)\s*([0-9])([A-Z]{2})\s*$")


def postcode_parts(postcode: str) -> tuple[str, str, str, str] | None:
    """(area, district, sector, unit) of a UK postcode, e.g. NB9 3NS -> NB, NB9, NB9 3, NB9 3NS."""
    m = _POSTCODE.match(postcode.upper())
    if m is None:
        return None
    area, district_tail, sector_digit, unit_tail = m.groups()
    district = area + district_tail
    return area, district, f"{district} {sector_digit}", f"{district} {sector_digit}{unit_tail}"


@dataclass(frozen=True)
class Hierarchy:
    """A named ladder; `levels` run from most detailed to `*`."""

    name: str
    levels: tuple[str, ...]
    apply: Callable[[object, str, dt.date], str]

    def index(self, level: str) -> int:
        return self.levels.index(level)

    @property
    def top(self) -> int:
        return len(self.levels) - 1


def _date_of_birth(value: object, level: str, on: dt.date) -> str:
    if level == WITHHELD:
        return WITHHELD
    born = _date(value)
    if born is None:
        return UNKNOWN
    if level == "date":
        return born.isoformat()
    if level == "month":
        return born.isoformat()[:7]
    if level == "year":
        return str(born.year)
    if level == "5_years":
        return year_range(born.year, 5)
    if level == "10_years":
        return year_range(born.year, 10)
    if level == "age_band":
        return age_band(born, on)
    if level == "life_stage":
        return life_stage(born, on)
    raise ValueError(f"unknown level {level!r}")


def _event_date(value: object, level: str, _on: dt.date) -> str:
    if level == WITHHELD:
        return WITHHELD
    when = _date(value)
    if when is None:
        return UNKNOWN
    if level == "date":
        return when.isoformat()
    if level == "month":
        return when.isoformat()[:7]
    if level == "quarter":
        return f"{when.year}-Q{(when.month - 1) // 3 + 1}"
    if level == "year":
        return str(when.year)
    raise ValueError(f"unknown level {level!r}")


def _postcode(value: object, level: str, _on: dt.date) -> str:
    if level == WITHHELD:
        return WITHHELD
    parts = postcode_parts(value) if isinstance(value, str) else None
    if parts is None:
        return UNKNOWN
    area, district, sector, unit = parts
    return {"postcode": unit, "sector": sector, "district": district, "area": area}[level]


def _category(value: object, level: str, _on: dt.date) -> str:
    if level == WITHHELD:
        return WITHHELD
    return UNKNOWN if value is None else str(value)


def _amount(value: object, level: str, _on: dt.date) -> str:
    """A money amount in bands of whole pounds: exact amounts are keys (an award of £187.43 a week
    is one claimant's), so an amount is never released as held unless the agreement asks for `value`."""
    if level == WITHHELD:
        return WITHHELD
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return UNKNOWN
    if level == "value":
        return f"{value:.2f}"
    width = int(level.removeprefix("band_"))
    low = int(value // width) * width
    return f"{low}-{low + width - 1}"


HIERARCHIES: dict[str, Hierarchy] = {
    h.name: h
    for h in (
        # Two ladders for dates of birth: by calendar years, or by age on the extract's date.
        Hierarchy(
            "date_of_birth", ("date", "month", "year", "5_years", "10_years", WITHHELD), _date_of_birth
        ),
        Hierarchy("age", ("age_band", "life_stage", WITHHELD), _date_of_birth),
        Hierarchy("event_date", ("date", "month", "quarter", "year", WITHHELD), _event_date),
        Hierarchy("postcode", ("postcode", "sector", "district", "area", WITHHELD), _postcode),
        Hierarchy("category", ("value", WITHHELD), _category),
        Hierarchy("amount", ("value", "band_25", "band_50", "band_100", WITHHELD), _amount),
    )
}


def hierarchy_for(kind: str, start: str | None) -> tuple[Hierarchy, int]:
    """The ladder a field climbs and the rung it starts on. A date of birth asked for as an age band
    climbs the age ladder; asked for as a year, the calendar one."""
    if kind == "date_of_birth" and start in HIERARCHIES["age"].levels:
        kind = "age"
    h = HIERARCHIES[kind]
    if start is None:
        return h, 0
    if start not in h.levels:
        raise ValueError(f"{start!r} is not a level of {kind} (levels: {', '.join(h.levels)})")
    return h, h.index(start)


def levels_of(kind: str) -> tuple[str, ...]:
    """Every level a field of this hierarchy may be asked for at (both date-of-birth ladders)."""
    if kind == "date_of_birth":
        return HIERARCHIES["date_of_birth"].levels + HIERARCHIES["age"].levels[:-1]
    return HIERARCHIES[kind].levels
