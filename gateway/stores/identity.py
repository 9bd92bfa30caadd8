"""Each store's identity data in one standard shape, as SQLAlchemy Core queries.

Every store keeps identity differently (CSC keeps addresses in `ssd_address`, housing keeps the
property on the tenancy, adult social care holds an NHS number). Linkage and evaluation read them all
through `identity_select(store)`, which yields the same columns everywhere:

    local_id, first_name, middle_name, last_name, dob, sex, address_line, postcode, uprn, nhs_number
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, MetaData, Select, String, cast, null, select

from gateway.stores.schema import STORE_NAMES, store_metadata

STANDARD_COLUMNS = (
    "local_id",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "sex",
    "address_line",
    "postcode",
    "uprn",
    "nhs_number",
)


def _standard(**columns: ColumnElement) -> list[ColumnElement]:
    """The standard column list; whatever a store does not hold is a typed NULL."""
    unknown = set(columns) - set(STANDARD_COLUMNS)
    if unknown:
        raise ValueError(f"not standard identity columns: {sorted(unknown)}")
    return [columns.get(name, cast(null(), String)).label(name) for name in STANDARD_COLUMNS]


def identity_select(store: str, md: MetaData | None = None) -> Select:
    md = md or store_metadata(store)
    t = md.tables
    if store == "childrens_social_care":
        p, a = t["ssd_person"], t["ssd_address"]
        current = (a.c.addr_person_id == p.c.pers_person_id) & a.c.addr_address_end_date.is_(None)
        cols = _standard(
            local_id=p.c.pers_person_id,
            first_name=p.c.pers_forename,
            middle_name=p.c.pers_middle_names,
            last_name=p.c.pers_surname,
            dob=p.c.pers_dob,
            sex=p.c.pers_sex,
            address_line=a.c.addr_address_line,
            postcode=a.c.addr_address_postcode,
            uprn=a.c.addr_address_uprn,
            nhs_number=p.c.pers_common_child_id,
        )
        return select(*cols).select_from(p.outerjoin(a, current))
    if store == "early_help":
        p = t["eh_person"]
        return select(
            *_standard(
                local_id=p.c.ehp_person_id,
                first_name=p.c.ehp_forename,
                last_name=p.c.ehp_surname,
                dob=p.c.ehp_dob,
                sex=p.c.ehp_sex,
                address_line=p.c.ehp_address_line,
                postcode=p.c.ehp_postcode,
                uprn=p.c.ehp_uprn,
                nhs_number=p.c.ehp_nhs_number,
            )
        )
    if store == "housing":
        p, ten = t["hsg_tenancy_persons"], t["hsg_tenancies"]
        cols = _standard(
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
    if store == "education":
        p = t["edu_pupils"]
        return select(
            *_standard(
                local_id=p.c.pup_pupil_id,
                first_name=p.c.pup_forename,
                middle_name=p.c.pup_middle_names,
                last_name=p.c.pup_surname,
                dob=p.c.pup_dob,
                sex=p.c.pup_sex,
                address_line=p.c.pup_address_line,
                postcode=p.c.pup_postcode,
            )
        )
    if store == "community_safety":
        p = t["cs_nominals"]
        return select(
            *_standard(
                local_id=p.c.nom_nominal_id,
                first_name=p.c.nom_forename,
                last_name=p.c.nom_surname,
                dob=p.c.nom_dob,
                sex=p.c.nom_sex,
                address_line=p.c.nom_address_line,
                postcode=p.c.nom_postcode,
            )
        )
    if store == "adult_social_care":
        p = t["asc_clients"]
        return select(
            *_standard(
                local_id=p.c.cli_client_id,
                first_name=p.c.cli_forename,
                last_name=p.c.cli_surname,
                dob=p.c.cli_dob,
                sex=p.c.cli_sex,
                address_line=p.c.cli_address_line,
                postcode=p.c.cli_postcode,
                nhs_number=p.c.cli_nhs_number,
            )
        )
    if store == "benefits":
        p, c = t["rb_claim_persons"], t["rb_claims"]
        cols = _standard(
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
    raise ValueError(f"unknown store {store!r}; known: {', '.join(STORE_NAMES)}")


def read_identities(store: str, engine: Engine) -> list[dict]:
    """All identity rows of one store, ordered by local id (a stable order for every engine)."""
    query = identity_select(store).order_by("local_id")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
