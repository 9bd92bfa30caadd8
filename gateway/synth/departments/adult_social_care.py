"""Adult social care: clients (with NHS numbers, as health-adjacent records hold them), care
packages by SALT service type and primary support reason, and the allocated worker.

Rates by age follow NHS Digital "Adult Social Care Activity and Finance Report" (long-term support);
see docs/synthetic-data.md.
"""

from __future__ import annotations

import datetime as dt

from gateway.synth.departments.common import StoreBuilder, days_before
from gateway.synth.noise import Identity

STORE = "adult_social_care"
RATE_BY_AGE = ((18, 0.012), (65, 0.04), (75, 0.09), (85, 0.22))
SERVICE_TYPES = ("Home Care", "Direct Payment", "Residential Care", "Day Care", "Supported Living")
SUPPORT_REASONS = (
    "Physical Support",
    "Learning Disability Support",
    "Mental Health Support",
    "Support with Memory and Cognition",
    "Sensory Support",
)
NHS_RECORDED = 0.9


def _rate(age: int) -> float:
    rate = 0.0
    for lo, r in RATE_BY_AGE:
        if age >= lo:
            rate = r
    return rate


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    clients = [i for i in range(w.n_people) if b.ages[i] >= 18 and rnd.random() < _rate(int(b.ages[i]))]
    workers = b.professionals(
        "ASW",
        max(3, len(clients) // 40 + 1),
        "Adult Social Worker",
        ["Adults North", "Adults South", "Learning Disabilities", "Hospital Discharge"],
    )
    b.add_staff("asc_workers", "wkr", "wkr_worker_id", workers)
    package = 0
    for k, i in enumerate(clients):

        def row(lid: str, ident: Identity) -> dict:
            return {
                "cli_client_id": lid,
                "cli_forename": ident.first,
                "cli_surname": ident.last,
                "cli_dob": ident.dob,
                "cli_sex": ident.sex,
                "cli_nhs_number": f"{ident.nhs:010d}" if rnd.random() < NHS_RECORDED else None,
                "cli_address_line": ident.address_line,
                "cli_postcode": ident.postcode,
            }

        cid = b.register_person(i, "{:07d}", 7_000_000, 7_999_999, row, "asc_clients")
        worker = workers[k % len(workers)]
        for _ in range(rnd.choices((1, 2), (0.75, 0.25))[0]):
            package += 1
            start = days_before(as_of, rnd, 1, 5 * 365)
            end = start + dt.timedelta(days=rnd.randint(30, 2000))
            service = rnd.choice(SERVICE_TYPES)
            cost = rnd.uniform(900, 1600) if service == "Residential Care" else rnd.uniform(80, 700)
            b.rows["asc_care_packages"].append(
                {
                    "pkg_package_id": f"PKG{package:07d}",
                    "pkg_client_id": cid,
                    "pkg_start_date": start,
                    "pkg_end_date": end if end <= as_of else None,
                    "pkg_service_type": service,
                    "pkg_primary_support_reason": rnd.choice(SUPPORT_REASONS),
                    "pkg_weekly_cost": round(cost, 2),
                    "pkg_worker_id": worker.id,
                }
            )
