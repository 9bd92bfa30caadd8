"""Police and community safety: domestic-abuse notifications and youth offending."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, contact_of, latest
from gateway.stores.schema import store_tables


def community_safety(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("community_safety")
    dan, dac, yot, off = (
        t["cs_da_notifications"],
        t["cs_da_children"],
        t["cs_yot_involvements"],
        t["cs_officers"],
    )
    year_ago = as_of - dt.timedelta(days=365)
    out = []
    contact_cols = (off.c.off_name, off.c.off_role, off.c.off_team, off.c.off_phone)
    officer = off.c.off_officer_id == dan.c.dan_officer_id
    recent = dan.c.dan_notified_date >= year_ago
    # Victim, perpetrator, or a child present: each is a domestic-abuse notification about the person.
    notifications = [
        select(column, dan.c.dan_notified_date, *contact_cols)
        .select_from(dan.outerjoin(off, officer))
        .where(among(column, ids), recent)
        for column in (dan.c.dan_victim_nominal_id, dan.c.dan_perpetrator_nominal_id)
    ]
    notifications.append(
        select(dac.c.dac_nominal_id, dan.c.dan_notified_date, *contact_cols)
        .select_from(
            dac.join(dan, dan.c.dan_notification_id == dac.c.dac_notification_id).outerjoin(off, officer)
        )
        .where(among(dac.c.dac_nominal_id, ids), recent)
    )
    for q in notifications:
        for pid, notified, *contact in conn.execute(q):
            flag = "domestic_abuse_notification_last_12m"
            out.append(RawFlag("community_safety", flag, pid, True, notified, contact_of(*contact)))
    q = (
        select(yot.c.yot_nominal_id, yot.c.yot_start_date, *contact_cols)
        .select_from(yot.outerjoin(off, off.c.off_officer_id == yot.c.yot_officer_id))
        .where(
            among(yot.c.yot_nominal_id, ids), or_(yot.c.yot_end_date.is_(None), yot.c.yot_end_date >= as_of)
        )
    )
    for pid, start, *contact in conn.execute(q):
        out.append(
            RawFlag("community_safety", "youth_offending_involvement", pid, True, start, contact_of(*contact))
        )
    return latest(out)


DEPARTMENT = Department(
    name="community_safety",
    label="Police and community safety",
    flags=(
        FlagSpec(
            "community_safety",
            "domestic_abuse_notification_last_12m",
            "community_safety.cs_da_notifications",
            ("dan_notified_date",),
            "community_safety.cs_officers",
            ("off_name", "off_role", "off_team", "off_phone"),
            analysis_field="domestic_abuse_notification",
        ),
        FlagSpec(
            "community_safety",
            "youth_offending_involvement",
            "community_safety.cs_yot_involvements",
            ("yot_start_date",),
            "community_safety.cs_officers",
            ("off_name", "off_role", "off_team", "off_phone"),
            analysis_field="youth_offending",
        ),
    ),
    flag_query=community_safety,
)
