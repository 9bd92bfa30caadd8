"""Each store's identity data in one standard shape, as SQLAlchemy Core queries.

Every store keeps identity differently (CSC keeps addresses in `ssd_address`, housing keeps the
property on the tenancy, adult social care holds an NHS number). Each department's `identity` query
(`gateway/departments/`) yields the same columns everywhere, built with `standard`:

    local_id, first_name, middle_name, last_name, dob, sex, address_line, postcode, uprn, nhs_number
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import ColumnElement, Select, String, Table, cast, null, select

STANDARD_COLUMNS = (
    "local_id",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "sex",
    "address_line",
    "postcode",
    "uprn",
    "nhs_number",
)


def standard(**columns: ColumnElement) -> list[ColumnElement]:
    """The standard column list; whatever a store does not hold is a typed NULL."""
    unknown = set(columns) - set(STANDARD_COLUMNS)
    if unknown:
        raise ValueError(f"not standard identity columns: {sorted(unknown)}")
    return [columns.get(name, cast(null(), String)).label(name) for name in STANDARD_COLUMNS]


def from_table(table: str, **columns: str) -> Callable[[Mapping[str, Table]], Select]:
    """The identity query of a store that keeps a person's identity in one table, declared as
    standard column -> the store's column (what it does not hold is NULL)."""

    def identity(tables: Mapping[str, Table]) -> Select:
        person = tables[table]
        return select(*standard(**{name: person.c[column] for name, column in columns.items()}))

    return identity
