"""Education: schools, pupils with UPNs, yearly attendance, suspensions and exclusions, SEN provision.

Rates follow DfE "Pupil absence in schools in England" (persistent absence about 20%), "Special
educational needs in England" (SEN support 13.6%, EHC plans 4.8%) and "Suspensions and permanent
exclusions in England"; see docs/synthetic-data.md.
"""

from __future__ import annotations

import datetime as dt

from gateway.synth.departments.common import StoreBuilder, days_before
from gateway.synth.identifiers import LANDLINE, make_upn, phone_number
from gateway.synth.names import name_pools
from gateway.synth.noise import Identity

STORE = "education"
IN_BOROUGH_SCHOOL = 0.85  # pupils resident in the borough who attend its schools
SIXTH_FORM_STAY = 0.45
SEN_SUPPORT, EHCP = 0.136, 0.048
SUSPENSION_RATE = 0.035  # pupils with at least one suspension in a year, secondary; primary is lower
MEAN_ABSENCE = 0.07


def academic_year_start(as_of: dt.date) -> dt.date:
    return dt.date(as_of.year if as_of.month >= 9 else as_of.year - 1, 9, 1)


def build(b: StoreBuilder) -> None:
    w = b.world
    rnd = b.rnd
    as_of = w.as_of
    year_start = academic_year_start(as_of)
    cutoff = year_start - dt.timedelta(days=1)  # 31 August: the age that sets the year group

    pupils: list[tuple[int, int]] = []  # (person, national curriculum year: 0 = reception)
    for i in range(w.n_people):
        if b.ages[i] > 18:
            continue
        dob = w.dob[i].astype("datetime64[D]").astype(object)
        age = cutoff.year - dob.year - ((cutoff.month, cutoff.day) < (dob.month, dob.day))
        year = age - 4
        if 0 <= year <= 11 and rnd.random() < IN_BOROUGH_SCHOOL:
            pupils.append((i, year))
        elif 12 <= year <= 13 and rnd.random() < SIXTH_FORM_STAY * IN_BOROUGH_SCHOOL:
            pupils.append((i, year))

    n_primary = max(2, sum(1 for _, y in pupils if y <= 6) // 420 + 1)
    n_secondary = max(1, sum(1 for _, y in pupils if y >= 7) // 1000 + 1)
    surnames = name_pools()[0].surnames
    schools = []
    for k in range(n_primary + n_secondary):
        phase = "Primary" if k < n_primary else "Secondary"
        urn = f"{990001 + k:06d}"  # URNs from 990000 up are not issued to real schools
        suffix = "Primary School" if phase == "Primary" else rnd.choice(("Academy", "School"))
        name = f"{rnd.choice(surnames)} {suffix}"
        dsl = f"{rnd.choice(name_pools()[0].female)} {rnd.choice(surnames)}"
        schools.append((urn, phase))
        b.rows["edu_schools"].append(
            {
                "sch_urn": urn,
                "sch_name": name,
                "sch_phase": phase,
                "sch_postcode": w.geography.postcode[rnd.randrange(w.geography.size)],
                "sch_dsl_name": dsl,
                "sch_phone": phone_number(LANDLINE, rnd.randrange(1000)),
            }
        )
    primaries = [s for s in schools if s[1] == "Primary"]
    secondaries = [s for s in schools if s[1] == "Secondary"]

    serials: dict[tuple[str, int], int] = {}  # UPN serials run per school and year of entry
    att_id = 0
    exc_id = 0
    for i, year in pupils:
        h = int(w.household[i])
        risk = float(w.hh_risk[h])
        urn = rnd.choice(primaries if year <= 6 else secondaries)[0]
        entry_year = year_start.year - year
        serial = serials[(urn, entry_year)] = serials.get((urn, entry_year), 0) + 1
        upn = make_upn(int(urn) - 990000, entry_year, serial)
        sen = rnd.random()
        sen_code = "E" if sen < EHCP else "K" if sen < EHCP + SEN_SUPPORT * (0.7 + 0.3 * risk) else "N"

        def row(
            lid: str,
            ident: Identity,
            upn: str = upn,
            urn: str = urn,
            year: int = year,
            sen: str = sen_code,
            entry: int = entry_year,
        ) -> dict:
            return {
                "pup_pupil_id": lid,
                "pup_upn": upn,
                "pup_forename": ident.first,
                "pup_middle_names": ident.middle or None,
                "pup_surname": ident.last,
                "pup_dob": ident.dob,
                "pup_sex": ident.sex,
                "pup_address_line": ident.address_line,
                "pup_postcode": ident.postcode,
                "pup_urn": urn,
                "pup_ncyear": "R" if year == 0 else str(year),
                "pup_sen_provision": sen,
                "pup_entry_date": dt.date(entry, 9, 1),
            }

        pid = b.register_person(i, "{:06d}", 100_000, 999_999, row, "edu_pupils")
        base_absence = min(0.6, rnd.gammavariate(1.3, MEAN_ABSENCE / 1.3) * (0.6 + 0.4 * risk))
        for back in (2, 1, 0):
            if year - back < 0:
                continue
            start = year_start.year - back
            possible = 380 if back else max(2, int(380 * min(1.0, (as_of - year_start).days / 300)))
            absence = min(0.95, max(0.0, base_absence * rnd.uniform(0.7, 1.3)))
            absent = round(possible * absence)
            unauthorised = round(absent * rnd.uniform(0.1, 0.6))
            att_id += 1
            b.rows["edu_attendance"].append(
                {
                    "att_id": att_id,
                    "att_pupil_id": pid,
                    "att_academic_year": f"{start}/{(start + 1) % 100:02d}",
                    "att_sessions_possible": possible,
                    "att_sessions_attended": possible - absent,
                    "att_authorised_absence": absent - unauthorised,
                    "att_unauthorised_absence": unauthorised,
                }
            )
        rate = SUSPENSION_RATE * (1.0 if year >= 7 else 0.25) * risk
        if rnd.random() < min(0.6, rate):
            for _ in range(rnd.choices((1, 2, 3), (0.6, 0.25, 0.15))[0]):
                exc_id += 1
                permanent = rnd.random() < 0.03
                b.rows["edu_exclusions"].append(
                    {
                        "exc_exclusion_id": f"EX{exc_id:07d}",
                        "exc_pupil_id": pid,
                        "exc_start_date": days_before(as_of, rnd, 1, 365),
                        "exc_category": "PERM" if permanent else "SUSP",
                        "exc_reason": rnd.choice(("PP", "VP", "PA", "VA", "DMG", "DRG", "BU", "DIS")),
                        "exc_sessions": 0 if permanent else rnd.randint(1, 10),
                    }
                )
    _welfare(b, as_of)  # last: the draws before it are as they were without welfare cases


WELFARE_REASONS = ("persistent_absence", "severe_absence", "children_missing_education", "attendance_concern")


def _welfare(b: StoreBuilder, as_of: dt.date) -> None:
    """Education welfare cases for about two in five pupils whose latest attendance is below 90%, most
    still open, held by a few officers. Drawn last from this store's random stream."""
    rnd = b.rnd
    latest: dict[str, tuple[str, int, int]] = {}
    for row in b.rows["edu_attendance"]:
        pid, year = str(row["att_pupil_id"]), str(row["att_academic_year"])
        if pid not in latest or year > latest[pid][0]:
            possible, attended = row["att_sessions_possible"], row["att_sessions_attended"]
            assert isinstance(possible, int) and isinstance(attended, int)
            latest[pid] = (year, possible, attended)
    absent = sorted(
        p for p, (_, possible, attended) in latest.items() if possible and attended / possible < 0.9
    )
    cases = [p for p in absent if rnd.random() < 0.4]
    officers = b.professionals(
        "EWO", max(2, len(cases) // 25 + 1), "Education Welfare Officer", ["Education Welfare"]
    )
    for o in officers:
        b.rows["edu_welfare_officers"].append(
            {"ewo_officer_id": o.id, "ewo_name": o.name, "ewo_phone": o.phone}
        )
    for n, pid in enumerate(cases):
        opened = days_before(as_of, rnd, 1, 200)
        closed = None if rnd.random() < 0.7 else min(as_of, opened + dt.timedelta(days=rnd.randint(20, 120)))
        b.rows["edu_welfare_cases"].append(
            {
                "ewc_case_id": f"EWC{n + 1:06d}",
                "ewc_pupil_id": pid,
                "ewc_officer_id": officers[n % len(officers)].id,
                "ewc_opened": opened,
                "ewc_closed": closed,
                "ewc_reason": rnd.choice(WELFARE_REASONS),
            }
        )
