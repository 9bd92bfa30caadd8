"""Early help: open episodes and the key worker."""

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
    Text,
    literal,
    or_,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Casework, Department, NoteTable, Tables, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import from_table
from gateway.stores.relations import FAMILY
from gateway.synth.departments import early_help as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "eh_person",
        md,
        key("ehp_person_id"),
        string("ehp_forename", 100),
        string("ehp_surname", 100),
        Column("ehp_dob", Date),
        string("ehp_sex", 1),
        string("ehp_address_line", 200),
        string("ehp_postcode", 15),
        string("ehp_uprn", 12),
        string("ehp_nhs_number", 10),
        string("ehp_phone", 20),
    )
    Table(
        "eh_family",
        md,
        key("ehf_family_id"),
        string("ehf_lead_person_id"),
        Column("ehf_created_date", Date),
    )
    Table(
        "eh_family_member",
        md,
        key("ehfm_id"),
        string("ehfm_family_id"),
        string("ehfm_person_id"),
        string("ehfm_relationship", 20),
        Index("ix_ehfm_person", "ehfm_person_id"),
        Index("ix_ehfm_family", "ehfm_family_id"),
    )
    Table(
        "ssd_early_help_episodes",
        md,
        key("earl_episode_id"),
        string("earl_person_id"),
        string("earl_family_id"),
        Column("earl_episode_start_date", Date),
        Column("earl_episode_end_date", Date),
        string("earl_episode_reason", 255),
        string("earl_episode_end_reason", 255),
        string("earl_episode_organisation", 100),
        string("earl_episode_worker_id"),
        Index("ix_earl_person", "earl_person_id"),
    )
    staff_table(md, "eh_key_workers", "ehkw", "ehkw_worker_id")
    Table(
        "eh_case_notes",
        md,
        key("ehn_note_id"),
        string("ehn_person_id"),
        string("ehn_episode_id"),
        Column("ehn_note_date", Date),
        Column("ehn_note_text", Text),
        string("ehn_worker_id"),
        Index("ix_ehn_person", "ehn_person_id"),
    )
    return md


def allocations(t: Tables, worker_id: str) -> Select:
    """Families' members allocated to a key worker: open early-help episodes."""
    ep = t["ssd_early_help_episodes"]
    return select(ep.c.earl_person_id).where(
        ep.c.earl_episode_worker_id == worker_id, ep.c.earl_episode_end_date.is_(None)
    )


identity = from_table(
    "eh_person",
    local_id="ehp_person_id",
    first_name="ehp_forename",
    last_name="ehp_surname",
    dob="ehp_dob",
    sex="ehp_sex",
    address_line="ehp_address_line",
    postcode="ehp_postcode",
    uprn="ehp_uprn",
    nhs_number="ehp_nhs_number",
)


def relations(t: Tables) -> list[Select]:
    m = t["eh_family_member"]
    return [select(m.c.ehfm_person_id, m.c.ehfm_family_id, m.c.ehfm_relationship, literal(FAMILY))]


def early_help(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
    ep, kw = t["ssd_early_help_episodes"], t["eh_key_workers"]
    q = (
        select(
            ep.c.earl_person_id,
            ep.c.earl_episode_start_date,
            *contact_columns(kw, "ehkw"),
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
    schema=schema,
    person_table=("eh_person", "ehp_person_id"),
    identity=identity,
    relations=relations,
    casework=Casework(
        allocations,
        ("eh_person", "ehp_person_id", "ehp_forename", "ehp_surname", "ehp_dob"),
        ("eh_family_member", "ehfm_person_id", "ehfm_relationship"),
    ),
    notes=(NoteTable("eh_case_notes", "ehn_person_id", "ehn_note_date", None, "ehn_note_text"),),
    staff_names=(("eh_key_workers", "ehkw_name"),),
    address_rank=4,
    synthesise=synthetic.build,
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
