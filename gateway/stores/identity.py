"""Each store's identity data in one standard shape, as SQLAlchemy Core queries.

Every store keeps identity differently (CSC keeps addresses in `ssd_address`, housing keeps the
property on the tenancy, adult social care holds an NHS number). Each department's `identity` query
(`gateway/departments/`) yields the same columns everywhere, built with `standard`:

    local_id, first_name, middle_name, last_name, dob, sex, address_line, postcode, uprn, nhs_number
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, cast, null

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
