"""Community safety: domestic-abuse notifications (Operation Encompass style, naming the children
present) and youth-justice involvement, each with a named officer.

Rates: ONS "Domestic abuse in England and Wales" (about 30 police-recorded incidents and crimes per
1,000 people a year) and YJB "Youth justice statistics" (children cautioned or sentenced); see
docs/synthetic-data.md.
"""

from __future__ import annotations

import datetime as dt

from gateway.synth.departments.common import StoreBuilder, days_before
from gateway.synth.geography import WARDS
from gateway.synth.noise import Identity
from gateway.synth.population import HEAD, PARTNER

STORE = "community_safety"
DA_HOUSEHOLD_RATE = 0.03  # households with at least one notification in two years, average need
YOT_RATE = 0.006  # children aged 10-17 with youth-justice involvement in two years
DISPOSALS = (
    "Youth Caution",
    "Youth Conditional Caution",
    "Referral Order",
    "Youth Rehabilitation Order",
    "Outcome 22/21 diversion",
)


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    officers = b.professionals(
        "PC",
        max(4, len(WARDS) // 2),
        "Police Constable",
        [f"Safer Neighbourhoods {ward}" for ward in WARDS[::2]],
    )
    yjs = b.professionals("YJ", 4, "Youth Justice Officer", ["Youth Justice Service"])
    b.add_staff("cs_officers", "off", "off_officer_id", officers + yjs)

    notification = 0
    child_link = 0
    for h in range(w.n_households):
        couple = [j for j in w.members(h) if w.role[j] in (HEAD, PARTNER) and b.ages[j] >= 18]
        adults = b.adults_of(h)
        if not adults or rnd.random() >= min(
            0.5, DA_HOUSEHOLD_RATE * float(w.hh_risk[h]) * (1.3 if couple else 0.5)
        ):
            continue
        women = [j for j in couple if w.sex[j] == "F"] or adults
        victim = women[0] if rnd.random() < 0.8 else rnd.choice(adults)
        perpetrator = next((j for j in couple if j != victim), None)
        officer = officers[int(w.geography.ward[w.hh_property[h]]) % len(officers)]
        kids = b.children_of(h)
        for _ in range(rnd.choices((1, 2, 3), (0.65, 0.25, 0.1))[0]):
            notification += 1
            incident = days_before(as_of, rnd, 1, 2 * 365)
            present = bool(kids) and rnd.random() < 0.6
            nid = f"DA{notification:07d}"
            b.rows["cs_da_notifications"].append(
                {
                    "dan_notification_id": nid,
                    "dan_incident_date": incident,
                    "dan_notified_date": incident + dt.timedelta(days=rnd.randint(0, 2)),
                    "dan_victim_nominal_id": _register(b, victim),
                    "dan_perpetrator_nominal_id": _register(b, perpetrator)
                    if perpetrator is not None
                    else None,
                    "dan_children_present": "Y" if present else "N",
                    "dan_risk_level": rnd.choices(("standard", "medium", "high"), (0.6, 0.3, 0.1))[0],
                    "dan_officer_id": officer.id,
                }
            )
            if present:
                for kid in kids:
                    child_link += 1
                    b.rows["cs_da_children"].append(
                        {
                            "dac_id": f"DAC{child_link:07d}",
                            "dac_notification_id": nid,
                            "dac_nominal_id": _register(b, kid),
                        }
                    )

    case = 0
    for i in range(w.n_people):
        if not 10 <= b.ages[i] <= 17:
            continue
        rate = YOT_RATE * float(w.hh_risk[w.household[i]]) ** 1.5 * (1.6 if w.sex[i] == "M" else 0.4)
        if rnd.random() >= min(0.3, rate):
            continue
        case += 1
        start = days_before(as_of, rnd, 1, 2 * 365)
        end = start + dt.timedelta(days=rnd.randint(90, 365))
        b.rows["cs_yot_involvements"].append(
            {
                "yot_case_id": f"YJ{case:06d}",
                "yot_nominal_id": _register(b, i),
                "yot_start_date": start,
                "yot_end_date": end if end <= as_of else None,
                "yot_disposal": rnd.choice(DISPOSALS),
                "yot_officer_id": yjs[case % len(yjs)].id,
            }
        )


def _register(b: StoreBuilder, i: int) -> str:
    def row(lid: str, ident: Identity) -> dict:
        return {
            "nom_nominal_id": lid,
            "nom_forename": ident.first,
            "nom_surname": ident.last,
            "nom_dob": ident.dob,
            "nom_sex": ident.sex,
            "nom_address_line": ident.address_line,
            "nom_postcode": ident.postcode,
        }

    return b.register_person(i, "NOM{:07d}", 0, 9_999_999, row, "cs_nominals")
