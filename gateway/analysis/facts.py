"""What the analysis store derives from each departmental store, keyed by that store's local record id.

Service flags reuse the departments' flag queries (`gateway/departments/`, as caseworker views do) over the
whole store, so "rent arrears" or "persistent absence" means the same thing in a caseworker's view and
in an analyst's table. Children's social care, whose flags caseworkers see in their own system, is
read here. Events are read as plain rows; the build attaches them to people through the index.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select

from gateway.departments import flag_queries, flags, store_tables
from gateway.linkage.standardise import postcode

# Flag -> analysis field, as each department declares it.
FLAG_FIELDS = {f.flag: f.analysis_field for f in flags() if f.analysis_field}
SERVICE_QUERIES = flag_queries()
UNKNOWN = "Unknown"


@dataclass
class StoreFacts:
    """One store's contribution: flags and numbers by local id, and its event rows."""

    flags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    weekly_benefit: dict[str, float] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def _current(end: Any, as_of: dt.date) -> Any:
    return or_(end.is_(None), end >= as_of)


def read_facts(store: str, conn: Connection, as_of: dt.date) -> StoreFacts:
    facts = StoreFacts()
    query = SERVICE_QUERIES.get(store)
    if query is not None:
        for flag in query(conn, None, as_of):
            name = FLAG_FIELDS.get(flag.flag)
            if name:
                facts.flags[flag.local_id].add(name)
    extra = _EXTRA.get(store)
    if extra is not None:
        extra(conn, as_of, facts)
    return facts


def _childrens_social_care(conn: Connection, as_of: dt.date, facts: StoreFacts) -> None:
    t = store_tables("childrens_social_care")
    cin, cp, cla = t["ssd_cin_episodes"], t["ssd_cp_plans"], t["ssd_cla_episodes"]
    for (pid,) in conn.execute(select(cin.c.cine_person_id).distinct()):
        facts.flags[pid].add("known_to_csc")
    q = select(cp.c.cppl_person_id).where(
        cp.c.cppl_cp_plan_start_date <= as_of, _current(cp.c.cppl_cp_plan_end_date, as_of)
    )
    for (pid,) in conn.execute(q):
        facts.flags[pid].add("cp_plan")
    q = select(cla.c.clae_person_id).where(
        cla.c.clae_cla_episode_start_date <= as_of, _current(cla.c.clae_cla_episode_ceased, as_of)
    )
    for (pid,) in conn.execute(q):
        facts.flags[pid].add("looked_after")
    q = select(
        cin.c.cine_referral_id,
        cin.c.cine_person_id,
        cin.c.cine_referral_date,
        cin.c.cine_referral_source_code,
        cin.c.cine_referral_nfa,
        cin.c.cine_referral_outcome_json,
    )
    row: Any
    for row in conn.execute(q):
        rid, pid, date, source, nfa, outcome = row
        if date is None:
            continue
        facts.events["referrals"].append(
            {
                "source_key": rid,
                "local_id": pid,
                "date": date,
                "source": source or UNKNOWN,
                "outcome": _outcome(outcome, nfa),
            }
        )


def _outcome(raw: str | None, nfa: str | None) -> str:
    try:
        value = json.loads(raw).get("OUTCOME") if raw else None
    except (ValueError, AttributeError):
        value = None
    if isinstance(value, str) and value.isidentifier():
        return value[:24]
    return "nfa" if nfa == "Y" else UNKNOWN


