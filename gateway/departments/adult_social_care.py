"""Adult social care: care packages and the worker who holds each."""

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
    or_,
    select,
)

from gateway.departments.flags import FlagSpec, RawFlag, among, contact_columns, contact_of, latest
from gateway.departments.model import Casework, Department, Tables, shared_tables
from gateway.stores.columns import key, staff_table, string
from gateway.stores.identity import from_table
from gateway.synth.departments import adult_social_care as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "asc_clients",
        md,
        key("cli_client_id"),
        string("cli_forename", 100),
        string("cli_surname", 100),
        Column("cli_dob", Date),
        string("cli_sex", 1),
        string("cli_nhs_number", 10),
        string("cli_address_line", 200),
        string("cli_postcode", 15),
    )
    Table(
        "asc_care_packages",
        md,
        key("pkg_package_id"),
        string("pkg_client_id"),
        Column("pkg_start_date", Date),
        Column("pkg_end_date", Date),
        string("pkg_service_type", 60),
        string("pkg_primary_support_reason", 60),
        Column("pkg_weekly_cost", Float),
        string("pkg_worker_id"),
        Index("ix_pkg_client", "pkg_client_id"),
    )
    staff_table(md, "asc_workers", "wkr", "wkr_worker_id")
    return md


identity = from_table(
    "asc_clients",
    local_id="cli_client_id",
    first_name="cli_forename",
    last_name="cli_surname",
    dob="cli_dob",
    sex="cli_sex",
    address_line="cli_address_line",
    postcode="cli_postcode",
    nhs_number="cli_nhs_number",
)


def adult_social_care(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = shared_tables(schema)
    pkg, wkr = t["asc_care_packages"], t["asc_workers"]
    q = (
        select(
            pkg.c.pkg_client_id,
            pkg.c.pkg_start_date,
            *contact_columns(wkr, "wkr"),
        )
        .select_from(pkg.outerjoin(wkr, wkr.c.wkr_worker_id == pkg.c.pkg_worker_id))
        .where(
            among(pkg.c.pkg_client_id, ids), or_(pkg.c.pkg_end_date.is_(None), pkg.c.pkg_end_date >= as_of)
        )
    )
    return latest(
        RawFlag("adult_social_care", "receives_care_package", pid, True, start, contact_of(*c))
        for pid, start, *c in conn.execute(q)
    )


def allocations(t: Tables, worker_id: str) -> Select:
    """Clients with an open care package the worker is responsible for."""
    pkg = t["asc_care_packages"]
    return select(pkg.c.pkg_client_id).where(pkg.c.pkg_worker_id == worker_id, pkg.c.pkg_end_date.is_(None))


DEPARTMENT = Department(
    casework=Casework(
        allocations, ("asc_clients", "cli_client_id", "cli_forename", "cli_surname", "cli_dob")
    ),
    name="adult_social_care",
    label="Adult social care",
    schema=schema,
    person_table=("asc_clients", "cli_client_id"),
    identity=identity,
    address_rank=5,
    synthesise=synthetic.build,
    flags=(
        FlagSpec(
            "adult_social_care",
            "receives_care_package",
            "adult_social_care.asc_care_packages",
            ("pkg_start_date",),
            "adult_social_care.asc_workers",
            ("wkr_name", "wkr_role", "wkr_team", "wkr_phone"),
            analysis_field="asc_client",
        ),
    ),
    flag_query=adult_social_care,
)
