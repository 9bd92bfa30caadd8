"""Adult social care: care packages and the worker who holds each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, contact_of, latest
from gateway.stores.schema import store_tables


def adult_social_care(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("adult_social_care")
    pkg, wkr = t["asc_care_packages"], t["asc_workers"]
    q = (
        select(
            pkg.c.pkg_client_id,
            pkg.c.pkg_start_date,
            wkr.c.wkr_name,
            wkr.c.wkr_role,
            wkr.c.wkr_team,
            wkr.c.wkr_phone,
        )
        .select_from(pkg.outerjoin(wkr, wkr.c.wkr_worker_id == pkg.c.pkg_worker_id))
        .where(
            among(pkg.c.pkg_client_id, ids), or_(pkg.c.pkg_end_date.is_(None), pkg.c.pkg_end_date >= as_of)
        )
    )
    return latest(
        RawFlag("adult_social_care", "receives_care_package", pid, True, start, contact_of(*c))
        for pid, start, *c in conn.execute(q)
    )


DEPARTMENT = Department(
    name="adult_social_care",
    label="Adult social care",
    flags=(
        FlagSpec(
            "adult_social_care",
            "receives_care_package",
            "adult_social_care.asc_care_packages",
            ("pkg_start_date",),
            "adult_social_care.asc_workers",
            ("wkr_name", "wkr_role", "wkr_team", "wkr_phone"),
            analysis_field="asc_client",
        ),
    ),
    flag_query=adult_social_care,
)
