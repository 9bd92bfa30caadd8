"""A toy department, declared in this one module and nothing else: a youth service whose members'
membership becomes a flag. `tests/test_departments.py` registers it through `GATEWAY_DEPARTMENTS`
and checks the flag reaches caseworker views, the analysis store and the catalogue with no other edit
to the gateway (only the agreement lines that share it, as for any department)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Connection, Date, MetaData, Table, select

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Department, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import from_table
from gateway.synth.departments.common import StoreBuilder, days_before
from gateway.synth.noise import Identity

NAME = "youth_service"
MEMBERSHIP_RATE = 0.5  # of residents aged 8 to 17: high, so a small borough's caseloads include some


def schema() -> MetaData:
    md = MetaData()
    Table(
        "ys_members",
        md,
        key("ysm_member_id"),
        string("ysm_forename", 100),
        string("ysm_surname", 100),
        Column("ysm_dob", Date),
        string("ysm_sex", 1),
        string("ysm_address_line", 200),
        string("ysm_postcode", 15),
    )
    Table(
        "ys_memberships",
        md,
        key("ysp_membership_id"),
        string("ysp_member_id"),
        Column("ysp_start_date", Date),
        Column("ysp_end_date", Date),
        string("ysp_worker_id"),
    )
    staff_table(md, "ys_workers", "ysw", "ysw_worker_id")
    return md


identity = from_table(
    "ys_members",
    local_id="ysm_member_id",
    first_name="ysm_forename",
    last_name="ysm_surname",
    dob="ysm_dob",
    sex="ysm_sex",
    address_line="ysm_address_line",
    postcode="ysm_postcode",
)


def youth_service(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
    ms, w = t["ys_memberships"], t["ys_workers"]
    q = (
        select(ms.c.ysp_member_id, ms.c.ysp_start_date, *contact_columns(w, "ysw"))
        .select_from(ms.outerjoin(w, w.c.ysw_worker_id == ms.c.ysp_worker_id))
        .where(among(ms.c.ysp_member_id, ids), ms.c.ysp_end_date.is_(None))
    )
    return latest(
        RawFlag(NAME, "youth_club_member", m, True, since, contact_of(*c)) for m, since, *c in conn.execute(q)
    )


def synthesise(b: StoreBuilder) -> None:
    workers = b.professionals("YW", 3, "Youth Worker", ["Youth North", "Youth South"])
    b.add_staff("ys_workers", "ysw", "ysw_worker_id", workers)
    members = [
        i for i in range(b.world.n_people) if 8 <= b.ages[i] <= 17 and b.rnd.random() < MEMBERSHIP_RATE
    ]
    for k, i in enumerate(members):

        def row(lid: str, ident: Identity) -> dict:
            return {
                "ysm_member_id": lid,
                "ysm_forename": ident.first,
                "ysm_surname": ident.last,
                "ysm_dob": ident.dob,
                "ysm_sex": ident.sex,
                "ysm_address_line": ident.address_line,
                "ysm_postcode": ident.postcode,
            }

        member = b.register_person(i, "YS{:06d}", 100_000, 999_999, row, "ys_members")
        b.rows["ys_memberships"].append(
            {
                "ysp_membership_id": f"YSP{k + 1:06d}",
                "ysp_member_id": member,
                "ysp_start_date": days_before(b.world.as_of, b.rnd, 10, 900),
                "ysp_end_date": None,
                "ysp_worker_id": workers[k % len(workers)].id,
            }
        )


DEPARTMENT = Department(
    name=NAME,
    label="Youth service",
    schema=schema,
    person_table=("ys_members", "ysm_member_id"),
    identity=identity,
    synthesise=synthesise,
    flags=(
        FlagSpec(
            NAME,
            "youth_club_member",
            "youth_service.ys_memberships",
            ("ysp_start_date",),
            "youth_service.ys_workers",
            ("ysw_name", "ysw_role", "ysw_team", "ysw_phone"),
            analysis_field="youth_club_member",
        ),
    ),
    flag_query=youth_service,
    catalogue=(
        {
            "name": "youth_service.ys_memberships",
            "table": "ys_memberships",
            "description": "Youth club memberships.",
            "fields": {
                "ysp_membership_id": "attribute",
                "ysp_member_id": "direct_identifier",
                "ysp_start_date": "attribute",
                "ysp_end_date": "attribute",
                "ysp_worker_id": "attribute",
            },
        },
        {
            "name": "youth_service.ys_workers",
            "table": "ys_workers",
            "description": "Youth workers.",
            "fields": {
                "ysw_worker_id": "attribute",
                "ysw_name": "direct_identifier",
                "ysw_role": "attribute",
                "ysw_team": "attribute",
                "ysw_phone": "direct_identifier",
            },
        },
    ),
)
