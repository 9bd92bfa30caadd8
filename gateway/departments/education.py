"""Education: pupils, attendance, exclusions and SEN provision, with each school's safeguarding lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_of, latest
from gateway.departments.model import Casework, Department, Tables, shared_tables
from gateway.stores.columns import key, string
from gateway.stores.identity import from_table
from gateway.synth.departments import education as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "edu_schools",
        md,
        Column("sch_urn", String(6), primary_key=True),
        string("sch_name", 200),
        string("sch_phase", 20),
        string("sch_postcode", 15),
        string("sch_dsl_name", 200),
        string("sch_phone", 20),
    )
    Table(
        "edu_pupils",
        md,
        key("pup_pupil_id"),
        string("pup_upn", 13),
        string("pup_forename", 100),
        string("pup_middle_names", 100),
        string("pup_surname", 100),
        Column("pup_dob", Date),
        string("pup_sex", 1),
        string("pup_address_line", 200),
        string("pup_postcode", 15),
        string("pup_urn", 6),
        string("pup_ncyear", 2),
        string("pup_sen_provision", 1),
        Column("pup_entry_date", Date),
        Index("ix_pup_upn", "pup_upn"),
    )
    Table(
        "edu_attendance",
        md,
        Column("att_id", Integer, primary_key=True),
        string("att_pupil_id"),
        string("att_academic_year", 7),
        Column("att_sessions_possible", Integer),
        Column("att_sessions_attended", Integer),
        Column("att_authorised_absence", Integer),
        Column("att_unauthorised_absence", Integer),
        Index("ix_att_pupil", "att_pupil_id"),
    )
    Table(
        "edu_exclusions",
        md,
        key("exc_exclusion_id"),
        string("exc_pupil_id"),
        Column("exc_start_date", Date),
        string("exc_category", 4),
        string("exc_reason", 3),
        Column("exc_sessions", Integer),
        Index("ix_exc_pupil", "exc_pupil_id"),
    )
    # Education welfare: pupils whose attendance an education welfare officer is working on.
    Table(
        "edu_welfare_officers",
        md,
        key("ewo_officer_id"),
        string("ewo_name", 100),
        string("ewo_phone", 20),
    )
    Table(
        "edu_welfare_cases",
        md,
        key("ewc_case_id"),
        string("ewc_pupil_id"),
        string("ewc_officer_id"),
        Column("ewc_opened", Date),
        Column("ewc_closed", Date),
        string("ewc_reason", 40),
        Index("ix_ewc_officer", "ewc_officer_id"),
    )
    return md


identity = from_table(
    "edu_pupils",
    local_id="pup_pupil_id",
    first_name="pup_forename",
    middle_name="pup_middle_names",
    last_name="pup_surname",
    dob="pup_dob",
    sex="pup_sex",
    address_line="pup_address_line",
    postcode="pup_postcode",
)


PERSISTENT_ABSENCE = 0.10  # DfE: missing 10% or more of possible sessions


def education(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
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


def allocations(t: Tables, worker_id: str) -> Select:
    """Pupils with an open education welfare case held by the officer."""
    ewc = t["edu_welfare_cases"]
    return select(ewc.c.ewc_pupil_id).where(ewc.c.ewc_officer_id == worker_id, ewc.c.ewc_closed.is_(None))


DEPARTMENT = Department(
    name="education",
    label="Education",
    schema=schema,
    person_table=("edu_pupils", "pup_pupil_id"),
    identity=identity,
    casework=Casework(allocations, ("edu_pupils", "pup_pupil_id", "pup_forename", "pup_surname", "pup_dob")),
    staff_names=(("edu_schools", "sch_dsl_name"), ("edu_welfare_officers", "ewo_name")),
    organisations=(("edu_schools", "sch_name"),),
    address_rank=2,
    synthesise=synthetic.build,
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
