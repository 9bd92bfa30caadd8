"""Housing: tenancies, rent accounts and temporary accommodation; refuge and other sensitive tenancies
are protected."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    literal,
    or_,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Casework, Department, Tables, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import standard
from gateway.stores.relations import HOUSEHOLD
from gateway.synth.departments import housing as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "hsg_properties",
        md,
        Column("prop_uprn", String(12), primary_key=True),
        string("prop_address_line", 200),
        string("prop_postcode", 15),
        string("prop_ward", 100),
        string("prop_tenure_type", 30),
    )
    Table(
        "hsg_tenancies",
        md,
        key("ten_tenancy_ref"),
        string("prop_uprn", 12),
        Column("ten_start_date", Date),
        Column("ten_end_date", Date),
        string("ten_type", 20),
        string("ten_officer_id"),
    )
    Table(
        "hsg_tenancy_persons",
        md,
        key("tp_person_ref"),
        string("tp_tenancy_ref"),
        string("tp_forename", 100),
        string("tp_surname", 100),
        Column("tp_dob", Date),
        string("tp_sex", 1),
        string("tp_relationship", 30),
        string("tp_phone", 20),
        string("tp_sensitive", 1),
        string("tp_address_line", 200),
        string("tp_postcode", 15),
        Index("ix_tp_tenancy", "tp_tenancy_ref"),
    )
    Table(
        "hsg_rent_accounts",
        md,
        key("ra_account_ref"),
        string("ra_tenancy_ref"),
        Column("ra_weekly_rent", Float),
        Column("ra_balance", Float),
        Column("ra_arrears_since", Date),
        string("ra_arrears_band", 20),
        Column("ra_last_payment_date", Date),
        Index("ix_ra_tenancy", "ra_tenancy_ref"),
    )
    Table(
        "hsg_rent_transactions",
        md,
        Column("rt_id", Integer, primary_key=True),
        string("rt_account_ref"),
        Column("rt_date", Date),
        string("rt_type", 10),
        Column("rt_amount", Float),
        Index("ix_rt_account", "rt_account_ref"),
    )
    Table(
        "hsg_temporary_accommodation",
        md,
        key("ta_placement_ref"),
        string("ta_lead_person_ref"),
        string("prop_uprn", 12),
        Column("ta_start_date", Date),
        Column("ta_end_date", Date),
        string("ta_accommodation_type", 40),
        string("ta_officer_id"),
        Index("ix_ta_person", "ta_lead_person_ref"),
    )
    staff_table(md, "hsg_officers", "off", "off_officer_id")
    return md


def identity(t: Tables) -> Select:
    p, ten = t["hsg_tenancy_persons"], t["hsg_tenancies"]
    cols = standard(
        local_id=p.c.tp_person_ref,
        first_name=p.c.tp_forename,
        last_name=p.c.tp_surname,
        dob=p.c.tp_dob,
        sex=p.c.tp_sex,
        address_line=p.c.tp_address_line,
        postcode=p.c.tp_postcode,
        uprn=ten.c.prop_uprn,
    )
    return select(*cols).select_from(p.outerjoin(ten, ten.c.ten_tenancy_ref == p.c.tp_tenancy_ref))


def relations(t: Tables) -> list[Select]:
    p = t["hsg_tenancy_persons"]
    return [select(p.c.tp_person_ref, p.c.tp_tenancy_ref, p.c.tp_relationship, literal(HOUSEHOLD))]


def housing(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
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
            *contact_columns(off, "off"),
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
            *contact_columns(off, "off"),
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


def allocations(t: Tables, worker_id: str) -> Select:
    """Everyone on the current tenancies a housing officer manages (their patch)."""
    ten, tp = t["hsg_tenancies"], t["hsg_tenancy_persons"]
    return (
        select(tp.c.tp_person_ref)
        .join(ten, ten.c.ten_tenancy_ref == tp.c.tp_tenancy_ref)
        .where(ten.c.ten_officer_id == worker_id, ten.c.ten_end_date.is_(None))
    )


DEPARTMENT = Department(
    casework=Casework(
        allocations,
        ("hsg_tenancy_persons", "tp_person_ref", "tp_forename", "tp_surname", "tp_dob"),
        ("hsg_tenancy_persons", "tp_person_ref", "tp_relationship"),
    ),
    name="housing",
    label="Housing",
    schema=schema,
    person_table=("hsg_tenancy_persons", "tp_person_ref"),
    identity=identity,
    relations=relations,
    address_rank=0,
    synthesise=synthetic.build,
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
