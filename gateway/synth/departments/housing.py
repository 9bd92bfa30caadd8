"""Housing: council tenancies, rent accounts with arrears, monthly rent transactions, temporary
accommodation, and the housing officer for each patch."""

from __future__ import annotations

import datetime as dt

from gateway.synth.departments.common import StoreBuilder, days_before, protected_household
from gateway.synth.geography import WARDS
from gateway.synth.noise import Identity

STORE = "housing"
COUNCIL_TENANCY_RATE = 0.2  # inner-London households renting from the council (Census 2021: ~17-25%)
FAMILY_BONUS = {
    "lone_parent": 1.8,
    "large_family": 1.6,
    "multigenerational": 1.3,
    "couple_with_children": 1.1,
    "single_adult": 1.0,
    "couple": 0.7,
    "house_share": 0.0,
}
ARREARS_RATE = 0.28  # council tenants in arrears at a point in time
TA_RATE = 0.02  # households in temporary accommodation (London: about 1 in 50 households)
TA_TYPES = ("Nightly paid self-contained", "Private sector leased", "Hostel", "Bed and breakfast")


def arrears_band(balance: float) -> str:
    if balance <= 0:
        return "none"
    if balance < 250:
        return "under 250"
    if balance < 1000:
        return "250-999"
    if balance < 2500:
        return "1000-2499"
    return "2500 and over"


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    geo = w.geography
    officers = b.professionals(
        "HO",
        len(WARDS) // 2,
        "Housing Officer",
        [f"Housing Management {n}" for n in ("North", "South", "East", "West")],
    )
    b.add_staff("hsg_officers", "off", "off_officer_id", officers)
    tenancy_no = 0
    for h in range(w.n_households):
        risk = float(w.hh_risk[h])
        kind = w.hh_type[h]
        council = rnd.random() < min(0.95, COUNCIL_TENANCY_RATE * FAMILY_BONUS[kind] * (0.6 + 0.4 * risk))
        in_ta = (
            not council
            and kind != "house_share"
            and rnd.random() < min(0.5, TA_RATE * (2.0 if b.children_of(h) else 0.6) * risk)
        )
        if not (council or in_ta):
            continue
        prop = int(w.hh_property[h])
        ward = int(geo.ward[prop])
        officer = officers[ward % len(officers)]
        b.rows["hsg_properties"].append(
            {
                "prop_uprn": str(int(geo.uprn[prop])),
                "prop_address_line": geo.address_line[prop],
                "prop_postcode": geo.postcode[prop],
                "prop_ward": WARDS[ward],
                "prop_tenure_type": "council" if council else "temporary accommodation",
            }
        )
        tenancy_no += 1
        ten_ref = f"T{tenancy_no:07d}"
        start = w.hh_move_date[h] or days_before(as_of, rnd, 365 * 3, 365 * 25)
        b.rows["hsg_tenancies"].append(
            {
                "ten_tenancy_ref": ten_ref,
                "prop_uprn": str(int(geo.uprn[prop])),
                "ten_start_date": start,
                "ten_end_date": None,
                "ten_type": ("introductory" if (as_of - start).days < 365 else "secure")
                if council
                else "licence (TA)",
                "ten_officer_id": officer.id,
            }
        )
        lead = ""
        for n, j in enumerate(w.members(h)):
            rel = (
                "lead tenant"
                if n == 0
                else (
                    "joint tenant"
                    if b.ages[j] >= 18 and n == 1 and rnd.random() < 0.6
                    else "household member"
                )
            )
            pid = _register(b, j, ten_ref, rel)
            lead = lead or pid
        if in_ta:
            ta_start = days_before(as_of, rnd, 10, 2 * 365)
            ta_end = ta_start + dt.timedelta(days=rnd.randint(60, 900))
            b.rows["hsg_temporary_accommodation"].append(
                {
                    "ta_placement_ref": f"TA{tenancy_no:07d}",
                    "ta_lead_person_ref": lead,
                    "prop_uprn": str(int(geo.uprn[prop])),
                    "ta_start_date": ta_start,
                    "ta_end_date": ta_end if ta_end <= as_of else None,
                    "ta_accommodation_type": rnd.choice(TA_TYPES),
                    "ta_officer_id": officer.id,
                }
            )
            continue
        weekly = round(rnd.uniform(110, 220), 2)
        in_arrears = rnd.random() < min(0.9, ARREARS_RATE * risk)
        balance = (
            round(rnd.lognormvariate(6.4, 0.9), 2)
            if in_arrears
            else -round(rnd.uniform(0, 60), 2) * (rnd.random() < 0.3)
        )
        since = days_before(as_of, rnd, 14, 540) if balance > 0 else None
        account = f"RA{tenancy_no:07d}"
        last_payment = days_before(as_of, rnd, 1, 20 if balance <= 0 else 120)
        b.rows["hsg_rent_accounts"].append(
            {
                "ra_account_ref": account,
                "ra_tenancy_ref": ten_ref,
                "ra_weekly_rent": weekly,
                "ra_balance": balance,
                "ra_arrears_since": since,
                "ra_arrears_band": arrears_band(balance),
                "ra_last_payment_date": last_payment,
            }
        )
        monthly = round(weekly * 52 / 12, 2)
        for m in range(12, 0, -1):
            day = (as_of.replace(day=1) - dt.timedelta(days=30 * m)).replace(day=1)
            b.rows["hsg_rent_transactions"].append(
                {"rt_account_ref": account, "rt_date": day, "rt_type": "charge", "rt_amount": monthly}
            )
            paid = (
                monthly
                if balance <= 0 or (since and day < since)
                else round(monthly * rnd.uniform(0.3, 0.95), 2)
            )
            b.rows["hsg_rent_transactions"].append(
                {
                    "rt_account_ref": account,
                    "rt_date": day + dt.timedelta(days=rnd.randint(0, 20)),
                    "rt_type": "payment",
                    "rt_amount": -paid,
                }
            )
    for n, row in enumerate(b.rows["hsg_rent_transactions"]):
        row["rt_id"] = n + 1


def _register(b: StoreBuilder, i: int, tenancy: str, relationship: str) -> str:
    rnd = b.rnd

    def row(lid: str, ident: Identity) -> dict:
        return {
            "tp_person_ref": lid,
            "tp_tenancy_ref": tenancy,
            "tp_forename": ident.first,
            "tp_surname": ident.last,
            "tp_dob": ident.dob,
            "tp_sex": ident.sex,
            "tp_relationship": relationship,
            "tp_phone": b.world.phone[i] if b.ages[i] >= 18 and rnd.random() < 0.8 else None,
            "tp_sensitive": "Y" if protected_household(b.world, int(b.world.household[i])) else None,
            "tp_address_line": ident.address_line,
            "tp_postcode": ident.postcode,
        }

    return b.register_person(i, "HP{:07d}", 0, 9_999_999, row, "hsg_tenancy_persons")
