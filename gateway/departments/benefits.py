"""Benefits: housing benefit awards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Float,
    Index,
    MetaData,
    Select,
    Table,
    literal,
    or_,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Department, Tables, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import standard
from gateway.stores.relations import FAMILY, HOUSEHOLD
from gateway.synth.departments import benefits as synthetic

# Benefit roles that make up the benefit unit, i.e. a family; a non-dependant shares only the home.
BENEFIT_UNIT_ROLES = ("claimant", "partner", "dependant")


def schema() -> MetaData:
    md = MetaData()
    Table(
        "rb_claims",
        md,
        key("clm_claim_ref"),
        Column("clm_start_date", Date),
        Column("clm_end_date", Date),
        string("clm_address_line", 200),
        string("clm_postcode", 15),
        string("clm_uprn", 12),
        string("clm_tenure", 30),
        string("clm_assessor_id"),
    )
    Table(
        "rb_claim_persons",
        md,
        key("cp_person_ref"),
        string("cp_claim_ref"),
        string("cp_forename", 100),
        string("cp_surname", 100),
        Column("cp_dob", Date),
        string("cp_sex", 1),
        string("cp_role", 20),
        Index("ix_cp_claim", "cp_claim_ref"),
    )
    Table(
        "rb_hb_awards",
        md,
        key("hb_award_id"),
        string("hb_claim_ref"),
        Column("hb_from_date", Date),
        Column("hb_to_date", Date),
        Column("hb_weekly_amount", Float),
        Index("ix_hb_claim", "hb_claim_ref"),
    )
    Table(
        "rb_ctr_awards",
        md,
        key("ctr_award_id"),
        string("ctr_claim_ref"),
        Column("ctr_from_date", Date),
        Column("ctr_to_date", Date),
        Column("ctr_weekly_amount", Float),
        Index("ix_ctr_claim", "ctr_claim_ref"),
    )
    staff_table(md, "rb_assessors", "asr", "asr_assessor_id")
    return md


def identity(t: Tables) -> Select:
    p, c = t["rb_claim_persons"], t["rb_claims"]
    cols = standard(
        local_id=p.c.cp_person_ref,
        first_name=p.c.cp_forename,
        last_name=p.c.cp_surname,
        dob=p.c.cp_dob,
        sex=p.c.cp_sex,
        address_line=c.c.clm_address_line,
        postcode=c.c.clm_postcode,
        uprn=c.c.clm_uprn,
    )
    return select(*cols).select_from(p.outerjoin(c, c.c.clm_claim_ref == p.c.cp_claim_ref))


def relations(t: Tables) -> list[Select]:
    p = t["rb_claim_persons"]
    return [
        select(p.c.cp_person_ref, p.c.cp_claim_ref, p.c.cp_role, literal(HOUSEHOLD)),
        select(p.c.cp_person_ref, p.c.cp_claim_ref, p.c.cp_role, literal(FAMILY)).where(
            p.c.cp_role.in_(BENEFIT_UNIT_ROLES)
        ),
    ]


def benefits(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
    cp, hb, clm, asr = t["rb_claim_persons"], t["rb_hb_awards"], t["rb_claims"], t["rb_assessors"]
    q = (
        select(
            cp.c.cp_person_ref,
            hb.c.hb_from_date,
            *contact_columns(asr, "asr"),
        )
        .select_from(
            cp.join(hb, hb.c.hb_claim_ref == cp.c.cp_claim_ref)
            .join(clm, clm.c.clm_claim_ref == cp.c.cp_claim_ref)
            .outerjoin(asr, asr.c.asr_assessor_id == clm.c.clm_assessor_id)
        )
        .where(among(cp.c.cp_person_ref, ids), or_(hb.c.hb_to_date.is_(None), hb.c.hb_to_date >= as_of))
    )
    rows = conn.execute(q)
    return latest(
        RawFlag("benefits", "housing_benefit", pid, True, start, contact_of(*contact))
        for pid, start, *contact in rows
    )


DEPARTMENT = Department(
    name="benefits",
    label="Benefits",
    schema=schema,
    person_table=("rb_claim_persons", "cp_person_ref"),
    identity=identity,
    relations=relations,
    address_rank=1,
    synthesise=synthetic.build,
    flags=(
        FlagSpec(
            "benefits",
            "housing_benefit",
            "benefits.rb_hb_awards",
            ("hb_from_date",),
            "benefits.rb_assessors",
            ("asr_name", "asr_role", "asr_team", "asr_phone"),
            analysis_field="housing_benefit",
        ),
    ),
    flag_query=benefits,
)
