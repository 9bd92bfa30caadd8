"""Table definitions of the seven departmental stores.

Each store is its own database with its own local ids. The shapes follow public schemas rather than
invented ones:

* children's social care: the Standard Safeguarding Dataset (data-to-insight/ssd-data-model) tables and
  column prefixes (`ssd_person.pers_*`, `ssd_cin_episodes.cine_*`, `ssd_involvements.invo_*`, ...), with
  DfE Children in Need census and SSDA903 code lists. The SSD leaves names out (its API fills them
  from the case-management system), so `pers_forename`/`pers_surname` are added as the CMS holds them.
* early help: `ssd_early_help_episodes` from the SSD plus the family grouping an early-help module keeps.
* housing, education, community safety, adult social care: the per-service fields of the Family Context
  common data model (CSCDP/Family-Context-PrivateBeta: contact name, role and number, start of last
  involvement, most recent interaction) on top of each sector's usual system tables; education uses
  school-census codes (SEN provision N/K/E, exclusion categories), adult social care SALT categories.
* benefits: the Single Housing Benefit Extract's claim / person / award split.

`docs/synthetic-data.md` describes every column.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Column, Date, Float, Index, Integer, MetaData, String, Table, Text

STORE_NAMES: tuple[str, ...] = (
    "childrens_social_care",
    "early_help",
    "housing",
    "education",
    "community_safety",
    "adult_social_care",
    "benefits",
)

# The table and column that hold each store's person records (its identity data).
PERSON_TABLES: dict[str, tuple[str, str]] = {
    "childrens_social_care": ("ssd_person", "pers_person_id"),
    "early_help": ("eh_person", "ehp_person_id"),
    "housing": ("hsg_tenancy_persons", "tp_person_ref"),
    "education": ("edu_pupils", "pup_pupil_id"),
    "community_safety": ("cs_nominals", "nom_nominal_id"),
    "adult_social_care": ("asc_clients", "cli_client_id"),
    "benefits": ("rb_claim_persons", "cp_person_ref"),
}


def _s(name: str, length: int = 48, **kw: Any) -> Column:
    return Column(name, String(length), **kw)


def _pk(name: str) -> Column:
    return Column(name, String(48), primary_key=True)


def _staff_table(md: MetaData, name: str, prefix: str, id_column: str) -> Table:
    """Named workers a service gives as its contact (Family Context: name, role, team, number)."""
    return Table(
        name,
        md,
        _pk(id_column),
        _s(f"{prefix}_name", 200),
        _s(f"{prefix}_role", 100),
        _s(f"{prefix}_team", 100),
        _s(f"{prefix}_phone", 20),
    )


def childrens_social_care() -> MetaData:
    md = MetaData()
    Table(
        "ssd_person",
        md,
        _pk("pers_person_id"),
        _s("pers_legacy_id"),
        _s("pers_forename", 100),
        _s("pers_middle_names", 100),
        _s("pers_surname", 100),
        _s("pers_sex", 1),
        _s("pers_gender", 10),
        _s("pers_ethnicity", 48),
        Column("pers_dob", Date),
        _s("pers_common_child_id", 10),
        _s("pers_upn_unknown", 6),
        _s("pers_send_flag", 1),
        Column("pers_expected_dob", Date),
        _s("pers_restricted", 1),
        Column("pers_death_date", Date),
        _s("pers_is_mother", 1),
        _s("pers_nationality", 48),
    )
    Table(
        "ssd_address",
        md,
        _pk("addr_table_id"),
        _s("addr_person_id"),
        _s("addr_address_type"),
        Column("addr_address_start_date", Date),
        Column("addr_address_end_date", Date),
        _s("addr_address_postcode", 15),
        _s("addr_address_line", 200),
        _s("addr_address_uprn", 12),
        Column("addr_address_json", Text),
        Index("ix_addr_person", "addr_person_id"),
    )
    Table(
        "ssd_family",
        md,
        _pk("fami_table_id"),
        _s("fami_family_id"),
        _s("fami_person_id"),
        _s("fami_relationship", 20),
        Index("ix_fami_person", "fami_person_id"),
        Index("ix_fami_family", "fami_family_id"),
    )
    Table(
        "ssd_linked_identifiers",
        md,
        _pk("link_table_id"),
        _s("link_person_id"),
        _s("link_identifier_type", 100),
        _s("link_identifier_value", 20),
        Column("link_valid_from_date", Date),
        Column("link_valid_to_date", Date),
        Index("ix_link_person", "link_person_id"),
    )
    Table(
        "ssd_cin_episodes",
        md,
        _pk("cine_referral_id"),
        _s("cine_person_id"),
        Column("cine_referral_date", Date),
        _s("cine_cin_primary_need_code", 3),
        _s("cine_referral_source_code", 3),
        _s("cine_referral_source_desc", 255),
        _s("cine_referral_outcome_json", 500),
        _s("cine_referral_nfa", 1),
        _s("cine_close_reason", 3),
        Column("cine_close_date", Date),
        _s("cine_referral_team"),
        _s("cine_referral_worker_id"),
        Index("ix_cine_person", "cine_person_id"),
    )
    Table(
        "ssd_cin_assessments",
        md,
        _pk("cina_assessment_id"),
        _s("cina_person_id"),
        _s("cina_referral_id"),
        Column("cina_assessment_start_date", Date),
        _s("cina_assessment_child_seen", 1),
        Column("cina_assessment_auth_date", Date),
        _s("cina_assessment_outcome_json", 500),
        _s("cina_assessment_outcome_nfa", 1),
        _s("cina_assessment_team"),
        _s("cina_assessment_worker_id"),
        Index("ix_cina_person", "cina_person_id"),
    )
    Table(
        "ssd_cin_plans",
        md,
        _pk("cinp_cin_plan_id"),
        _s("cinp_referral_id"),
        _s("cinp_person_id"),
        Column("cinp_cin_plan_start_date", Date),
        Column("cinp_cin_plan_end_date", Date),
        _s("cinp_cin_plan_team"),
        _s("cinp_cin_plan_worker_id"),
        Index("ix_cinp_person", "cinp_person_id"),
    )
    Table(
        "ssd_cp_plans",
        md,
        _pk("cppl_cp_plan_id"),
        _s("cppl_referral_id"),
        _s("cppl_person_id"),
        Column("cppl_cp_plan_start_date", Date),
        Column("cppl_cp_plan_end_date", Date),
        _s("cppl_cp_plan_team"),
        _s("cppl_cp_plan_worker_id"),
        _s("cppl_cp_plan_initial_category", 10),
        _s("cppl_cp_plan_latest_category", 10),
        Index("ix_cppl_person", "cppl_person_id"),
    )
    Table(
        "ssd_cla_episodes",
        md,
        _pk("clae_cla_episode_id"),
        _s("clae_person_id"),
        Column("clae_cla_episode_start_date", Date),
        _s("clae_cla_episode_start_reason", 3),
        _s("clae_cla_legal_status", 3),
        _s("clae_cla_primary_need_code", 3),
        Column("clae_cla_episode_ceased", Date),
        _s("clae_cla_episode_ceased_reason", 3),
        _s("clae_referral_id"),
        Index("ix_clae_person", "clae_person_id"),
    )
    Table(
        "ssd_involvements",
        md,
        _pk("invo_involvements_id"),
        _s("invo_professional_id"),
        _s("invo_professional_role_id", 100),
        _s("invo_professional_team"),
        _s("invo_person_id"),
        Column("invo_involvement_start_date", Date),
        Column("invo_involvement_end_date", Date),
        _s("invo_worker_change_reason", 200),
        _s("invo_referral_id"),
        Index("ix_invo_person", "invo_person_id"),
        Index("ix_invo_professional", "invo_professional_id"),
    )
    Table(
        "ssd_professionals",
        md,
        _pk("prof_professional_id"),
        _s("prof_staff_id"),
        _s("prof_professional_name", 300),
        _s("prof_social_worker_registration_no"),
        _s("prof_agency_worker_flag", 1),
        _s("prof_professional_job_title", 500),
        Column("prof_professional_caseload", Integer),
        _s("prof_professional_department", 100),
        Column("prof_full_time_equivalency", Float),
        _s("prof_professional_team"),
        _s("prof_professional_phone", 20),
    )
    Table(
        "ssd_teams",
        md,
        _pk("team_id"),
        _s("team_name", 100),
        _s("team_phone", 20),
        _s("team_service", 48),
    )
    Table(
        "ssd_case_notes",
        md,
        _pk("cano_case_note_id"),
        _s("cano_person_id"),
        Column("cano_note_date", Date),
        _s("cano_note_type", 48),
        Column("cano_note_text", Text),
        _s("cano_worker_id"),
        Index("ix_cano_person", "cano_person_id"),
    )
    return md


def early_help() -> MetaData:
    md = MetaData()
    Table(
        "eh_person",
        md,
        _pk("ehp_person_id"),
        _s("ehp_forename", 100),
        _s("ehp_surname", 100),
        Column("ehp_dob", Date),
        _s("ehp_sex", 1),
        _s("ehp_address_line", 200),
        _s("ehp_postcode", 15),
        _s("ehp_uprn", 12),
        _s("ehp_nhs_number", 10),
        _s("ehp_phone", 20),
    )
    Table(
        "eh_family",
        md,
        _pk("ehf_family_id"),
        _s("ehf_lead_person_id"),
        Column("ehf_created_date", Date),
    )
    Table(
        "eh_family_member",
        md,
        _pk("ehfm_id"),
        _s("ehfm_family_id"),
        _s("ehfm_person_id"),
        _s("ehfm_relationship", 20),
        Index("ix_ehfm_person", "ehfm_person_id"),
        Index("ix_ehfm_family", "ehfm_family_id"),
    )
    Table(
        "ssd_early_help_episodes",
        md,
        _pk("earl_episode_id"),
        _s("earl_person_id"),
        _s("earl_family_id"),
        Column("earl_episode_start_date", Date),
        Column("earl_episode_end_date", Date),
        _s("earl_episode_reason", 255),
        _s("earl_episode_end_reason", 255),
        _s("earl_episode_organisation", 100),
        _s("earl_episode_worker_id"),
        Index("ix_earl_person", "earl_person_id"),
    )
    _staff_table(md, "eh_key_workers", "ehkw", "ehkw_worker_id")
    Table(
        "eh_case_notes",
        md,
        _pk("ehn_note_id"),
        _s("ehn_person_id"),
        _s("ehn_episode_id"),
        Column("ehn_note_date", Date),
        Column("ehn_note_text", Text),
        _s("ehn_worker_id"),
        Index("ix_ehn_person", "ehn_person_id"),
    )
    return md


def housing() -> MetaData:
    md = MetaData()
    Table(
        "hsg_properties",
        md,
        Column("prop_uprn", String(12), primary_key=True),
        _s("prop_address_line", 200),
        _s("prop_postcode", 15),
        _s("prop_ward", 100),
        _s("prop_tenure_type", 30),
    )
    Table(
        "hsg_tenancies",
        md,
        _pk("ten_tenancy_ref"),
        _s("prop_uprn", 12),
        Column("ten_start_date", Date),
        Column("ten_end_date", Date),
        _s("ten_type", 20),
        _s("ten_officer_id"),
    )
    Table(
        "hsg_tenancy_persons",
        md,
        _pk("tp_person_ref"),
        _s("tp_tenancy_ref"),
        _s("tp_forename", 100),
        _s("tp_surname", 100),
        Column("tp_dob", Date),
        _s("tp_sex", 1),
        _s("tp_relationship", 30),
        _s("tp_phone", 20),
        _s("tp_sensitive", 1),
        _s("tp_address_line", 200),
        _s("tp_postcode", 15),
        Index("ix_tp_tenancy", "tp_tenancy_ref"),
    )
    Table(
        "hsg_rent_accounts",
        md,
        _pk("ra_account_ref"),
        _s("ra_tenancy_ref"),
        Column("ra_weekly_rent", Float),
        Column("ra_balance", Float),
        Column("ra_arrears_since", Date),
        _s("ra_arrears_band", 20),
        Column("ra_last_payment_date", Date),
        Index("ix_ra_tenancy", "ra_tenancy_ref"),
    )
    Table(
        "hsg_rent_transactions",
        md,
        Column("rt_id", Integer, primary_key=True),
        _s("rt_account_ref"),
        Column("rt_date", Date),
        _s("rt_type", 10),
        Column("rt_amount", Float),
        Index("ix_rt_account", "rt_account_ref"),
    )
    Table(
        "hsg_temporary_accommodation",
        md,
        _pk("ta_placement_ref"),
        _s("ta_lead_person_ref"),
        _s("prop_uprn", 12),
        Column("ta_start_date", Date),
        Column("ta_end_date", Date),
        _s("ta_accommodation_type", 40),
        _s("ta_officer_id"),
        Index("ix_ta_person", "ta_lead_person_ref"),
    )
    _staff_table(md, "hsg_officers", "off", "off_officer_id")
    return md


def education() -> MetaData:
    md = MetaData()
    Table(
        "edu_schools",
        md,
        Column("sch_urn", String(6), primary_key=True),
        _s("sch_name", 200),
        _s("sch_phase", 20),
        _s("sch_postcode", 15),
        _s("sch_dsl_name", 200),
        _s("sch_phone", 20),
    )
    Table(
        "edu_pupils",
        md,
        _pk("pup_pupil_id"),
        _s("pup_upn", 13),
        _s("pup_forename", 100),
        _s("pup_middle_names", 100),
        _s("pup_surname", 100),
        Column("pup_dob", Date),
        _s("pup_sex", 1),
        _s("pup_address_line", 200),
        _s("pup_postcode", 15),
        _s("pup_urn", 6),
        _s("pup_ncyear", 2),
        _s("pup_sen_provision", 1),
        Column("pup_entry_date", Date),
        Index("ix_pup_upn", "pup_upn"),
    )
    Table(
        "edu_attendance",
        md,
        Column("att_id", Integer, primary_key=True),
        _s("att_pupil_id"),
        _s("att_academic_year", 7),
        Column("att_sessions_possible", Integer),
        Column("att_sessions_attended", Integer),
        Column("att_authorised_absence", Integer),
        Column("att_unauthorised_absence", Integer),
        Index("ix_att_pupil", "att_pupil_id"),
    )
    Table(
        "edu_exclusions",
        md,
        _pk("exc_exclusion_id"),
        _s("exc_pupil_id"),
        Column("exc_start_date", Date),
        _s("exc_category", 4),
        _s("exc_reason", 3),
        Column("exc_sessions", Integer),
        Index("ix_exc_pupil", "exc_pupil_id"),
    )
    return md


def community_safety() -> MetaData:
    md = MetaData()
    Table(
        "cs_nominals",
        md,
        _pk("nom_nominal_id"),
        _s("nom_forename", 100),
        _s("nom_surname", 100),
        Column("nom_dob", Date),
        _s("nom_sex", 1),
        _s("nom_address_line", 200),
        _s("nom_postcode", 15),
    )
    Table(
        "cs_da_notifications",
        md,
        _pk("dan_notification_id"),
        Column("dan_incident_date", Date),
        Column("dan_notified_date", Date),
        _s("dan_victim_nominal_id"),
        _s("dan_perpetrator_nominal_id"),
        _s("dan_children_present", 1),
        _s("dan_risk_level", 10),
        _s("dan_officer_id"),
        Index("ix_dan_victim", "dan_victim_nominal_id"),
        Index("ix_dan_perp", "dan_perpetrator_nominal_id"),
    )
    Table(
        "cs_da_children",
        md,
        _pk("dac_id"),
        _s("dac_notification_id"),
        _s("dac_nominal_id"),
        Index("ix_dac_nominal", "dac_nominal_id"),
    )
    Table(
        "cs_yot_involvements",
        md,
        _pk("yot_case_id"),
        _s("yot_nominal_id"),
        Column("yot_start_date", Date),
        Column("yot_end_date", Date),
        _s("yot_disposal", 60),
        _s("yot_officer_id"),
        Index("ix_yot_nominal", "yot_nominal_id"),
    )
    _staff_table(md, "cs_officers", "off", "off_officer_id")
    return md


def adult_social_care() -> MetaData:
    md = MetaData()
    Table(
        "asc_clients",
        md,
        _pk("cli_client_id"),
        _s("cli_forename", 100),
        _s("cli_surname", 100),
        Column("cli_dob", Date),
        _s("cli_sex", 1),
        _s("cli_nhs_number", 10),
        _s("cli_address_line", 200),
        _s("cli_postcode", 15),
    )
    Table(
        "asc_care_packages",
        md,
        _pk("pkg_package_id"),
        _s("pkg_client_id"),
        Column("pkg_start_date", Date),
        Column("pkg_end_date", Date),
        _s("pkg_service_type", 60),
        _s("pkg_primary_support_reason", 60),
        Column("pkg_weekly_cost", Float),
        _s("pkg_worker_id"),
        Index("ix_pkg_client", "pkg_client_id"),
    )
    _staff_table(md, "asc_workers", "wkr", "wkr_worker_id")
    return md


def benefits() -> MetaData:
    md = MetaData()
    Table(
        "rb_claims",
        md,
        _pk("clm_claim_ref"),
        Column("clm_start_date", Date),
        Column("clm_end_date", Date),
        _s("clm_address_line", 200),
        _s("clm_postcode", 15),
        _s("clm_uprn", 12),
        _s("clm_tenure", 30),
    )
    Table(
        "rb_claim_persons",
        md,
        _pk("cp_person_ref"),
        _s("cp_claim_ref"),
        _s("cp_forename", 100),
        _s("cp_surname", 100),
        Column("cp_dob", Date),
        _s("cp_sex", 1),
        _s("cp_role", 20),
        Index("ix_cp_claim", "cp_claim_ref"),
    )
    Table(
        "rb_hb_awards",
        md,
        _pk("hb_award_id"),
        _s("hb_claim_ref"),
        Column("hb_from_date", Date),
        Column("hb_to_date", Date),
        Column("hb_weekly_amount", Float),
        Index("ix_hb_claim", "hb_claim_ref"),
    )
    Table(
        "rb_ctr_awards",
        md,
        _pk("ctr_award_id"),
        _s("ctr_claim_ref"),
        Column("ctr_from_date", Date),
        Column("ctr_to_date", Date),
        Column("ctr_weekly_amount", Float),
        Index("ix_ctr_claim", "ctr_claim_ref"),
    )
    return md


_BUILDERS = {
    "childrens_social_care": childrens_social_care,
    "early_help": early_help,
    "housing": housing,
    "education": education,
    "community_safety": community_safety,
    "adult_social_care": adult_social_care,
    "benefits": benefits,
}


def store_metadata(store: str) -> MetaData:
    """A fresh MetaData for one store (fresh so that engines never share table objects)."""
    try:
        return _BUILDERS[store]()
    except KeyError:
        raise ValueError(f"unknown store {store!r}; known: {', '.join(STORE_NAMES)}") from None


@cache
def store_tables(store: str) -> Mapping[str, Table]:
    """One shared, read-only set of table objects per store, for the service's queries.

    Reusing the same Table objects lets SQLAlchemy's compiled-statement cache hit on every request;
    a fresh MetaData per query would recompile each statement (several milliseconds per flag request).
    """
    return store_metadata(store).tables
