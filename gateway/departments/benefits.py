"""Benefits: housing benefit awards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, latest
from gateway.stores.schema import store_tables


def benefits(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("benefits")
    cp, hb = t["rb_claim_persons"], t["rb_hb_awards"]
    q = (
        select(cp.c.cp_person_ref, hb.c.hb_from_date)
        .select_from(cp.join(hb, hb.c.hb_claim_ref == cp.c.cp_claim_ref))
        .where(among(cp.c.cp_person_ref, ids), or_(hb.c.hb_to_date.is_(None), hb.c.hb_to_date >= as_of))
    )
    return latest(RawFlag("benefits", "housing_benefit", pid, True, start) for pid, start in conn.execute(q))


DEPARTMENT = Department(
    name="benefits",
    label="Benefits",
    flags=(
        FlagSpec(
            "benefits",
            "housing_benefit",
            "benefits.rb_hb_awards",
            ("hb_from_date",),
            analysis_field="housing_benefit",
        ),
    ),
    flag_query=benefits,
)
