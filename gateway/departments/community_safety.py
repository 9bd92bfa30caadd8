"""Police and community safety: domestic-abuse notifications and youth offending."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    MetaData,
    Select,
    Table,
    or_,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Casework, Department, Tables, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import from_table
from gateway.synth.departments import community_safety as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "cs_nominals",
        md,
        key("nom_nominal_id"),
        string("nom_forename", 100),
        string("nom_surname", 100),
        Column("nom_dob", Date),
        string("nom_sex", 1),
        string("nom_address_line", 200),
        string("nom_postcode", 15),
    )
    Table(
        "cs_da_notifications",
        md,
        key("dan_notification_id"),
        Column("dan_incident_date", Date),
        Column("dan_notified_date", Date),
        string("dan_victim_nominal_id"),
        string("dan_perpetrator_nominal_id"),
        string("dan_children_present", 1),
        string("dan_risk_level", 10),
        string("dan_officer_id"),
        Index("ix_dan_victim", "dan_victim_nominal_id"),
        Index("ix_dan_perp", "dan_perpetrator_nominal_id"),
    )
    Table(
        "cs_da_children",
        md,
        key("dac_id"),
        string("dac_notification_id"),
        string("dac_nominal_id"),
        Index("ix_dac_nominal", "dac_nominal_id"),
    )
    Table(
        "cs_yot_involvements",
        md,
        key("yot_case_id"),
        string("yot_nominal_id"),
        Column("yot_start_date", Date),
        Column("yot_end_date", Date),
        string("yot_disposal", 60),
        string("yot_officer_id"),
        Index("ix_yot_nominal", "yot_nominal_id"),
    )
    staff_table(md, "cs_officers", "off", "off_officer_id")
    return md


identity = from_table(
    "cs_nominals",
    local_id="nom_nominal_id",
    first_name="nom_forename",
    last_name="nom_surname",
    dob="nom_dob",
    sex="nom_sex",
    address_line="nom_address_line",
    postcode="nom_postcode",
)


def community_safety(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
    dan, dac, yot, off = (
        t["cs_da_notifications"],
        t["cs_da_children"],
        t["cs_yot_involvements"],
        t["cs_officers"],
    )
    year_ago = as_of - dt.timedelta(days=365)
    out = []
    contact_cols = contact_columns(off, "off")
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


def allocations(t: Tables, worker_id: str) -> Select:
    """Young people with an open youth justice case held by the officer."""
    yot = t["cs_yot_involvements"]
    return select(yot.c.yot_nominal_id).where(yot.c.yot_officer_id == worker_id, yot.c.yot_end_date.is_(None))


DEPARTMENT = Department(
    casework=Casework(
        allocations, ("cs_nominals", "nom_nominal_id", "nom_forename", "nom_surname", "nom_dob")
    ),
    name="community_safety",
    label="Police and community safety",
    schema=schema,
    person_table=("cs_nominals", "nom_nominal_id"),
    identity=identity,
    address_rank=6,
    synthesise=synthetic.build,
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
