"""A re-identifying recipient's attacks on extracts built through the API (issue 20, its structured
half): rows in a fixed order joined across projects, two filters a day apart isolating one child, two
extracts of one project whose difference singles people out, and protected people in the files.

Truth comes from independent SQL on the departmental stores, the person index and the analysis store;
each attack prints its success rate against chance."""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.index.schema import xref
from gateway.privacy.keys import choose_provider
from gateway.privacy.pseudonyms import ProjectKey
from tests.conftest import bearer

BASE = {
    "purpose": "supporting_families_evaluation",
    "agreement": "AGR-INS-003",
    "dataset": "person_records",
}
K = 5  # AGR-INS-003's k


@pytest.fixture(scope="module")
def gw(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as client:
        client.dd = linked_borough  # type: ignore[attr-defined]
        yield client


def _ask(gw, body: dict):
    return gw.post("/v1/extracts", json={**BASE, **body}, headers=bearer(gw.dd, "an.priya"))


def _built(gw, body: dict) -> tuple[str, pd.DataFrame]:
    r = _ask(gw, body)
    assert r.status_code == 202, r.text
    extract_id = r.json()["extract_id"]
    assert gw.post(f"/v1/extracts/{extract_id}/approve", headers=bearer(gw.dd, "ig.olu")).status_code == 202
    deadline = time.time() + 240
    while (status := gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json())[
        "status"
    ] in {"approved", "building"}:
        assert time.time() < deadline
        time.sleep(0.3)
    assert status["status"] == "ready", status
    data = gw.get(f"/v1/extracts/{extract_id}/data", headers=bearer(gw.dd, "an.priya"))
    return extract_id, pd.read_csv(io.StringIO(data.text), dtype=str, keep_default_na=False)


def _audited(gw, response) -> dict:
    events = gw.get("/v1/audit/events", params={"limit": 50}, headers=bearer(gw.dd, "ig.olu")).json()[
        "events"
    ]
    return next(e for e in events if e["id"] == response.headers["x-audit-id"])


def test_rows_of_two_projects_cannot_be_joined_by_position(gw) -> None:
    """Rows were sorted by the internal person id: two projects' extracts of the same people joined
    row by row (100% linked). Now each file has its own random order."""
    fields = ["date_of_birth", "sex", "ward"]
    _, one = _built(gw, {"project": "order-a", "fields": fields})
    _, two = _built(gw, {"project": "order-b", "fields": fields})
    assert len(one) == len(two) > 1000
    a, b = one[fields].agg("|".join, axis=1), two[fields].agg("|".join, axis=1)
    same_position = float((a.values == b.values).mean())
    chance = sum((n / len(a)) ** 2 for n in Counter(a).values())  # two random rows agreeing
    print(f"row order: {same_position:.1%} of positions agree across projects; chance {chance:.1%}")
    assert same_position <= chance + 0.05
    assert Counter(a) == Counter(b), "the same people, only in another order"


def test_a_filter_finer_than_the_release_is_refused(gw) -> None:
    """Two requests whose date-of-birth filters differ by one day isolated one child. Dates of birth
    are released as years under AGR-INS-003, so a filter may name a year, never a day or a month."""
    fields = ["date_of_birth", "sex", "cp_plan"]
    for bound in ("2014-08-21", "2014-08"):
        r = _ask(gw, {"project": "one-day", "fields": fields, "filters": {"date_of_birth": {"lte": bound}}})
        assert r.status_code == 422 and r.json()["error"] == "finer_than_released", r.text
        assert "year" in r.json()["detail"]
        event = _audited(gw, r)
        assert event["decision"] == "deny" and event["status"] == 422
    ok = _ask(gw, {"project": "one-day", "fields": fields, "filters": {"date_of_birth": {"lte": "2014"}}})
    assert ok.status_code == 202, ok.text
    # Released as an age band (AGR-RES-005): no date filter at all.
    research = gw.post(
        "/v1/extracts",
        json={
            "purpose": "early_help_outcomes_research",
            "project": "uni-dates",
            "agreement": "AGR-RES-005",
            "dataset": "person_records",
            "fields": ["date_of_birth", "sex"],
            "filters": {"date_of_birth": {"gte": "2010"}},
        },
        headers=bearer(gw.dd, "an.priya"),
    )
    assert research.status_code == 422 and "age band" in research.json()["detail"]


def test_two_extracts_of_a_project_may_not_differ_by_fewer_than_k_people(gw, analysis_borough) -> None:
    """Each extract k-anonymous, their difference a handful of people. The truth (how many people a
    flag and a sex select) is read from the analysis store."""
    store = sa.create_engine(DataDir(analysis_borough).analysis_url())
    with store.connect() as conn:
        counts = {
            (flag, sex): n
            for flag in ("cp_plan", "looked_after", "youth_offending", "exclusion", "temporary_accommodation")
            for sex, n in conn.execute(
                sa.text(f"SELECT sex, count(*) FROM persons WHERE {flag} GROUP BY sex")
            )
        }
    store.dispose()
    small = [(f, s) for (f, s), n in counts.items() if 2 <= n < K and s in ("F", "M")]
    large = [(f, s) for (f, s), n in counts.items() if n >= K + 3 and s in ("F", "M")]
    assert small and large, counts
    flag, sex = small[0]
    other = "M" if sex == "F" else "F"
    fields = ["sex", "ward", flag]
    first = _ask(gw, {"project": "diff-small", "fields": fields, "filters": {flag: True}})
    assert first.status_code == 202, first.text
    second = _ask(gw, {"project": "diff-small", "fields": fields, "filters": {flag: True, "sex": other}})
    print(f"differencing: {flag} & sex {sex} = {counts[(flag, sex)]} people between the two selections")
    assert second.status_code == 409 and second.json()["error"] == "overlapping_extract", second.text
    assert f"fewer than k = {K}" in second.json()["detail"]
    assert _audited(gw, second)["decision"] == "deny"
    # The same two selections in another project, or a pair that differs by at least k, are fine.
    big_flag, big_sex = large[0]
    fields = ["sex", "ward", big_flag]
    assert (
        _ask(gw, {"project": "diff-large", "fields": fields, "filters": {big_flag: True}}).status_code == 202
    )
    keep = "M" if big_sex == "F" else "F"
    wide = _ask(gw, {"project": "diff-large", "fields": fields, "filters": {big_flag: True, "sex": keep}})
    assert wide.status_code == 202, wide.text


def test_protected_people_are_not_in_extracts(gw, linked_borough) -> None:
    """Refuge and adoption markers in the stores: those people were in extracts with a postcode
    district, though the caseworker views hide their location."""
    dd = DataDir(linked_borough)
    urls = dd.store_urls()
    protected: set[str] = set()
    index = sa.create_engine(dd.index_url())
    with index.connect() as conn:
        person_of = {
            (s, lid): p
            for s, lid, p in conn.execute(sa.text("SELECT source, local_id, person_id FROM index_xref"))
        }
    index.dispose()
    for store, sql in (
        ("childrens_social_care", "SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'"),
        ("housing", "SELECT tp_person_ref FROM hsg_tenancy_persons WHERE tp_sensitive = 'Y'"),
    ):
        engine = sa.create_engine(urls[store])
        with engine.connect() as conn:
            protected |= {
                person_of[(store, r[0])] for r in conn.execute(sa.text(sql)) if (store, r[0]) in person_of
            }
        engine.dispose()
    assert protected, "the borough has protected people to protect"
    extract_id, frame = _built(gw, {"project": "protected", "fields": ["sex", "postcode", "ward"]})
    subjects = set(gw.app.state.services.extract_store.subjects(extract_id))
    report = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json()
    print(f"protected: {len(protected)} people marked, {len(subjects & protected)} in the extract")
    assert not subjects & protected
    assert report["disclosure"]["protected_people"]["excluded"] == len(protected)
    assert len(frame) == len(subjects)


def test_exact_amounts_are_no_longer_keys(gw, linked_borough) -> None:
    """AGR-RES-005 released housing_benefit_weekly as held: joined to the benefit awards it re-identified
    930 of 961 claimants by the amount alone. Amounts are now bands, and a quasi-identifier for k."""
    engine = sa.create_engine(DataDir(linked_borough).store_urls()["benefits"])
    with engine.connect() as conn:
        amounts = [a for (a,) in conn.execute(sa.text("SELECT hb_weekly_amount FROM rb_hb_awards")) if a]
    engine.dispose()
    body = {
        "purpose": "early_help_outcomes_research",
        "project": "uni-amounts",
        "agreement": "AGR-RES-005",
        "dataset": "person_records",
        "fields": ["date_of_birth", "sex", "housing_benefit_weekly"],
    }
    _, frame = _built(gw, body)
    values = [v for v in frame["housing_benefit_weekly"] if v not in ("", "Unknown", "*")]
    assert values, "claimants are in the extract"
    exact = {f"{a:.2f}" for a in amounts} | {str(a) for a in amounts}
    by_band: Counter = Counter()
    for a in amounts:
        for width in (25, 50, 100):
            low = int(a // width) * width
            by_band[f"{low}-{low + width - 1}"] += 1
    unique = sum(1 for v in values if v in exact or by_band.get(v, 0) == 1)
    print(f"amounts: {unique} of {len(values)} released amounts match exactly one claimant's award")
    assert all("-" in v for v in values), values[:5]
    assert unique / len(values) <= 0.01


def test_every_released_flag_is_l_diverse(gw) -> None:
    """l-diversity was 1 for every sensitive flag: a class of people sharing their quasi-identifiers
    all with cp_plan = true told anyone who knew a member's age, sex and ward that they were on a plan."""
    flags = ["cp_plan", "looked_after", "known_to_csc", "domestic_abuse_notification"]
    _, frame = _built(gw, {"project": "diverse", "fields": ["date_of_birth", "sex", "ward", *flags]})
    uniform = withheld = 0
    smallest = None
    for _, members in frame.groupby(["date_of_birth", "sex", "ward"]):
        for flag in flags:
            values = set(members[flag])
            if values == {""}:
                withheld += len(members)
                continue
            assert "" not in values, "a flag is withheld for a whole class or not at all"
            uniform += len(values) < 2
            smallest = len(values) if smallest is None else min(smallest, len(values))
    print(f"l-diversity: {uniform} uniform classes; smallest l {smallest}; {withheld} flag values withheld")
    assert uniform == 0 and (smallest or 2) >= 2


def test_family_fingerprints_are_shared_by_at_least_k_families(gw) -> None:
    """family_pseudonym grouped members whose released bands, sexes and districts formed a fingerprint:
    matched to the stores' families it re-identified 44% of an extract. Now a family keeps its link only
    if its composition is shared by k families, so a fingerprint points at k families, never one."""
    _, frame = _built(gw, {"project": "fingerprints", "fields": ["date_of_birth", "sex", "postcode"]})
    linked = frame[frame["family_pseudonym"] != ""]
    prints = Counter(
        tuple(sorted(members[["date_of_birth", "sex", "postcode"]].itertuples(index=False, name=None)))
        for _, members in linked.groupby("family_pseudonym")
    )
    unique = sum(n for n in prints.values() if n < K)
    best_odds = max((1 / n for n in prints.values()), default=0)
    print(
        f"families: {sum(prints.values())} linked, {len(frame) - len(linked)} rows unlinked; "
        f"{unique} with a fingerprint shared by fewer than k; best odds of a match 1 in {1 / best_odds:.0f}"
    )
    assert unique == 0 and best_odds <= 1 / K
    assert len(linked) > 0, "families whose composition is common keep their link"


def test_the_report_states_the_risk_the_file_carries(gw) -> None:
    """The disclosure report gives, per quasi-identifier and per record, the risk measured on the file;
    recomputed here from the downloaded CSV, independently."""
    fields = ["date_of_birth", "sex", "ward"]
    extract_id, frame = _built(gw, {"project": "risk", "fields": fields})
    report = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json()["disclosure"][
        "risk"
    ]
    sizes = frame.groupby(fields)[fields[0]].transform("size")
    assert report["records"] == len(frame) and report["smallest_class"] == int(sizes.min()) >= K
    assert report["max_reidentification_probability"] == pytest.approx(1 / sizes.min(), abs=1e-4)
    assert report["mean_reidentification_probability"] == pytest.approx(float((1 / sizes).mean()), abs=1e-4)
    for field in fields:
        assert report["columns"][field]["distinct"] == frame[field].nunique()
    print(
        f"risk: smallest class {report['smallest_class']}, max p {report['max_reidentification_probability']}"
    )


def _pseudonyms_to_ids(gw, extract_id: str, project: str) -> tuple[list[str], list[str]]:
    """(pseudonym, index person id) of everyone in the index, from the master key (the test's truth)."""
    report = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json()["disclosure"]
    master = choose_provider(gw.dd, key_file=None, plugin=None, demo=True).master_key()
    key = ProjectKey.derive(
        master, project, report["pseudonyms"]["key_version"], report["pseudonyms"]["kind"]
    )
    engine = sa.create_engine(DataDir(gw.dd).index_url())
    with engine.connect() as conn:
        people = sorted(p for (p,) in conn.execute(sa.select(xref.c.person_id).distinct()))
    engine.dispose()
    return key.many(people), people


def _true_people(gw, extract_id: str, project: str) -> dict[str, str]:
    """pseudonym -> the person's key in the generator's hidden truth, worked out here from the master
    key, the index's records and truth/identity.csv (never from the extract's own bookkeeping)."""
    truth = {
        (r["source"], r["local_id"]): r["person_key"]
        for r in csv.DictReader((gw.dd / "truth" / "identity.csv").open(newline=""))
    }
    engine = sa.create_engine(DataDir(gw.dd).index_url())
    with engine.connect() as conn:
        votes: dict[str, Counter] = {}
        for source, local, person in conn.execute(
            sa.select(xref.c.source, xref.c.local_id, xref.c.person_id)
        ):
            votes.setdefault(person, Counter())[truth.get((source, local))] += 1
    engine.dispose()
    pseudonyms, people = _pseudonyms_to_ids(gw, extract_id, project)
    return {p: votes[i].most_common(1)[0][0] for p, i in zip(pseudonyms, people, strict=True)}


def _join_success(one: pd.DataFrame, two: pd.DataFrame, on: list[str], who_one: dict, who_two: dict) -> float:
    """The attacker's best guess for each row of `one`: a row of `two` with the same values on `on`, drawn
    at random. Returns the expected share of rows of `one` linked to the right person."""
    groups = two.groupby(on)["pseudonym"].apply(list).to_dict()
    total = 0.0
    for key, pseudonym in zip(one[on].itertuples(index=False, name=None), one["pseudonym"], strict=True):
        candidates = groups.get(key if len(on) > 1 else key[0], [])
        person = who_one[pseudonym]
        total += sum(who_two[c] == person for c in candidates) / len(candidates) if candidates else 0
    return total / len(one)


def test_two_projects_extracts_cannot_be_joined_by_content(gw) -> None:
    """Shuffled rows still joined on content: a row whose age band, sex, ward and flags no other row
    shares found the same person in the other project's file. Each whole row is now shared by k."""
    id_one, one = _built(
        gw, {"project": "content-a", "fields": ["date_of_birth", "sex", "ward", "cp_plan", "rent_arrears"]}
    )
    id_two, two = _built(
        gw, {"project": "content-b", "fields": ["date_of_birth", "sex", "ward", "rent_arrears", "sen"]}
    )
    who_one, who_two = _true_people(gw, id_one, "content-a"), _true_people(gw, id_two, "content-b")
    shared = ["date_of_birth", "sex", "ward", "rent_arrears"]
    rate = _join_success(one, two, shared, who_one, who_two)
    whole = one.groupby(list(one.columns.drop(["pseudonym", "family_pseudonym"])))["pseudonym"].transform(
        "size"
    )
    print(
        f"content join across projects: {rate:.1%} of rows linked to the right person (chance <= {1 / K:.0%})"
    )
    assert whole.min() >= K
    assert rate <= 1 / K


def test_extracts_under_two_agreements_cannot_be_joined_by_content(gw) -> None:
    """9,224 of 9,227 rows were linked across AGR-INS-003 and AGR-RES-005 by aligning shared columns."""
    id_one, one = _built(
        gw, {"project": "agree-a", "fields": ["date_of_birth", "sex", "ward", "rent_arrears", "sen"]}
    )
    body = {
        "purpose": "early_help_outcomes_research",
        "project": "agree-b",
        "agreement": "AGR-RES-005",
        "dataset": "person_records",
        "fields": ["date_of_birth", "sex", "ward", "rent_arrears", "sen"],
    }
    id_two, two = _built(gw, body)
    rate = _join_success(
        one,
        two,
        ["sex", "ward", "rent_arrears", "sen"],
        _true_people(gw, id_one, "agree-a"),
        _true_people(gw, id_two, "agree-b"),
    )
    print(
        f"content join across agreements: {rate:.1%} of rows linked to the right person "
        f"(chance <= {1 / K:.0%})"
    )
    assert rate <= 1 / K


def test_linking_a_store_to_the_released_columns_finds_no_one_beyond_chance(gw, linked_borough) -> None:
    """A council officer holds the education store (pupils' dates of birth, sex and postcodes) and the
    extract, and links each pupil to the rows their values are consistent with."""
    fields = ["date_of_birth", "sex", "postcode", "cp_plan", "sen"]
    extract_id, frame = _built(gw, {"project": "linkage", "fields": fields})
    who = _true_people(gw, extract_id, "linkage")
    truth = {
        (r["source"], r["local_id"]): r["person_key"]
        for r in csv.DictReader((linked_borough / "truth" / "identity.csv").open(newline=""))
    }
    engine = sa.create_engine(DataDir(linked_borough).store_urls()["education"])
    with engine.connect() as conn:
        pupils = [
            dict(r._mapping)
            for r in conn.execute(
                sa.text("SELECT pup_pupil_id, pup_dob, pup_sex, pup_postcode FROM edu_pupils")
            )
        ]
    engine.dispose()
    classes = frame.groupby(["date_of_birth", "sex", "postcode"])["pseudonym"].apply(list).to_dict()

    def consistent(cls: tuple[str, str, str], pupil: dict) -> bool:
        born, sex, district = cls
        year = int(str(pupil["pup_dob"])[:4]) if pupil["pup_dob"] else None
        if born not in ("*", "Unknown"):
            low, _, high = born.partition("-")
            if year is None or not int(low) <= year <= int(high or low):
                return False
        if sex not in ("*", "Unknown") and pupil["pup_sex"] and sex[:1] != str(pupil["pup_sex"])[:1]:
            return False
        postcode = (pupil["pup_postcode"] or "").upper()
        return district in ("*", "Unknown") or postcode.split(" ")[0] == district

    in_extract = {p: person for p, person in who.items() if p in set(frame["pseudonym"])}
    people_in = set(in_extract.values())
    targets = [p for p in pupils if truth.get(("education", p["pup_pupil_id"])) in people_in]
    success = unique = 0.0
    for pupil in targets:
        person = truth[("education", pupil["pup_pupil_id"])]
        candidates = [p for cls, ps in classes.items() if consistent(cls, pupil) for p in ps]
        unique += len(candidates) == 1
        success += sum(in_extract.get(c) == person for c in candidates) / len(candidates) if candidates else 0
    rate = success / len(targets)
    print(
        f"store linkage: {len(targets)} pupils in the extract; {int(unique)} matched one row; "
        f"{rate:.1%} expected right (chance <= {1 / K:.0%})"
    )
    assert len(targets) > 500 and unique == 0 and rate <= 1 / K


def test_rare_flags_are_withheld(gw) -> None:
    """A flag fewer than k records carry narrows anyone who knows it (the police know who is on a youth
    offending order) to fewer than k rows. Filtered to one ward, rare flags are withheld whole (the sensitive
    ones are l-diverse as well: see above)."""
    fields = ["date_of_birth", "sex", "ward", "exclusion", "temporary_accommodation", "early_help"]
    extract_id, frame = _built(gw, {"project": "rare", "fields": fields, "filters": {"ward": "Tannery"}})
    report = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json()["disclosure"]
    print(f"rare flags: withheld {report['rare_flags']['withheld']}; whole rows: {report['whole_rows']}")
    kept = 0
    for flag in fields[3:]:
        counts = Counter(v for v in frame[flag] if v != "")
        print(f"rare flags: {flag} {dict(counts)}")
        assert not counts or min(counts.values()) >= K, (flag, counts)
        assert flag not in report["rare_flags"]["withheld"] or not counts
        kept += bool(counts)
    assert report["rare_flags"]["withheld"], "exclusions are rare in one ward"
    assert kept, "common flags are still released"


@pytest.fixture()
def own_borough(linked_borough: Path, tmp_path: Path) -> Path:
    """A copy of the linked borough and of the policies, for a test that changes stores or agreements."""
    root = tmp_path / "borough"
    shutil.copytree(linked_borough, root, ignore=shutil.ignore_patterns("extracts", "audit*", "*.jsonl"))
    shutil.copytree(Settings().policies_dir, tmp_path / "policies")
    return root


def test_checks_run_again_when_a_person_becomes_protected_after_the_build(own_borough: Path) -> None:
    """Rotation and re-identification re-run the protected-people check: someone marked not to be
    located after the build drops out of the rotation mapping, and their identity is not revealed."""
    with TestClient(
        create_app(Settings(data_dir=own_borough, policies_dir=own_borough.parent / "policies"))
    ) as gw:
        gw.dd = own_borough  # type: ignore[attr-defined]
        extract_id, frame = _built(gw, {"project": "later-protected", "fields": ["sex", "ward"]})
        who = {
            p: person
            for p, person in zip(*_pseudonyms_to_ids(gw, extract_id, "later-protected"), strict=True)
        }
        engine = sa.create_engine(DataDir(own_borough).index_url())
        with engine.connect() as conn:
            csc = dict(
                conn.execute(
                    sa.select(xref.c.person_id, xref.c.local_id).where(
                        xref.c.source == "childrens_social_care"
                    )
                ).all()
            )
        engine.dispose()
        pseudonym = next(p for p in frame["pseudonym"] if who[p] in csc)
        store = sa.create_engine(DataDir(own_borough).store_urls()["childrens_social_care"])
        with store.begin() as conn:
            conn.execute(
                sa.text("UPDATE ssd_person SET pers_restricted = 'Y' WHERE pers_person_id = :p"),
                {"p": csc[who[pseudonym]]},
            )
        store.dispose()
        gw.app.state.services.extract_store.rotate("later-protected")
        mapping = pd.read_csv(
            io.StringIO(
                gw.get(f"/v1/extracts/{extract_id}/rotation", headers=bearer(own_borough, "an.priya")).text
            )
        )
        assert pseudonym not in set(mapping["old_pseudonym"]) and len(mapping) == len(frame) - 1
        asked = gw.post(
            "/v1/reidentifications",
            json={"project": "later-protected", "pseudonym": pseudonym, "reason": "x" * 30},
            headers=bearer(own_borough, "an.priya"),
        )
        assert asked.status_code == 202, asked.text
        reid = asked.json()["reidentification_id"]
        refused = gw.post(f"/v1/reidentifications/{reid}/approve", headers=bearer(own_borough, "ra.one"))
        assert refused.status_code == 403 and refused.json()["error"] == "protected_person", refused.text


def test_an_agreement_that_releases_protected_people_needs_the_approver_to_acknowledge_it(
    own_borough: Path,
) -> None:
    policies = own_borough.parent / "policies"
    agreement = next((policies / "agreements").glob("AGR-INS-003*.yaml"))
    text = agreement.read_text()
    assert "disclosure:" in text
    agreement.write_text(text.replace("disclosure:", "disclosure:\n  include_protected: true", 1))
    with TestClient(create_app(Settings(data_dir=own_borough, policies_dir=policies))) as gw:
        asked = gw.post(
            "/v1/extracts",
            json={**BASE, "project": "refuge", "fields": ["sex", "ward"]},
            headers=bearer(own_borough, "an.priya"),
        )
        assert asked.status_code == 202, asked.text
        extract_id = asked.json()["extract_id"]
        status = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(own_borough, "ig.olu")).json()
        assert [w["code"] for w in status["warnings"]] == ["protected_people"]
        assert "not to be located" in status["warnings"][0]["text"]
        blind = gw.post(f"/v1/extracts/{extract_id}/approve", headers=bearer(own_borough, "ig.olu"))
        assert blind.status_code == 409 and blind.json()["error"] == "acknowledgement_needed"
        assert "not to be located" in blind.json()["detail"]
        read = gw.post(
            f"/v1/extracts/{extract_id}/approve",
            json={"acknowledge": ["protected_people"]},
            headers=bearer(own_borough, "ig.olu"),
        )
        assert read.status_code == 202, read.text
        events = gw.get(
            "/v1/audit/events", params={"limit": 20}, headers=bearer(own_borough, "ig.olu")
        ).json()["events"]
        approval = next(e for e in events if e["id"] == read.headers["x-audit-id"])
        assert "acknowledged: protected_people" in approval["reason"]
        refused = next(e for e in events if e["id"] == blind.headers["x-audit-id"])
        assert refused["status"] == 409


def test_sensitive_fields_named_in_a_request_are_l_diverse_and_unknown_ones_refused(gw) -> None:
    for bad in (["no_such_field"], ["ward"], ["exclusion"]):  # unknown, a quasi-identifier, not requested
        r = _ask(
            gw,
            {"project": "sens", "fields": ["date_of_birth", "sex", "ward", "rent_arrears"], "sensitive": bad},
        )
        assert r.status_code == 422 and r.json()["error"] == "unknown_sensitive_field", r.text
        assert repr(bad[0]) in r.json()["detail"]
        event = _audited(gw, r)
        assert event["decision"] == "deny" and event["status"] == 422
    fields = ["date_of_birth", "sex", "ward", "rent_arrears"]
    extract_id, frame = _built(gw, {"project": "sens", "fields": fields, "sensitive": ["rent_arrears"]})
    report = gw.get(f"/v1/extracts/{extract_id}", headers=bearer(gw.dd, "an.priya")).json()
    assert report["sensitive"] == ["rent_arrears"]
    assert "rent_arrears" in report["disclosure"]["l_diversity"]["fields"]
    for _, members in frame.groupby(["date_of_birth", "sex", "ward"]):
        values = set(members["rent_arrears"])
        assert values == {""} or len(values) >= 2, values


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"project": "Bad Name"},
            "project: must be 2 to 64 lowercase letters, digits, hyphens or underscores",
        ),
        ({"fields": []}, "fields: needs at least 1"),
        ({"filters": {"ward": {"x": 1}}}, "filters.ward: is not a value this field can take"),
        ({"colour": "red"}, "colour: is not a field of this request"),
    ],
)
def test_a_malformed_request_is_refused_in_words_not_regexes(gw, change, says) -> None:
    r = _ask(gw, {"project": "words", "fields": ["sex"], **change})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert r.json()["detail"].startswith(says), r.json()["detail"]
    assert "^" not in r.json()["detail"] and "should" not in r.json()["detail"]
