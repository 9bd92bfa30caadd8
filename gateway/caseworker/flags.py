"""Flags: derived facts about a person from another service, never its records.

Each `FlagSpec` names the service, the flag, the catalogue dataset and fields it is derived from, and
the dataset and fields of the involved professional shown with it. A flag is released only when the
caller's decision for that dataset permits those fields (so which flags a role sees comes from the
agreements, not from this file), and its contact only when the contact dataset is permitted too.

`SERVICE_QUERIES` computes every candidate flag of one service for a set of that store's local ids in a
few indexed queries; the API runs the services in parallel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, true

from gateway.stores.schema import store_tables


@dataclass(frozen=True)
class FlagSpec:
    service: str
    flag: str
    dataset: str
    fields: tuple[str, ...]
    contact_dataset: str | None = None
    contact_fields: tuple[str, ...] = ()


FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec(
        "housing",
        "rent_arrears",
        "housing.hsg_rent_accounts",
        ("ra_arrears_band", "ra_arrears_since"),
        "housing.hsg_officers",
        ("off_name", "off_role", "off_team", "off_phone"),
    ),
    FlagSpec(
        "housing",
        "temporary_accommodation",
        "housing.hsg_temporary_accommodation",
        ("ta_start_date",),
        "housing.hsg_officers",
        ("off_name", "off_role", "off_team", "off_phone"),
    ),
    FlagSpec(
        "education",
        "persistent_absence",
        "education.edu_attendance",
        ("att_sessions_possible", "att_sessions_attended"),
        "education.edu_schools",
        ("sch_name", "sch_dsl_name", "sch_phone"),
    ),
    FlagSpec(
        "education",
        "exclusion_last_12m",
        "education.edu_exclusions",
        ("exc_start_date",),
        "education.edu_schools",
        ("sch_name", "sch_dsl_name", "sch_phone"),
    ),
    FlagSpec(
        "education",
        "sen_support",
        "education.edu_pupils",
        ("pup_sen_provision",),
        "education.edu_schools",
        ("sch_name", "sch_dsl_name", "sch_phone"),
    ),
    FlagSpec(
        "education",
        "ehcp",
        "education.edu_pupils",
        ("pup_sen_provision",),
        "education.edu_schools",
        ("sch_name", "sch_dsl_name", "sch_phone"),
    ),
    FlagSpec(
        "community_safety",
        "domestic_abuse_notification_last_12m",
        "community_safety.cs_da_notifications",
        ("dan_notified_date",),
        "community_safety.cs_officers",
        ("off_name", "off_role", "off_team", "off_phone"),
    ),
    FlagSpec(
        "community_safety",
        "youth_offending_involvement",
        "community_safety.cs_yot_involvements",
        ("yot_start_date",),
        "community_safety.cs_officers",
        ("off_name", "off_role", "off_team", "off_phone"),
    ),
    FlagSpec(
        "adult_social_care",
        "receives_care_package",
        "adult_social_care.asc_care_packages",
        ("pkg_start_date",),
        "adult_social_care.asc_workers",
        ("wkr_name", "wkr_role", "wkr_team", "wkr_phone"),
    ),
    FlagSpec("benefits", "housing_benefit", "benefits.rb_hb_awards", ("hb_from_date",)),
    FlagSpec(
        "early_help",
        "early_help_involvement",
        "early_help.ssd_early_help_episodes",
        ("earl_episode_start_date",),
        "early_help.eh_key_workers",
        ("ehkw_name", "ehkw_role", "ehkw_team", "ehkw_phone"),
    ),
)
SERVICES = tuple(dict.fromkeys(f.service for f in FLAGS))
PERSISTENT_ABSENCE = 0.10  # DfE: missing 10% or more of possible sessions


@dataclass(frozen=True)
class RawFlag:
    """A computed flag before governance: `value`, `since` and `detail` are released per the decision."""

    service: str
    flag: str
    local_id: str
    value: Any
    since: dt.date | None
    contact: dict[str, str | None] | None = None


def _among(column: ColumnElement, ids: list[str] | None) -> ColumnElement[bool]:
    """`column IN ids`, or every record when `ids` is None (the analysis store reads whole services)."""
    return true() if ids is None else column.in_(ids)


def _contact(name: Any, role: Any, team: Any, phone: Any) -> dict[str, str | None] | None:
    if not any((name, role, team, phone)):
        return None
    return {"name": name, "role": role, "team": team, "phone": phone}


def _latest(flags: Iterable[RawFlag]) -> list[RawFlag]:
    """One flag per (record, flag): the most recent."""
    best: dict[tuple[str, str], RawFlag] = {}
    for f in flags:
        key = (f.local_id, f.flag)
        if key not in best or (f.since or dt.date.min) > (best[key].since or dt.date.min):
            best[key] = f
    return list(best.values())


def housing(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("housing")
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
            off.c.off_name,
            off.c.off_role,
            off.c.off_team,
            off.c.off_phone,
        )
        .select_from(
            tp.join(ten, ten.c.ten_tenancy_ref == tp.c.tp_tenancy_ref)
            .join(ra, ra.c.ra_tenancy_ref == ten.c.ten_tenancy_ref)
            .outerjoin(off, off.c.off_officer_id == ten.c.ten_officer_id)
        )
        .where(
            _among(tp.c.tp_person_ref, ids), ra.c.ra_arrears_band.is_not(None), ra.c.ra_arrears_band != "none"
        )
    )
    for pid, band, since, *contact in conn.execute(q):
        out.append(RawFlag("housing", "rent_arrears", pid, band, since, _contact(*contact)))
    q = (
        select(
            ta.c.ta_lead_person_ref,
            ta.c.ta_start_date,
            off.c.off_name,
            off.c.off_role,
            off.c.off_team,
            off.c.off_phone,
        )
        .select_from(ta.outerjoin(off, off.c.off_officer_id == ta.c.ta_officer_id))
        .where(
            _among(ta.c.ta_lead_person_ref, ids), or_(ta.c.ta_end_date.is_(None), ta.c.ta_end_date >= as_of)
        )
    )
    lead: str
    for lead, since, *contact in conn.execute(q):
        out.append(RawFlag("housing", "temporary_accommodation", lead, True, since, _contact(*contact)))
    return _latest(out)


def education(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("education")
    pup, att, exc, sch = t["edu_pupils"], t["edu_attendance"], t["edu_exclusions"], t["edu_schools"]
    school = {
        pid: _contact(dsl, "Designated safeguarding lead", name, phone)
        for pid, dsl, name, phone in conn.execute(
            select(pup.c.pup_pupil_id, sch.c.sch_dsl_name, sch.c.sch_name, sch.c.sch_phone)
            .select_from(pup.outerjoin(sch, sch.c.sch_urn == pup.c.pup_urn))
            .where(_among(pup.c.pup_pupil_id, ids))
        )
    }
    out = []
    latest_year: dict[str, tuple[str, int, int]] = {}
    for pid, year, possible, attended in conn.execute(
        select(
            att.c.att_pupil_id,
            att.c.att_academic_year,
            att.c.att_sessions_possible,
            att.c.att_sessions_attended,
        ).where(_among(att.c.att_pupil_id, ids))
    ):
        if pid not in latest_year or year > latest_year[pid][0]:
            latest_year[pid] = (year, possible or 0, attended or 0)
    for pid, (year, possible, attended) in latest_year.items():
        if possible and (possible - attended) / possible >= PERSISTENT_ABSENCE:
            start = dt.date(int(year[:4]), 9, 1)
            out.append(RawFlag("education", "persistent_absence", pid, True, start, school.get(pid)))
    year_ago = as_of - dt.timedelta(days=365)
    for pid, start in conn.execute(
        select(exc.c.exc_pupil_id, exc.c.exc_start_date).where(
            _among(exc.c.exc_pupil_id, ids), exc.c.exc_start_date >= year_ago
        )
    ):
        out.append(RawFlag("education", "exclusion_last_12m", pid, True, start, school.get(pid)))
    for pid, sen in conn.execute(
        select(pup.c.pup_pupil_id, pup.c.pup_sen_provision).where(_among(pup.c.pup_pupil_id, ids))
    ):
        if sen == "K":
            out.append(RawFlag("education", "sen_support", pid, True, None, school.get(pid)))
        elif sen == "E":
            out.append(RawFlag("education", "ehcp", pid, True, None, school.get(pid)))
    return _latest(out)


def community_safety(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("community_safety")
    dan, dac, yot, off = (
        t["cs_da_notifications"],
        t["cs_da_children"],
        t["cs_yot_involvements"],
        t["cs_officers"],
    )
    year_ago = as_of - dt.timedelta(days=365)
    out = []
    contact_cols = (off.c.off_name, off.c.off_role, off.c.off_team, off.c.off_phone)
    officer = off.c.off_officer_id == dan.c.dan_officer_id
    recent = dan.c.dan_notified_date >= year_ago
    # Victim, perpetrator, or a child present: each is a domestic-abuse notification about the person.
    notifications = [
        select(column, dan.c.dan_notified_date, *contact_cols)
        .select_from(dan.outerjoin(off, officer))
        .where(_among(column, ids), recent)
        for column in (dan.c.dan_victim_nominal_id, dan.c.dan_perpetrator_nominal_id)
    ]
    notifications.append(
        select(dac.c.dac_nominal_id, dan.c.dan_notified_date, *contact_cols)
        .select_from(
            dac.join(dan, dan.c.dan_notification_id == dac.c.dac_notification_id).outerjoin(off, officer)
        )
        .where(_among(dac.c.dac_nominal_id, ids), recent)
    )
    for q in notifications:
        for pid, notified, *contact in conn.execute(q):
            flag = "domestic_abuse_notification_last_12m"
            out.append(RawFlag("community_safety", flag, pid, True, notified, _contact(*contact)))
    q = (
        select(yot.c.yot_nominal_id, yot.c.yot_start_date, *contact_cols)
        .select_from(yot.outerjoin(off, off.c.off_officer_id == yot.c.yot_officer_id))
        .where(
            _among(yot.c.yot_nominal_id, ids), or_(yot.c.yot_end_date.is_(None), yot.c.yot_end_date >= as_of)
        )
    )
    for pid, start, *contact in conn.execute(q):
        out.append(
            RawFlag("community_safety", "youth_offending_involvement", pid, True, start, _contact(*contact))
        )
    return _latest(out)


def adult_social_care(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("adult_social_care")
    pkg, wkr = t["asc_care_packages"], t["asc_workers"]
    q = (
        select(
            pkg.c.pkg_client_id,
            pkg.c.pkg_start_date,
            wkr.c.wkr_name,
            wkr.c.wkr_role,
            wkr.c.wkr_team,
            wkr.c.wkr_phone,
        )
        .select_from(pkg.outerjoin(wkr, wkr.c.wkr_worker_id == pkg.c.pkg_worker_id))
        .where(
            _among(pkg.c.pkg_client_id, ids), or_(pkg.c.pkg_end_date.is_(None), pkg.c.pkg_end_date >= as_of)
        )
    )
    return _latest(
        RawFlag("adult_social_care", "receives_care_package", pid, True, start, _contact(*c))
        for pid, start, *c in conn.execute(q)
    )


def benefits(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("benefits")
    cp, hb = t["rb_claim_persons"], t["rb_hb_awards"]
    q = (
        select(cp.c.cp_person_ref, hb.c.hb_from_date)
        .select_from(cp.join(hb, hb.c.hb_claim_ref == cp.c.cp_claim_ref))
        .where(_among(cp.c.cp_person_ref, ids), or_(hb.c.hb_to_date.is_(None), hb.c.hb_to_date >= as_of))
    )
    return _latest(RawFlag("benefits", "housing_benefit", pid, True, start) for pid, start in conn.execute(q))


def early_help(conn: Connection, ids: list[str] | None, as_of: dt.date) -> list[RawFlag]:
    t = store_tables("early_help")
    ep, kw = t["ssd_early_help_episodes"], t["eh_key_workers"]
    q = (
        select(
            ep.c.earl_person_id,
            ep.c.earl_episode_start_date,
            kw.c.ehkw_name,
            kw.c.ehkw_role,
            kw.c.ehkw_team,
            kw.c.ehkw_phone,
        )
        .select_from(ep.outerjoin(kw, kw.c.ehkw_worker_id == ep.c.earl_episode_worker_id))
        .where(
            _among(ep.c.earl_person_id, ids),
            or_(ep.c.earl_episode_end_date.is_(None), ep.c.earl_episode_end_date >= as_of),
        )
    )
    return _latest(
        RawFlag("early_help", "early_help_involvement", pid, True, start, _contact(*c))
        for pid, start, *c in conn.execute(q)
    )


SERVICE_QUERIES: dict[str, Callable[[Connection, list[str] | None, dt.date], list[RawFlag]]] = {
    "housing": housing,
    "education": education,
    "community_safety": community_safety,
    "adult_social_care": adult_social_care,
    "benefits": benefits,
    "early_help": early_help,
}

# Where a person's record says their whereabouts must not be disclosed.
PROTECTION_MARKERS = {
    "childrens_social_care": ("ssd_person", "pers_person_id", "pers_restricted"),
    "housing": ("hsg_tenancy_persons", "tp_person_ref", "tp_sensitive"),
}


def protected_ids(conn: Connection, store: str, ids: list[str]) -> set[str]:
    table_name, id_col, marker = PROTECTION_MARKERS[store]
    table = store_tables(store)[table_name]
    q = select(table.c[id_col]).where(and_(table.c[id_col].in_(ids), table.c[marker] == "Y"))
    return {row[0] for row in conn.execute(q)}
