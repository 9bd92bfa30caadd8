"""Each store's identity data in one standard shape, as SQLAlchemy Core queries.

Every store keeps identity differently (CSC keeps addresses in `ssd_address`, housing keeps the
property on the tenancy, adult social care holds an NHS number). Linkage and evaluation read them all
through `identity_select(store)`, which yields the same columns everywhere:

    local_id, first_name, middle_name, last_name, dob, sex, address_line, postcode, uprn, nhs_number
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, Select, String, cast, null, select

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


def identity_select(store: str, md: MetaData | None = None) -> Select:
    md = md or store_metadata(store)
    t = md.tables
    none = null()
    if store == "childrens_social_care":
        p, a = t["ssd_person"], t["ssd_address"]
        return select(
            p.c.pers_person_id.label("local_id"),
            p.c.pers_forename.label("first_name"),
            p.c.pers_middle_names.label("middle_name"),
            p.c.pers_surname.label("last_name"),
            p.c.pers_dob.label("dob"),
            p.c.pers_sex.label("sex"),
            a.c.addr_address_line.label("address_line"),
            a.c.addr_address_postcode.label("postcode"),
            a.c.addr_address_uprn.label("uprn"),
            p.c.pers_common_child_id.label("nhs_number"),
        ).select_from(
            p.outerjoin(a, (a.c.addr_person_id == p.c.pers_person_id) & a.c.addr_address_end_date.is_(None))
        )
    if store == "early_help":
        p = t["eh_person"]
        return select(
            p.c.ehp_person_id.label("local_id"),
            p.c.ehp_forename.label("first_name"),
            none.label("middle_name"),
            p.c.ehp_surname.label("last_name"),
            p.c.ehp_dob.label("dob"),
            p.c.ehp_sex.label("sex"),
            p.c.ehp_address_line.label("address_line"),
            p.c.ehp_postcode.label("postcode"),
            p.c.ehp_uprn.label("uprn"),
            p.c.ehp_nhs_number.label("nhs_number"),
        )
    if store == "housing":
        p, ten = t["hsg_tenancy_persons"], t["hsg_tenancies"]
        return select(
            p.c.tp_person_ref.label("local_id"),
            p.c.tp_forename.label("first_name"),
            none.label("middle_name"),
            p.c.tp_surname.label("last_name"),
            p.c.tp_dob.label("dob"),
            p.c.tp_sex.label("sex"),
            p.c.tp_address_line.label("address_line"),
            p.c.tp_postcode.label("postcode"),
            ten.c.prop_uprn.label("uprn"),
            cast(none, String).label("nhs_number"),
        ).select_from(p.outerjoin(ten, ten.c.ten_tenancy_ref == p.c.tp_tenancy_ref))
    if store == "education":
        p = t["edu_pupils"]
        return select(
            p.c.pup_pupil_id.label("local_id"),
            p.c.pup_forename.label("first_name"),
            p.c.pup_middle_names.label("middle_name"),
            p.c.pup_surname.label("last_name"),
            p.c.pup_dob.label("dob"),
            p.c.pup_sex.label("sex"),
            p.c.pup_address_line.label("address_line"),
            p.c.pup_postcode.label("postcode"),
            cast(none, String).label("uprn"),
            cast(none, String).label("nhs_number"),
        )
    if store == "community_safety":
        p = t["cs_nominals"]
        return select(
            p.c.nom_nominal_id.label("local_id"),
            p.c.nom_forename.label("first_name"),
            none.label("middle_name"),
            p.c.nom_surname.label("last_name"),
            p.c.nom_dob.label("dob"),
            p.c.nom_sex.label("sex"),
            p.c.nom_address_line.label("address_line"),
            p.c.nom_postcode.label("postcode"),
            cast(none, String).label("uprn"),
            cast(none, String).label("nhs_number"),
        )
    if store == "adult_social_care":
        p = t["asc_clients"]
        return select(
            p.c.cli_client_id.label("local_id"),
            p.c.cli_forename.label("first_name"),
            none.label("middle_name"),
            p.c.cli_surname.label("last_name"),
            p.c.cli_dob.label("dob"),
            p.c.cli_sex.label("sex"),
            p.c.cli_address_line.label("address_line"),
            p.c.cli_postcode.label("postcode"),
            cast(none, String).label("uprn"),
            p.c.cli_nhs_number.label("nhs_number"),
        )
    if store == "benefits":
        p, c = t["rb_claim_persons"], t["rb_claims"]
        return select(
            p.c.cp_person_ref.label("local_id"),
            p.c.cp_forename.label("first_name"),
            none.label("middle_name"),
            p.c.cp_surname.label("last_name"),
            p.c.cp_dob.label("dob"),
            p.c.cp_sex.label("sex"),
            c.c.clm_address_line.label("address_line"),
            c.c.clm_postcode.label("postcode"),
            c.c.clm_uprn.label("uprn"),
            cast(none, String).label("nhs_number"),
        ).select_from(p.outerjoin(c, c.c.clm_claim_ref == p.c.cp_claim_ref))
    raise ValueError(f"unknown store {store!r}; known: {', '.join(STORE_NAMES)}")


def read_identities(store: str, engine: Engine) -> list[dict]:
    """All identity rows of one store, ordered by local id (a stable order for every engine)."""
    query = identity_select(store).order_by("local_id")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
