"""Children's social care: referrals, assessments, plans, care episodes, allocations and case notes.

Rates per child are scaled from DfE "Characteristics of children in need" and "Children looked after in
England" (see docs/synthetic-data.md); a household's latent need (`World.hh_risk`) raises them, so
that children known to social care are also more often in arrears, absent from school, and so on.
"""

from __future__ import annotations

import datetime as dt
import json

from gateway.datadir import AS_OF_TIME
from gateway.synth.casenotes import write_note
from gateway.synth.departments.common import (
    Professional,
    StoreBuilder,
    address_json,
    days_before,
    note_subject,
    protected_household,
)
from gateway.synth.identifiers import LANDLINE, phone_number
from gateway.synth.noise import Identity
from gateway.synth.population import World

STORE = "childrens_social_care"

# Workers are dealt to teams in this order, so SW0001 and SW0002 (the demo caseworkers) are in the
# two teams that hold long-running caseloads.
TEAMS = [
    ("CSC01", "Children in Need Team"),
    ("CSC02", "Child Protection Team"),
    ("CSC03", "Looked After Children Team"),
    ("CSC04", "Assessment Team 1"),
    ("CSC05", "Assessment Team 2"),
]
REFERRAL_SOURCES = [  # CIN census referral source codes, with rough national shares
    ("1A", "Individual: family member/relative/carer", 0.06),
    ("1B", "Individual: acquaintance", 0.01),
    ("1C", "Individual: self", 0.02),
    ("2A", "Schools", 0.21),
    ("3A", "Health services: GP", 0.03),
    ("3B", "Health services: health visitor", 0.03),
    ("3C", "Health services: school nurse", 0.01),
    ("3D", "Health services: other primary health services", 0.02),
    ("3E", "Health services: A&E", 0.04),
    ("3F", "Health services: other", 0.06),
    ("4", "Housing", 0.02),
    ("5A", "LA services: social care", 0.05),
    ("5B", "LA services: other internal", 0.03),
    ("5C", "LA services: external", 0.03),
    ("5D", "Police", 0.29),
    ("6", "Other legal agency", 0.02),
    ("8", "Other", 0.04),
    ("9", "Anonymous", 0.02),
    ("10", "Unknown", 0.01),
]
PRIMARY_NEED = [
    ("N1", 0.56),
    ("N2", 0.03),
    ("N3", 0.09),
    ("N4", 0.14),
    ("N5", 0.02),
    ("N6", 0.03),
    ("N7", 0.01),
    ("N8", 0.04),
    ("N9", 0.08),
]
CP_CATEGORY = [("NEG", 0.50), ("EMO", 0.38), ("PHY", 0.06), ("SAB", 0.04), ("MUL", 0.02)]
CLOSE_REASONS = ["RC1", "RC2", "RC3", "RC4", "RC5", "RC7", "RC8"]

REFERRAL_RATE = 0.12  # per family with children over the three-year window, at average need


def _pick(rnd: object, options: list[tuple]) -> tuple:
    weights = [o[-1] for o in options]
    return rnd.choices(options, weights=weights)[0]  # type: ignore[attr-defined]


