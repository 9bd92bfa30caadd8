"""Children's social care: caseworkers see its records in their own system, so it shares no flags
through the gateway; the analysis store reads it directly (`analysis/facts.py`). Restricted records
are protected."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    literal,
    select,
)

from gateway.departments.model import Casework, Department, NoteTable, Tables
from gateway.stores.columns import key, string
from gateway.stores.identity import standard
from gateway.stores.relations import FAMILY
from gateway.synth.departments import childrens_social_care as synthetic


def schema() -> MetaData:
    md = MetaData()
    Table(
        "ssd_person",
        md,
        key("pers_person_id"),
        string("pers_legacy_id"),
        string("pers_forename", 100),
        string("pers_middle_names", 100),
        string("pers_surname", 100),
        string("pers_sex", 1),
        string("pers_gender", 10),
        string("pers_ethnicity", 48),
        Column("pers_dob", Date),
        string("pers_common_child_id", 10),
        string("pers_upn_unknown", 6),
        string("pers_send_flag", 1),
        Column("pers_expected_dob", Date),
        string("pers_restricted", 1),
        Column("pers_death_date", Date),
        string("pers_is_mother", 1),
        string("pers_nationality", 48),
    )
    Table(
        "ssd_address",
        md,
        key("addr_table_id"),
        string("addr_person_id"),
        string("addr_address_type"),
        Column("addr_address_start_date", Date),
        Column("addr_address_end_date", Date),
        string("addr_address_postcode", 15),
        string("addr_address_line", 200),
        string("addr_address_uprn", 12),
        Column("addr_address_json", Text),
        Index("ix_addr_person", "addr_person_id"),
    )
    Table(
        "ssd_family",
        md,
        key("fami_table_id"),
        string("fami_family_id"),
        string("fami_person_id"),
        string("fami_relationship", 20),
        Index("ix_fami_person", "fami_person_id"),
        Index("ix_fami_family", "fami_family_id"),
    )
    Table(
        "ssd_linked_identifiers",
        md,
        key("link_table_id"),
        string("link_person_id"),
        string("link_identifier_type", 100),
        string("link_identifier_value", 20),
        Column("link_valid_from_date", Date),
        Column("link_valid_to_date", Date),
        Index("ix_link_person", "link_person_id"),
    )
    Table(
        "ssd_cin_episodes",
        md,
        key("cine_referral_id"),
        string("cine_person_id"),
        Column("cine_referral_date", Date),
        string("cine_cin_primary_need_code", 3),
        string("cine_referral_source_code", 3),
        string("cine_referral_source_desc", 255),
        string("cine_referral_outcome_json", 500),
        string("cine_referral_nfa", 1),
        string("cine_close_reason", 3),
        Column("cine_close_date", Date),
        string("cine_referral_team"),
        string("cine_referral_worker_id"),
        Index("ix_cine_person", "cine_person_id"),
    )
    Table(
        "ssd_cin_assessments",
        md,
        key("cina_assessment_id"),
        string("cina_person_id"),
        string("cina_referral_id"),
        Column("cina_assessment_start_date", Date),
        string("cina_assessment_child_seen", 1),
        Column("cina_assessment_auth_date", Date),
        string("cina_assessment_outcome_json", 500),
        string("cina_assessment_outcome_nfa", 1),
        string("cina_assessment_team"),
        string("cina_assessment_worker_id"),
        Index("ix_cina_person", "cina_person_id"),
    )
    Table(
        "ssd_cin_plans",
        md,
        key("cinp_cin_plan_id"),
        string("cinp_referral_id"),
        string("cinp_person_id"),
        Column("cinp_cin_plan_start_date", Date),
        Column("cinp_cin_plan_end_date", Date),
        string("cinp_cin_plan_team"),
        string("cinp_cin_plan_worker_id"),
        Index("ix_cinp_person", "cinp_person_id"),
    )
    Table(
        "ssd_cp_plans",
        md,
        key("cppl_cp_plan_id"),
        string("cppl_referral_id"),
        string("cppl_person_id"),
        Column("cppl_cp_plan_start_date", Date),
        Column("cppl_cp_plan_end_date", Date),
        string("cppl_cp_plan_team"),
        string("cppl_cp_plan_worker_id"),
        string("cppl_cp_plan_initial_category", 10),
        string("cppl_cp_plan_latest_category", 10),
        Index("ix_cppl_person", "cppl_person_id"),
    )
    Table(
        "ssd_cla_episodes",
        md,
        key("clae_cla_episode_id"),
        string("clae_person_id"),
        Column("clae_cla_episode_start_date", Date),
        string("clae_cla_episode_start_reason", 3),
        string("clae_cla_legal_status", 3),
        string("clae_cla_primary_need_code", 3),
        Column("clae_cla_episode_ceased", Date),
        string("clae_cla_episode_ceased_reason", 3),
        string("clae_referral_id"),
        Index("ix_clae_person", "clae_person_id"),
    )
    Table(
        "ssd_involvements",
        md,
        key("invo_involvements_id"),
        string("invo_professional_id"),
        string("invo_professional_role_id", 100),
        string("invo_professional_team"),
        string("invo_person_id"),
        Column("invo_involvement_start_date", Date),
        Column("invo_involvement_end_date", Date),
        string("invo_worker_change_reason", 200),
        string("invo_referral_id"),
        Index("ix_invo_person", "invo_person_id"),
        Index("ix_invo_professional", "invo_professional_id"),
    )
    Table(
        "ssd_professionals",
        md,
        key("prof_professional_id"),
        string("prof_staff_id"),
        string("prof_professional_name", 300),
        string("prof_social_worker_registration_no"),
        string("prof_agency_worker_flag", 1),
        string("prof_professional_job_title", 500),
        Column("prof_professional_caseload", Integer),
        string("prof_professional_department", 100),
        Column("prof_full_time_equivalency", Float),
        string("prof_professional_team"),
        string("prof_professional_phone", 20),
    )
    Table(
        "ssd_teams",
        md,
        key("team_id"),
        string("team_name", 100),
        string("team_phone", 20),
        string("team_service", 48),
    )
    Table(
        "ssd_case_notes",
        md,
        key("cano_case_note_id"),
        string("cano_person_id"),
        Column("cano_note_date", Date),
        string("cano_note_type", 48),
        Column("cano_note_text", Text),
        string("cano_worker_id"),
        Index("ix_cano_person", "cano_person_id"),
    )
    # Contacts at the front door (MASH): received, screened by a worker, decided. Open ones (no decision)
    # give the screening worker time-limited access to the family's flags (see `triage` below).
    Table(
        "ssd_contacts",
        md,
        key("cont_contact_id"),
        string("cont_person_id"),
        string("cont_received_at", 19),  # ISO date and time, local
        string("cont_source", 64),
        string("cont_team"),
        string("cont_worker_id"),
        string("cont_decision", 16),  # nfa | referral | early_help; empty while open
        string("cont_decided_at", 19),
        Index("ix_cont_worker", "cont_worker_id"),
    )
    return md


def open_contacts(t: Tables, worker_id: str, since: str) -> Select:
    """Children with an open contact screened by this worker, received at or after `since`."""
    c = t["ssd_contacts"]
    return select(c.c.cont_person_id).where(
        c.c.cont_worker_id == worker_id, c.c.cont_decision.is_(None), c.c.cont_received_at >= since
    )


def allocations(t: Tables, worker_id: str) -> Select:
    """Children allocated to a social worker: open involvements."""
    inv = t["ssd_involvements"]
    return select(inv.c.invo_person_id).where(
        inv.c.invo_professional_id == worker_id, inv.c.invo_involvement_end_date.is_(None)
    )


def identity(t: Tables) -> Select:
    p, a = t["ssd_person"], t["ssd_address"]
    current = (a.c.addr_person_id == p.c.pers_person_id) & a.c.addr_address_end_date.is_(None)
    cols = standard(
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


def relations(t: Tables) -> list[Select]:
    f = t["ssd_family"]
    return [select(f.c.fami_person_id, f.c.fami_family_id, f.c.fami_relationship, literal(FAMILY))]


DEPARTMENT = Department(
    name="childrens_social_care",
    label="Children's social care",
    schema=schema,
    person_table=("ssd_person", "pers_person_id"),
    identity=identity,
    relations=relations,
    casework=Casework(
        allocations,
        ("ssd_person", "pers_person_id", "pers_forename", "pers_surname", "pers_dob"),
        ("ssd_family", "fami_person_id", "fami_relationship"),
        triage=open_contacts,
    ),
    notes=(
        NoteTable("ssd_case_notes", "cano_person_id", "cano_note_date", "cano_note_type", "cano_note_text"),
    ),
    staff_names=(("ssd_professionals", "prof_professional_name"),),
    address_rank=3,
    synthesise=synthetic.build,
    protection_marker=("ssd_person", "pers_person_id", "pers_restricted"),
    analysis_fields=("known_to_csc", "cp_plan", "looked_after"),
)
