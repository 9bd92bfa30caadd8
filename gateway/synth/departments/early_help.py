"""Early help: family-level episodes with a key worker, family grouping, and case notes."""

from __future__ import annotations

import datetime as dt

from gateway.synth.casenotes import write_note
from gateway.synth.departments.common import StoreBuilder, days_before, note_subject
from gateway.synth.noise import Identity

STORE = "early_help"
EPISODE_RATE = 0.06  # families with children over two years, at average need
REASONS = (
    "Parenting support",
    "School attendance",
    "Domestic abuse",
    "Housing",
    "Parental mental health",
    "Financial difficulty",
    "Child behaviour",
    "Substance misuse",
)
END_REASONS = ("Outcomes achieved", "Stepped up to social care", "Family disengaged", "Moved away")
HUBS = ("Northbridge Family Hub North", "Northbridge Family Hub South", "Riverside Family Hub")


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    families = []
    for f in range(w.family_household.size):
        h = int(w.family_household[f])
        kids = b.children_of(h)
        if kids and rnd.random() < min(0.9, EPISODE_RATE * float(w.hh_risk[h])):
            families.append(h)

    workers = b.professionals("EHW", max(3, len(families) // 15 + 1), "Family Support Worker", list(HUBS))
    b.add_staff("eh_key_workers", "ehkw", "ehkw_worker_id", workers)

    episode_no = 0
    note_no = 0
    for k, h in enumerate(families):
        fam_id = f"EHF{k + 1:06d}"
        members = list(w.members(h))
        ids = {j: _register(b, j) for j in members}
        adults = [j for j in members if b.ages[j] >= 18]
        lead = adults[0] if adults else members[0]
        start = days_before(as_of, rnd, 1, 2 * 365)
        b.rows["eh_family"].append(
            {"ehf_family_id": fam_id, "ehf_lead_person_id": ids[lead], "ehf_created_date": start}
        )
        for n, j in enumerate(members):
            b.rows["eh_family_member"].append(
                {
                    "ehfm_id": f"{fam_id}-{n + 1}",
                    "ehfm_family_id": fam_id,
                    "ehfm_person_id": ids[j],
                    "ehfm_relationship": b.relationship(j),
                }
            )
        worker = workers[k % len(workers)]
        end = start + dt.timedelta(days=rnd.randint(60, 400))
        end_or_open = end if end <= as_of else None
        reason = rnd.choice(REASONS)
        for kid in b.children_of(h):
            episode_no += 1
            episode = f"EHE{episode_no:07d}"
            b.rows["ssd_early_help_episodes"].append(
                {
                    "earl_episode_id": episode,
                    "earl_person_id": ids[kid],
                    "earl_family_id": fam_id,
                    "earl_episode_start_date": start,
                    "earl_episode_end_date": end_or_open,
                    "earl_episode_reason": reason,
                    "earl_episode_end_reason": rnd.choice(END_REASONS) if end_or_open else None,
                    "earl_episode_organisation": worker.team,
                    "earl_episode_worker_id": worker.id,
                }
            )
            if rnd.random() < 0.7:
                note_no += 1
                _note(b, f"EHN{note_no:07d}", kid, ids[kid], episode, worker.name, start)


def _register(b: StoreBuilder, i: int) -> str:
    rnd = b.rnd

    def row(lid: str, ident: Identity) -> dict:
        return {
            "ehp_person_id": lid,
            "ehp_forename": ident.first,
            "ehp_surname": ident.last,
            "ehp_dob": ident.dob,
            "ehp_sex": ident.sex,
            "ehp_address_line": ident.address_line,
            "ehp_postcode": ident.postcode,
            "ehp_uprn": str(ident.uprn) if rnd.random() < 0.4 else None,
            "ehp_nhs_number": f"{ident.nhs:010d}" if rnd.random() < 0.1 else None,
            "ehp_phone": b.world.phone[i] if b.ages[i] >= 18 and rnd.random() < 0.6 else None,
        }

    return b.register_person(i, "EH{:06d}", 0, 999_999, row, "eh_person")


def _note(
    b: StoreBuilder, note_id: str, kid: int, pid: str, episode: str, worker_name: str, after: dt.date
) -> None:
    w = b.world
    subject = note_subject(w, kid, worker_name)
    _kind, text, planted = write_note(subject, b.rnd)
    b.rows["eh_case_notes"].append(
        {
            "ehn_note_id": note_id,
            "ehn_person_id": pid,
            "ehn_episode_id": episode,
            "ehn_note_date": min(w.as_of, after + dt.timedelta(days=b.rnd.randint(0, 90))),
            "ehn_note_text": text,
            "ehn_worker_id": None,
        }
    )
    for p in planted:
        b.planted.append((STORE, note_id, p.kind, p.value, p.start, p.end))