def build(b: StoreBuilder) -> None:
    w: World = b.world
    rnd = b.rnd
    as_of = w.as_of
    window = 3 * 365

    for team_id, team_name in TEAMS:
        b.rows["ssd_teams"].append(
            {
                "team_id": team_id,
                "team_name": team_name,
                "team_phone": phone_number(LANDLINE, rnd.randrange(1000)),
                "team_service": "Children's Social Care",
            }
        )

    # Pass 1: decide who is referred and what follows, per family.
    cases: list[dict] = []
    for f in range(w.family_household.size):
        h = int(w.family_household[f])
        kids = b.children_of(h)
        if not kids:
            continue
        if rnd.random() >= min(0.9, REFERRAL_RATE * float(w.hh_risk[h])):
            continue
        n_ref = rnd.choices((1, 2, 3), (0.7, 0.22, 0.08))[0]
        for _ in range(n_ref):
            when = days_before(as_of, rnd, 1, window)
            referred = kids if rnd.random() < 0.65 else [rnd.choice(kids)]
            source = _pick(rnd, REFERRAL_SOURCES)
            need = _pick(rnd, PRIMARY_NEED)[0]
            nfa = rnd.random() < 0.38
            outcome = (
                "nfa"
                if nfa
                else rnd.choices(("assessment_nfa", "cin", "cp", "cla"), (0.45, 0.32, 0.15, 0.08))[0]
            )
            cases.append(
                {"h": h, "kids": referred, "date": when, "source": source, "need": need, "outcome": outcome}
            )

    # Workers: enough for a caseload of about 18 open children each, at least two per team.
    open_estimate = sum(len(c["kids"]) for c in cases if c["date"] > as_of - dt.timedelta(days=300))
    n_workers = max(2 * len(TEAMS), open_estimate // 18 + 1)
    workers = b.professionals("SW", n_workers, "Social Worker", [t[1] for t in TEAMS])
    by_team: dict[str, list[Professional]] = {}
    for p in workers:
        by_team.setdefault(p.team, []).append(p)
    team_id_of = {name: tid for tid, name in TEAMS}
    turn = dict.fromkeys(by_team, 0)
    caseload: dict[str, int] = dict.fromkeys((p.id for p in workers), 0)

    def allocate(team: str) -> Professional:
        staff = by_team[team]
        p = staff[turn[team] % len(staff)]
        turn[team] += 1
        return p

    # Pass 2: rows.
    counter = {
        "ref": 0,
        "ass": 0,
        "cin": 0,
        "cp": 0,
        "cla": 0,
        "invo": 0,
        "addr": 0,
        "fam": 0,
        "link": 0,
        "note": 0,
    }

    def nxt(key: str, prefix: str) -> str:
        counter[key] += 1
        return f"{prefix}{counter[key]:07d}"

    family_ids: dict[int, str] = {}
    for case in sorted(cases, key=lambda c: c["date"]):
        h = case["h"]
        if h not in family_ids:
            family_ids[h] = nxt("fam", "FAM")
            for j in w.members(h):
                pid = _register(b, j)
                b.rows["ssd_family"].append(
                    {
                        "fami_table_id": f"{family_ids[h]}-{pid}",
                        "fami_family_id": family_ids[h],
                        "fami_person_id": pid,
                        "fami_relationship": b.relationship(j),
                    }
                )
        for kid in case["kids"]:
            pid = _register(b, kid)
            ref_id = nxt("ref", "R")
            start: dt.date = case["date"]
            outcome = case["outcome"]
            team = "Assessment Team 1" if rnd.random() < 0.5 else "Assessment Team 2"
            assessor = allocate(team)
            end: dt.date | None = start + dt.timedelta(days=rnd.randint(1, 10))
            if outcome != "nfa":
                ass_start = start + dt.timedelta(days=rnd.randint(0, 5))
                auth = ass_start + dt.timedelta(days=rnd.randint(10, 60))
                b.rows["ssd_cin_assessments"].append(
                    {
                        "cina_assessment_id": nxt("ass", "A"),
                        "cina_person_id": pid,
                        "cina_referral_id": ref_id,
                        "cina_assessment_start_date": ass_start,
                        "cina_assessment_child_seen": "Y" if rnd.random() < 0.9 else "N",
                        "cina_assessment_auth_date": auth if auth <= as_of else None,
                        "cina_assessment_outcome_json": json.dumps({"OUTCOME": outcome}),
                        "cina_assessment_outcome_nfa": "Y" if outcome == "assessment_nfa" else "N",
                        "cina_assessment_team": team_id_of[team],
                        "cina_assessment_worker_id": assessor.id,
                    }
                )
                end = auth if auth <= as_of else None
                if outcome in ("cin", "cp", "cla") and end is not None:
                    plan_start = auth
                    longest = 2500 if outcome == "cla" else 700  # care episodes often last years
                    plan_end = plan_start + dt.timedelta(days=rnd.randint(90, longest))
                    plan_end_or_open = plan_end if plan_end <= as_of else None
                    plan_team = {
                        "cin": "Children in Need Team",
                        "cp": "Child Protection Team",
                        "cla": "Looked After Children Team",
                    }[outcome]
                    worker = allocate(plan_team)
                    if outcome == "cin":
                        b.rows["ssd_cin_plans"].append(
                            {
                                "cinp_cin_plan_id": nxt("cin", "CINP"),
                                "cinp_referral_id": ref_id,
                                "cinp_person_id": pid,
                                "cinp_cin_plan_start_date": plan_start,
                                "cinp_cin_plan_end_date": plan_end_or_open,
                                "cinp_cin_plan_team": team_id_of[plan_team],
                                "cinp_cin_plan_worker_id": worker.id,
                            }
                        )
                    elif outcome == "cp":
                        cat = _pick(rnd, CP_CATEGORY)[0]
                        b.rows["ssd_cp_plans"].append(
                            {
                                "cppl_cp_plan_id": nxt("cp", "CPP"),
                                "cppl_referral_id": ref_id,
                                "cppl_person_id": pid,
                                "cppl_cp_plan_start_date": plan_start,
                                "cppl_cp_plan_end_date": plan_end_or_open,
                                "cppl_cp_plan_team": team_id_of[plan_team],
                                "cppl_cp_plan_worker_id": worker.id,
                                "cppl_cp_plan_initial_category": cat,
                                "cppl_cp_plan_latest_category": cat
                                if rnd.random() < 0.85
                                else _pick(rnd, CP_CATEGORY)[0],
                            }
                        )
                    else:
                        b.rows["ssd_cla_episodes"].append(
                            {
                                "clae_cla_episode_id": nxt("cla", "CLA"),
                                "clae_person_id": pid,
                                "clae_cla_episode_start_date": plan_start,
                                "clae_cla_episode_start_reason": "S",
                                "clae_cla_legal_status": rnd.choice(("C2", "V2", "L1", "J1", "C1")),
                                "clae_cla_primary_need_code": case["need"],
                                "clae_cla_episode_ceased": plan_end_or_open,
                                "clae_cla_episode_ceased_reason": rnd.choice(("E4A", "E13", "E41", "E11"))
                                if plan_end_or_open
                                else None,
                                "clae_referral_id": ref_id,
                            }
                        )
                    end = plan_end_or_open
                    _involve(b, nxt("invo", "I"), worker, pid, ref_id, plan_start, end, caseload)
                _involve(
                    b,
                    nxt("invo", "I"),
                    assessor,
                    pid,
                    ref_id,
                    start,
                    auth if auth <= as_of else None,
                    caseload,
                    reason="Transferred after assessment" if outcome in ("cin", "cp", "cla") else None,
                )
            b.rows["ssd_cin_episodes"].append(
                {
                    "cine_referral_id": ref_id,
                    "cine_person_id": pid,
                    "cine_referral_date": start,
                    "cine_cin_primary_need_code": case["need"],
                    "cine_referral_source_code": case["source"][0],
                    "cine_referral_source_desc": case["source"][1],
                    "cine_referral_outcome_json": json.dumps({"OUTCOME": outcome}),
                    "cine_referral_nfa": "Y" if outcome == "nfa" else "N",
                    "cine_close_reason": rnd.choice(CLOSE_REASONS) if end is not None else None,
                    "cine_close_date": end,
                    "cine_referral_team": team_id_of[team],
                    "cine_referral_worker_id": assessor.id,
                }
            )
            for _ in range(rnd.randint(1, 3)):
                _note(b, nxt("note", "N"), kid, pid, assessor, start)

    for p in workers:
        b.rows["ssd_professionals"].append(
            {
                "prof_professional_id": p.id,
                "prof_staff_id": f"STF{p.id[2:]}",
                "prof_professional_name": p.name,
                "prof_social_worker_registration_no": f"SW{100000 + int(p.id[2:]) * 37}",
                "prof_agency_worker_flag": "Y" if rnd.random() < 0.15 else "N",
                "prof_professional_job_title": p.role,
                "prof_professional_caseload": caseload[p.id],
                "prof_professional_department": "Children's Social Care",
                "prof_full_time_equivalency": 1.0 if rnd.random() < 0.8 else 0.6,
                "prof_professional_team": team_id_of[p.team],
                "prof_professional_phone": p.phone,
            }
        )
    _front_door(b, as_of)  # last: the draws before it are as they were without contacts


def _register(b: StoreBuilder, i: int) -> str:
    """Person record plus the address and linked-identifier rows a CMS keeps alongside it."""
    if i in b.local:
        return b.local[i]
    w = b.world
    rnd = b.rnd
    seen: list[Identity] = []

    def row(lid: str, ident: Identity) -> dict:
        seen.append(ident)
        return _person_row(b, i, lid, ident)

    pid = b.register_person(i, "{}", 1_000_000, 6_999_999, row, "ssd_person")
    addr = seen[0]
    b.rows["ssd_address"].append(
        {
            "addr_table_id": f"AD{pid}",
            "addr_person_id": pid,
            "addr_address_type": "Home",
            "addr_address_start_date": w.hh_move_date[int(w.household[i])]
            or days_before(w.as_of, rnd, 400, 4000),
            "addr_address_end_date": None,
            "addr_address_postcode": addr.postcode,
            "addr_address_line": addr.address_line,
            "addr_address_uprn": str(addr.uprn) if rnd.random() < 0.7 else None,
            "addr_address_json": address_json(addr.address_line, addr.postcode),
        }
    )
    if b.ages[i] >= 18 and rnd.random() < 0.2:  # a parent's NHS number, recorded from a health referral
        b.rows["ssd_linked_identifiers"].append(
            {
                "link_table_id": f"L{pid}",
                "link_person_id": pid,
                "link_identifier_type": "NHS Number",
                "link_identifier_value": f"{addr.nhs:010d}",
                "link_valid_from_date": None,
                "link_valid_to_date": None,
            }
        )
    return pid


def _person_row(b: StoreBuilder, i: int, lid: str, ident: Identity) -> dict:
    rnd = b.rnd
    child = b.ages[i] < 18
    return {
        "pers_person_id": lid,
        "pers_legacy_id": f"LEG{rnd.randrange(10**6):06d}" if rnd.random() < 0.3 else None,
        "pers_forename": ident.first,
        "pers_middle_names": ident.middle or None,
        "pers_surname": ident.last,
        "pers_sex": ident.sex,
        "pers_gender": ident.sex,
        "pers_ethnicity": b.ethnicity(i),
        "pers_dob": ident.dob,
        "pers_common_child_id": f"{ident.nhs:010d}" if child and rnd.random() < 0.7 else None,
        "pers_upn_unknown": None,
        "pers_send_flag": None,
        "pers_expected_dob": None,
        "pers_death_date": None,
        "pers_is_mother": "Y" if (not child and ident.sex == "F" and b.relationship(i) == "mother") else None,
        "pers_nationality": None,
        # Restricted access: the person's whereabouts must not be disclosed (refuge, adoption, protection).
        "pers_restricted": "Y" if protected_household(b.world, int(b.world.household[i])) else None,
    }


def _involve(
    b: StoreBuilder,
    inv_id: str,
    worker: Professional,
    pid: str,
    ref_id: str,
    start: dt.date,
    end: dt.date | None,
    caseload: dict[str, int],
    reason: str | None = None,
) -> None:
    b.rows["ssd_involvements"].append(
        {
            "invo_involvements_id": inv_id,
            "invo_professional_id": worker.id,
            "invo_professional_role_id": worker.role,
            "invo_professional_team": worker.team,
            "invo_person_id": pid,
            "invo_involvement_start_date": start,
            "invo_involvement_end_date": end,
            "invo_worker_change_reason": reason,
            "invo_referral_id": ref_id,
        }
    )
    if end is None:
        caseload[worker.id] += 1


def _note(b: StoreBuilder, note_id: str, kid: int, pid: str, worker: Professional, after: dt.date) -> None:
    w = b.world
    subject = note_subject(w, kid, worker.name)
    kind, text, planted = write_note(subject, b.rnd)
    when = min(w.as_of, after + dt.timedelta(days=b.rnd.randint(0, 120)))
    b.rows["ssd_case_notes"].append(
        {
            "cano_case_note_id": note_id,
            "cano_person_id": pid,
            "cano_note_date": when,
            "cano_note_type": kind,
            "cano_note_text": text,
            "cano_worker_id": worker.id,
        }
    )
    for p in planted:
        b.planted.append((STORE, note_id, p.kind, p.value, p.start, p.end))


FRONT_DOOR_TEAM = ("CSC06", "Front Door (MASH)")
CONTACT_SOURCES = ("Police", "School", "Health visitor", "GP", "Family member", "Anonymous", "Housing")
CONTACT_DECISIONS = ("nfa", "referral", "early_help")


def _front_door(b: StoreBuilder, as_of: dt.date) -> None:
    """Contacts received at the front door over the last eight days, screened by its workers in turn:
    the newest mostly open, older ones mostly decided. Drawn last from this store's own random stream,
    so the rest of the store is as it was without them."""
    rnd = b.rnd
    team_id, team_name = FRONT_DOOR_TEAM
    b.rows["ssd_teams"].append(
        {
            "team_id": team_id,
            "team_name": team_name,
            "team_phone": phone_number(LANDLINE, rnd.randrange(1000)),
            "team_service": "Children's Social Care",
        }
    )
    screeners = b.professionals("FD", 3, "Screening Social Worker", [team_name])
    children = sorted(i for i in b.local if int(b.ages[i]) < 18)
    extracted = dt.datetime.combine(as_of, AS_OF_TIME)
    for n, i in enumerate(rnd.sample(children, min(len(children), max(15, len(children) // 6)))):
        # Two in five arrived within the last three days, mostly still open; the rest earlier in the
        # week, mostly decided. Screeners take them in turn.
        if n % 5 < 2:
            received = extracted - dt.timedelta(minutes=rnd.randrange(30, 70 * 60))
            decided = rnd.random() < 0.25
        else:
            received = extracted - dt.timedelta(minutes=rnd.randrange(73 * 60, 8 * 24 * 60))
            decided = rnd.random() < 0.7
        hours_ago = (extracted - received).total_seconds() / 3600
        decided_at = received + dt.timedelta(hours=rnd.uniform(0.25, min(hours_ago, 72))) if decided else None
        b.rows["ssd_contacts"].append(
            {
                "cont_contact_id": f"C{n + 1:06d}",
                "cont_person_id": b.local[i],
                "cont_received_at": received.isoformat(timespec="seconds"),
                "cont_source": rnd.choice(CONTACT_SOURCES),
                "cont_team": team_id,
                "cont_worker_id": screeners[n % len(screeners)].id,
                "cont_decision": rnd.choice(CONTACT_DECISIONS) if decided else None,
                "cont_decided_at": decided_at.isoformat(timespec="seconds") if decided_at else None,
            }
        )
    for p in screeners:
        b.rows["ssd_professionals"].append(
            {
                "prof_professional_id": p.id,
                "prof_staff_id": f"STF{p.id}",
                "prof_professional_name": p.name,
                "prof_social_worker_registration_no": f"SW{200000 + int(p.id[2:]) * 37}",
                "prof_agency_worker_flag": "N",
                "prof_professional_job_title": p.role,
                "prof_professional_caseload": 0,
                "prof_professional_department": "Children's Social Care",
                "prof_full_time_equivalency": 1.0,
                "prof_professional_team": team_id,
                "prof_professional_phone": p.phone,
            }
        )
