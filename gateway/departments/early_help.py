"""Early help: open episodes and the key worker."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, contact_of, latest
from gateway.stores.schema import store_tables


def early_help(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("early_help")
    ep, kw = t["ssd_early_help_episodes"], t["eh_key_workers"]
    q = (
        select(
            ep.c.earl_person_id,
            ep.c.earl_episode_start_date,
            kw.c.ehkw_name,
            kw.c.ehkw_role,
            kw.c.ehkw_team,
            kw.c.ehkw_phone,
        )
        .select_from(ep.outerjoin(kw, kw.c.ehkw_worker_id == ep.c.earl_episode_worker_id))
        .where(
            among(ep.c.earl_person_id, ids),
            or_(ep.c.earl_episode_end_date.is_(None), ep.c.earl_episode_end_date >= as_of),
        )
    )
    return latest(
        RawFlag("early_help", "early_help_involvement", pid, True, start, contact_of(*c))
        for pid, start, *c in conn.execute(q)
    )


DEPARTMENT = Department(
    name="early_help",
    label="Early help",
    flags=(
        FlagSpec(
            "early_help",
            "early_help_involvement",
            "early_help.ssd_early_help_episodes",
            ("earl_episode_start_date",),
            "early_help.eh_key_workers",
            ("ehkw_name", "ehkw_role", "ehkw_team", "ehkw_phone"),
            analysis_field="early_help",
        ),
    ),
    flag_query=early_help,
)
