"""Education: pupils, attendance, exclusions and SEN provision, with each school's safeguarding lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, select

from gateway.departments.flags import Department, FlagSpec, RawFlag, among, contact_of, latest
from gateway.stores.schema import store_tables

PERSISTENT_ABSENCE = 0.10  # DfE: missing 10% or more of possible sessions


def education(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("education")
    pup, att, exc, sch = t["edu_pupils"], t["edu_attendance"], t["edu_exclusions"], t["edu_schools"]
    school = {
        pid: contact_of(dsl, "Designated safeguarding lead", name, phone)
        for pid, dsl, name, phone in conn.execute(
            select(pup.c.pup_pupil_id, sch.c.sch_dsl_name, sch.c.sch_name, sch.c.sch_phone)
            .select_from(pup.outerjoin(sch, sch.c.sch_urn == pup.c.pup_urn))
            .where(among(pup.c.pup_pupil_id, ids))
        )
    }
    out = []
    latest_year: dict[str, tuple[str, int, int]] = {}
    for pid, year, possible, attended in conn.execute(
        select(
            att.c.att_pupil_id,
            att.c.att_academic_year,
            att.c.att_sessions_possible,
            att.c.att_sessions_attended,
        ).where(among(att.c.att_pupil_id, ids))
    ):
        if pid not in latest_year or year > latest_year[pid][0]:
            latest_year[pid] = (year, possible or 0, attended or 0)
    for pid, (year, possible, attended) in latest_year.items():
        if possible and (possible - attended) / possible >= PERSISTENT_ABSENCE:
            start = dt.date(int(year[:4]), 9, 1)
            out.append(RawFlag("education", "persistent_absence", pid, True, start, school.get(pid)))
    year_ago = as_of - dt.timedelta(days=365)
    for pid, start in conn.execute(
        select(exc.c.exc_pupil_id, exc.c.exc_start_date).where(
            among(exc.c.exc_pupil_id, ids), exc.c.exc_start_date >= year_ago
        )
    ):
        out.append(RawFlag("education", "exclusion_last_12m", pid, True, start, school.get(pid)))
    for pid, sen in conn.execute(
        select(pup.c.pup_pupil_id, pup.c.pup_sen_provision).where(among(pup.c.pup_pupil_id, ids))
    ):
        if sen == "K":
            out.append(RawFlag("education", "sen_support", pid, True, None, school.get(pid)))
        elif sen == "E":
            out.append(RawFlag("education", "ehcp", pid, True, None, school.get(pid)))
    return latest(out)


DEPARTMENT = Department(
    name="education",
    label="Education",
    flags=(
        FlagSpec(
            "education",
            "persistent_absence",
            "education.edu_attendance",
            ("att_sessions_possible", "att_sessions_attended"),
            "education.edu_schools",
            ("sch_name", "sch_dsl_name", "sch_phone"),
            analysis_field="persistent_absence",
        ),
        FlagSpec(
            "education",
            "exclusion_last_12m",
            "education.edu_exclusions",
            ("exc_start_date",),
            "education.edu_schools",
            ("sch_name", "sch_dsl_name", "sch_phone"),
            analysis_field="exclusion",
        ),
        FlagSpec(
            "education",
            "sen_support",
            "education.edu_pupils",
            ("pup_sen_provision",),
            "education.edu_schools",
            ("sch_name", "sch_dsl_name", "sch_phone"),
            analysis_field="sen",
        ),
        FlagSpec(
            "education",
            "ehcp",
            "education.edu_pupils",
            ("pup_sen_provision",),
            "education.edu_schools",
            ("sch_name", "sch_dsl_name", "sch_phone"),
            analysis_field="sen",
        ),
    ),
    flag_query=education,
)
