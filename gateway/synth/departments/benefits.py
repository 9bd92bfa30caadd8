"""Revenues and benefits: Housing Benefit and Council Tax Reduction claims, the people on each claim,
and awards with weekly amounts, split as the DWP Single Housing Benefit Extract splits them.

Rates: DWP "Housing Benefit caseload statistics" and local CTR caseloads for inner London; see
docs/synthetic-data.md.
"""

from __future__ import annotations

import datetime as dt

from gateway.synth.departments.common import StoreBuilder, days_before
from gateway.synth.noise import Identity
from gateway.synth.population import CHILD, HEAD, PARTNER

STORE = "benefits"
HB_RATE = 0.12  # households receiving Housing Benefit, average need
CTR_ONLY_RATE = 0.06  # households with Council Tax Reduction but no Housing Benefit
ASSESSORS = 12  # benefit assessors, each holding a share of the claims (the contact for a claim)
TENURE_FACTOR = {
    "lone_parent": 2.2,
    "large_family": 1.8,
    "multigenerational": 1.3,
    "couple_with_children": 1.0,
    "single_adult": 1.1,
    "couple": 0.6,
    "house_share": 0.5,
}


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    claim = 0
    for h in range(w.n_households):
        risk = float(w.hh_risk[h])
        kind = w.hh_type[h]
        hb = rnd.random() < min(0.9, HB_RATE * TENURE_FACTOR[kind] * (0.5 + 0.5 * risk))
        ctr = (hb and rnd.random() < 0.85) or (not hb and rnd.random() < CTR_ONLY_RATE)
        if not (hb or ctr):
            continue
        members = list(w.members(h))
        if kind == "house_share":  # one sharer claims alone
            members = [rnd.choice(members)]
        claim += 1
        ref = f"C{claim:07d}"
        start = days_before(as_of, rnd, 30, 8 * 365)
        seen: list[Identity] = []
        for n, j in enumerate(members):
            role = (
                "claimant"
                if n == 0
                else "partner"
                if w.role[j] in (HEAD, PARTNER)
                else "dependant"
                if w.role[j] == CHILD and b.ages[j] < 18
                else "non-dependant"
            )

            def row(
                lid: str, ident: Identity, role: str = role, ref: str = ref, seen: list[Identity] = seen
            ) -> dict:
                seen.append(ident)
                return {
                    "cp_person_ref": lid,
                    "cp_claim_ref": ref,
                    "cp_forename": ident.first,
                    "cp_surname": ident.last,
                    "cp_dob": ident.dob,
                    "cp_sex": ident.sex,
                    "cp_role": role,
                }

            b.register_person(j, "BP{:07d}", 0, 9_999_999, row, "rb_claim_persons")
        claimant = seen[0]  # the claim's address is the one the claimant gave (old, or without postcode)
        b.rows["rb_claims"].append(
            {
                "clm_claim_ref": ref,
                "clm_start_date": start,
                "clm_end_date": None,
                "clm_address_line": claimant.address_line,
                "clm_postcode": claimant.postcode,
                "clm_uprn": str(claimant.uprn) if rnd.random() < 0.9 else None,
                "clm_tenure": rnd.choice(("council", "housing association", "private rented")),
                "clm_assessor_id": f"BEN{claim % ASSESSORS + 1:04d}",
            }
        )
        award_from = max(start, as_of - dt.timedelta(days=rnd.randint(30, 400)))
        if hb:
            b.rows["rb_hb_awards"].append(
                {
                    "hb_award_id": f"HB{claim:07d}",
                    "hb_claim_ref": ref,
                    "hb_from_date": award_from,
                    "hb_to_date": None,
                    "hb_weekly_amount": round(rnd.uniform(60, 380), 2),
                }
            )
        if ctr:
            b.rows["rb_ctr_awards"].append(
                {
                    "ctr_award_id": f"CTR{claim:07d}",
                    "ctr_claim_ref": ref,
                    "ctr_from_date": award_from,
                    "ctr_to_date": None,
                    "ctr_weekly_amount": round(rnd.uniform(4, 38), 2),
                }
            )
    # Drawn after every claim, so the claims themselves come out as before the contacts existed.
    assessors = b.professionals(
        "BEN", ASSESSORS, "Benefits Assessor", ["Housing Benefit", "Council Tax Support"]
    )
    b.add_staff("rb_assessors", "asr", "asr_assessor_id", assessors)