def _housing(conn: Connection, as_of: dt.date, facts: StoreFacts) -> None:
    t = store_tables("housing")
    rt, ra, ten, tp, prop = (
        t["hsg_rent_transactions"],
        t["hsg_rent_accounts"],
        t["hsg_tenancies"],
        t["hsg_tenancy_persons"],
        t["hsg_properties"],
    )
    lead = (
        select(tp.c.tp_tenancy_ref, tp.c.tp_person_ref)
        .where(tp.c.tp_relationship == "lead tenant")
        .subquery()
    )
    q = (
        select(
            rt.c.rt_id,
            lead.c.tp_person_ref,
            rt.c.rt_date,
            rt.c.rt_type,
            rt.c.rt_amount,
            prop.c.prop_ward,
            ra.c.ra_arrears_band,
        )
        .select_from(
            rt.join(ra, ra.c.ra_account_ref == rt.c.rt_account_ref)
            .join(ten, ten.c.ten_tenancy_ref == ra.c.ra_tenancy_ref)
            .join(lead, lead.c.tp_tenancy_ref == ten.c.ten_tenancy_ref)
            .outerjoin(prop, prop.c.prop_uprn == ten.c.prop_uprn)
        )
        .where(rt.c.rt_date.is_not(None))
    )
    for rid, pid, date, kind, amount, ward, band in conn.execute(q):
        facts.events["rent_transactions"].append(
            {
                "source_key": str(rid),
                "local_id": pid,
                "date": date,
                "type": kind or UNKNOWN,
                "amount": abs(float(amount or 0.0)),
                "ward": ward,
                "arrears_band": band or "none",
            }
        )


def _education(conn: Connection, as_of: dt.date, facts: StoreFacts) -> None:
    att = store_tables("education")["edu_attendance"]
    q = select(
        att.c.att_id,
        att.c.att_pupil_id,
        att.c.att_academic_year,
        att.c.att_sessions_possible,
        att.c.att_sessions_attended,
    )
    for aid, pid, year, possible, attended in conn.execute(q):
        possible, attended = int(possible or 0), int(attended or 0)
        facts.events["attendance"].append(
            {
                "source_key": str(aid),
                "local_id": pid,
                "academic_year": year or UNKNOWN,
                "sessions_possible": possible,
                "sessions_missed": max(possible - attended, 0),
            }
        )


def _benefits(conn: Connection, as_of: dt.date, facts: StoreFacts) -> None:
    t = store_tables("benefits")
    cp, hb = t["rb_claim_persons"], t["rb_hb_awards"]
    q = (
        select(
            hb.c.hb_award_id, cp.c.cp_person_ref, hb.c.hb_from_date, hb.c.hb_to_date, hb.c.hb_weekly_amount
        )
        .select_from(hb.join(cp, cp.c.cp_claim_ref == hb.c.hb_claim_ref))
        .where(cp.c.cp_role == "claimant", hb.c.hb_from_date.is_not(None))
    )
    for aid, pid, start, end, amount in conn.execute(q):
        current = start <= as_of and (end is None or end >= as_of)
        amount = float(amount or 0.0)
        if current:
            # The award belongs to the claim; it is counted once, on the claimant.
            facts.weekly_benefit[pid] = facts.weekly_benefit.get(pid, 0.0) + amount
        facts.events["benefit_awards"].append(
            {"source_key": aid, "local_id": pid, "date": start, "current": current, "weekly_amount": amount}
        )


_EXTRA = {
    "childrens_social_care": _childrens_social_care,
    "housing": _housing,
    "education": _education,
    "benefits": _benefits,
}


def read_postcode_directory(path: Path) -> dict[str, str]:
    """Canonical postcode -> ward name, from the reference lookup (`postcode,ward_code,ward_name`)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {
            pc: row["ward_name"]
            for row in csv.DictReader(fh)
            if (pc := postcode(row.get("postcode"))) and row.get("ward_name")
        }


def housing_wards(conn: Connection) -> dict[str, str]:
    """Postcode -> ward from the council's own stock (a fallback where no postcode directory is loaded)."""
    prop = store_tables("housing")["hsg_properties"]
    out: dict[str, str] = {}
    for pc, ward in conn.execute(select(prop.c.prop_postcode, prop.c.prop_ward)):
        key = postcode(pc)
        if key and ward:
            out.setdefault(key, ward)
    return out
