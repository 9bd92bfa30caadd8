"""Housing: tenancies, rent accounts and temporary accommodation; refuge and other sensitive tenancies
are protected."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, contact_of, latest
from gateway.stores.schema import store_tables


def housing(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("housing")
    tp, ten, ra, ta, off = (
        t[n]
        for n in (
            "hsg_tenancy_persons",
            "hsg_tenancies",
            "hsg_rent_accounts",
            "hsg_temporary_accommodation",
            "hsg_officers",
        )
    )
    out = []
    q = (
        select(
            tp.c.tp_person_ref,
            ra.c.ra_arrears_band,
            ra.c.ra_arrears_since,
            off.c.off_name,
            off.c.off_role,
            off.c.off_team,
            off.c.off_phone,
        )
        .select_from(
            tp.join(ten, ten.c.ten_tenancy_ref == tp.c.tp_tenancy_ref)
            .join(ra, ra.c.ra_tenancy_ref == ten.c.ten_tenancy_ref)
            .outerjoin(off, off.c.off_officer_id == ten.c.ten_officer_id)
        )
        .where(
            among(tp.c.tp_person_ref, ids), ra.c.ra_arrears_band.is_not(None), ra.c.ra_arrears_band != "none"
        )
    )
    for pid, band, since, *contact in conn.execute(q):
        out.append(RawFlag("housing", "rent_arrears", pid, band, since, contact_of(*contact)))
    q = (
        select(
            ta.c.ta_lead_person_ref,
            ta.c.ta_start_date,
            off.c.off_name,
            off.c.off_role,
            off.c.off_team,
            off.c.off_phone,
        )
        .select_from(ta.outerjoin(off, off.c.off_officer_id == ta.c.ta_officer_id))
        .where(
            among(ta.c.ta_lead_person_ref, ids), or_(ta.c.ta_end_date.is_(None), ta.c.ta_end_date >= as_of)
        )
    )
    lead: str
    for lead, since, *contact in conn.execute(q):
        out.append(RawFlag("housing", "temporary_accommodation", lead, True, since, contact_of(*contact)))
    return latest(out)


DEPARTMENT = Department(
    name="housing",
    label="Housing",
    flags=(
        FlagSpec(
            "housing",
            "rent_arrears",
            "housing.hsg_rent_accounts",
            ("ra_arrears_band", "ra_arrears_since"),
            "housing.hsg_officers",
            ("off_name", "off_role", "off_team", "off_phone"),
            analysis_field="rent_arrears",
        ),
        FlagSpec(
            "housing",
            "temporary_accommodation",
            "housing.hsg_temporary_accommodation",
            ("ta_start_date",),
            "housing.hsg_officers",
            ("off_name", "off_role", "off_team", "off_phone"),
            analysis_field="temporary_accommodation",
        ),
    ),
    flag_query=housing,
    protection_marker=("hsg_tenancy_persons", "tp_person_ref", "tp_sensitive"),
)
