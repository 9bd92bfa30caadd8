"""Governed partner exchange: the police send notifications under AGR-POL-010. A valid file is matched to
the person index (precision and recall measured against the stores' own records of the same people), a
malformed one is refused line by line and nothing is kept, and the partner never sees a person id.
The truth is each pupil's index person, read with plain SQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings, _default_policies_dir
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import sign_token
from gateway.web.session import COOKIE
from tests.caseload_truth import csc_details
from tests.conftest import bearer
from tests.test_web_pages import ALICE

FIELDS = [
    "schema_version",
    "reference",
    "incident_date",
    "category",
    "forename",
    "surname",
    "date_of_birth",
    "postcode",
]
STRANGERS = [("Zebedee", "Quuxworth", "2014-01-01"), ("Ottoline", "Vexmoor", "2016-05-05")]


@pytest.fixture(scope="module")
def borough(linked_borough: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own copy of the linked borough: what the police send here becomes flags, which
    other modules' tests (sharing the session's borough) must not see."""
    root = tmp_path_factory.mktemp("exchanges") / "borough"
    shutil.copytree(linked_borough, root)
    return root


@pytest.fixture(scope="module")
def client(borough: Path):
    with TestClient(create_app(Settings(data_dir=borough))) as c:
        yield c


def _pupils(root: Path, n: int) -> list[tuple[str, str, str, str, str | None]]:
    with sqlite3.connect(root / "stores" / "education.db") as con:
        rows = con.execute(
            "SELECT pup_pupil_id, pup_forename, pup_surname, pup_dob, pup_postcode FROM edu_pupils "
            "WHERE pup_forename IS NOT NULL AND pup_surname IS NOT NULL AND pup_dob IS NOT NULL "
            "ORDER BY pup_pupil_id LIMIT ?",
            (n,),
        ).fetchall()
    return [(str(a), b, c, d, e) for a, b, c, d, e in rows]


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FIELDS)
    writer.writerows(rows)
    return buf.getvalue().encode()


def _matched_rows(root: Path, exchange_id: str) -> dict[int, str | None]:
    """Row number -> the index person the gateway matched it to (None: no match), read with plain SQL."""
    with sqlite3.connect(root / "gateway.db") as con:
        return dict(
            con.execute(
                "SELECT row_number, person_id FROM exchange_records WHERE exchange_id = ?", (exchange_id,)
            )
        )


def _count(root: Path) -> int:
    with sqlite3.connect(root / "gateway.db") as con:
        return con.execute("SELECT COUNT(*) FROM exchange_records").fetchone()[0]


def _send(
    client: TestClient, root: Path, name: str, data: bytes, kind: str = "text/csv", user: str = "pt.police"
):
    return client.post(
        "/v1/exchanges",
        files={"file": (name, data, kind)},
        data={"agreement": "AGR-POL-010"},
        headers=bearer(root, user),
    )


def test_a_valid_file_is_matched_with_measured_precision_and_recall(client, borough) -> None:
    pupils = _pupils(borough, 60)
    rows = [
        ["1.0", f"NB/26/{n:05d}", "2026-03-30", "domestic_abuse", f, s, d, pc or ""]
        for n, (_, f, s, d, pc) in enumerate(pupils)
    ]
    rows += [
        ["1.0", f"NB/26/9{n:04d}", "2026-03-30", "other", f, s, d, ""]
        for n, (f, s, d) in enumerate(STRANGERS)
    ]
    reply = _send(client, borough, "notifications.csv", _csv(rows))
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["rows"] == len(rows)
    assert " P" not in reply.text and '"P' not in reply.text, "no person id goes back to the partner"

    with sqlite3.connect(borough / "gateway.db") as con:
        truth = dict(
            con.execute("SELECT local_id, person_id FROM index_xref WHERE source = 'education'").fetchall()
        )
    stored = _matched_rows(borough, body["exchange_id"])
    found = {n: stored[n] for n in stored if stored[n]}
    correct = sum(1 for n, (local, *_rest) in enumerate(pupils, start=1) if found.get(n) == truth[local])
    precision = correct / max(1, len(found))
    recall = correct / len(pupils)
    print(f"partner file: precision {precision:.3f}, recall {recall:.3f} over {len(pupils)} pupils")
    assert precision >= 0.99 and recall >= 0.85
    assert all(stored[len(pupils) + k + 1] is None for k in range(len(STRANGERS))), "strangers match nobody"
    assert body["matched"] == len(found)

    olu = bearer(borough, "ig.olu")
    event = next(
        e
        for e in client.get("/v1/audit/events", params={"actor": "pt.police"}, headers=olu).json()["events"]
        if e["id"] == reply.headers["x-audit-id"]
    )
    assert event["action"] == "exchanges.upload" and event["agreement_id"] == "AGR-POL-010"
    assert set(event["subject_ids"]) == set(found.values()), "their access reports will list the file"
    mine = client.get(f"/v1/exchanges/{body['exchange_id']}", headers=bearer(borough, "pt.police"))
    assert mine.status_code == 200 and mine.json()["matched"] == body["matched"]
    assert client.get(f"/v1/exchanges/{body['exchange_id']}", headers=olu).status_code == 200
    assert (
        client.get(f"/v1/exchanges/{body['exchange_id']}", headers=bearer(borough, "cw.alice")).status_code
        == 404
    )


def test_a_malformed_file_is_refused_line_by_line_and_nothing_is_kept(client, borough) -> None:
    before = _count(borough)
    pupils = _pupils(borough, 3)
    rows = [
        ["1.0", f"NB/26/{n:05d}", "2026-03-30", "domestic_abuse", f, s, d, ""]
        for n, (_, f, s, d, _pc) in enumerate(pupils)
    ]
    rows[1][2] = "2026-13-30"  # line 3
    rows[2][0] = "2.0"  # line 4: another schema version
    rows[2][4] = ""
    reply = _send(client, borough, "bad.csv", _csv(rows))
    assert reply.status_code == 422, reply.text
    errors = {(e["line"], e["field"]) for e in reply.json()["errors"]}
    assert {(3, "incident_date"), (4, "schema_version"), (4, "forename")} <= errors
    assert reply.json()["schema"] == "/v1/exchanges/schemas/police_notifications"

    xml = (
        b'<?xml version="1.0"?>\n'
        b'<notifications xmlns="urn:northbridge:gateway:exchange:police_notifications" '
        b'schema_version="1.0">\n'
        b"<notification><reference>NB/26/1</reference><incident_date>2026-03-30</incident_date>"
        b"<category>other</category><forename>Ann</forename><surname>Lee</surname>"
        b"<date_of_birth>2015-02-30</date_of_birth></notification>\n</notifications>\n"
    )
    refused_xml = _send(client, borough, "bad.xml", xml, "application/xml")
    assert refused_xml.status_code == 422 and refused_xml.json()["errors"][0]["line"] == 3
    wrong_version = _send(
        client, borough, "n.json", b'{"schema_version": "0.9", "records": []}', "application/json"
    )
    assert wrong_version.status_code == 422 and "schema_version" in wrong_version.text
    assert _send(client, borough, "n.pdf", b"%PDF-1.7", "application/pdf").status_code == 415
    too_big = _send(client, borough, "n.csv", b"x" * (9 * 1024 * 1024))
    assert too_big.status_code == 413
    assert _send(client, borough, "n.csv", _csv([]), user="cw.alice").status_code == 403
    assert _count(borough) == before, "nothing partial kept"
    events = client.get(
        "/v1/audit/events",
        params={"actor": "pt.police", "decision": "deny"},
        headers=bearer(borough, "ig.olu"),
    ).json()["events"]
    assert {e["status"] for e in events} >= {422, 415, 413}, "refusals are audited"


def test_a_valid_xml_file_is_received_and_the_schemas_are_published(client, borough) -> None:
    (_, first, last, dob, _pc) = _pupils(borough, 1)[0]
    xml = (
        '<?xml version="1.0"?>\n'
        '<notifications xmlns="urn:northbridge:gateway:exchange:police_notifications" schema_version="1.0">\n'
        f"<notification><reference>NB/26/7</reference><incident_date>2026-03-30</incident_date>"
        f"<category>missing_child</category><forename>{first}</forename><surname>{last}</surname>"
        f"<date_of_birth>{dob}</date_of_birth></notification>\n</notifications>\n"
    ).encode()
    reply = _send(client, borough, "n.xml", xml, "application/xml")
    assert reply.status_code == 202 and reply.json()["rows"] == 1, reply.text
    police = bearer(borough, "pt.police")
    listed = client.get("/v1/exchanges/schemas", headers=police).json()["schemas"]
    assert listed[0]["name"] == "police_notifications" and listed[0]["version"] == "1.0"
    assert (
        client.get("/v1/exchanges/schemas/police_notifications", headers=police).json()["x-schema-version"]
        == "1.0"
    )
    assert (
        b"xs:schema" in client.get("/v1/exchanges/schemas/police_notifications.xsd", headers=police).content
    )


def test_a_file_for_an_agreement_that_has_ended_is_refused(borough: Path, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(_default_policies_dir(), policies)
    path = next((policies / "agreements").glob("AGR-POL-010-*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["end"], data["review"] = "2025-12-31", "2025-06-30"
    path.write_text(yaml.safe_dump(data))
    with TestClient(create_app(Settings(data_dir=borough, policies_dir=policies))) as client:
        reply = _send(
            client,
            borough,
            "n.csv",
            _csv([["1.0", "NB/26/1", "2026-03-30", "other", "Ann", "Lee", "2015-02-03", ""]]),
        )
    assert reply.status_code == 403 and "ended on 2025-12-31" in reply.json()["detail"]


def test_a_hostile_xml_file_reads_no_local_file_and_echoes_no_value(client, borough, tmp_path) -> None:
    """XML external entities are not resolved, and errors never repeat the offending value (a name or
    a date of birth sent by mistake stays out of the reply)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENTS")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY e SYSTEM "file://{secret}">]>\n'
        '<notifications xmlns="urn:northbridge:gateway:exchange:police_notifications" schema_version="1.0">\n'
        "<notification><reference>NB/26/1</reference><incident_date>2026-03-30</incident_date>"
        "<category>other</category><forename>&e;</forename><surname>Lee</surname>"
        "<date_of_birth>2015-02-03</date_of_birth></notification>\n</notifications>\n"
    ).encode()
    before = _count(borough)
    reply = _send(client, borough, "n.xml", xxe, "application/xml")
    assert reply.status_code in (202, 422), reply.text
    assert "TOP-SECRET-CONTENTS" not in reply.text
    assert _count(borough) == before + (1 if reply.status_code == 202 else 0)
    with sqlite3.connect(borough / "gateway.db") as con:
        stored = " ".join(r[0] for r in con.execute("SELECT record_json FROM exchange_records"))
    assert "TOP-SECRET-CONTENTS" not in stored

    wrong_name = _csv(
        [["1.0", "NB/26/2", "2026-03-30", "other", "Zara" * 30, "Mistyped-Surname", "2015-02-31", ""]]
    )
    refused = _send(client, borough, "n.csv", wrong_name)
    assert refused.status_code == 422
    assert "ZaraZara" not in refused.text and "2015-02-31" not in refused.text
    assert {(e["line"], e["field"]) for e in refused.json()["errors"]} == {
        (2, "forename"),
        (2, "date_of_birth"),
    }


def test_a_partners_file_becomes_a_flag_only_where_an_agreement_makes_it_a_provider(client, borough) -> None:
    """AGR-CSC-001 makes the police a provider of one flag (category and date) to children's social care:
    the child the file names shows it, the latest notification of the last 12 months only; a housing
    officer, under an agreement without the police, sees none."""
    as_of = dt.date.fromisoformat(DataDir(borough).read_manifest()["as_of"])
    alice = bearer(borough, "cw.alice")
    caseload = client.get("/v1/caseload", headers=alice).json()
    with sqlite3.connect(borough / "stores" / "childrens_social_care.db") as con:
        restricted = {
            r[0] for r in con.execute("SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'")
        }
    with sqlite3.connect(borough / "gateway.db") as con:
        csc = dict(
            con.execute("SELECT person_id, local_id FROM index_xref WHERE source = 'childrens_social_care'")
        )
    candidates = [
        p["person_id"]
        for p in caseload
        if p["relationship"] == "allocated"
        and p["person_id"] in csc
        and csc[p["person_id"]] not in restricted
        and all(csc_details(borough, p["person_id"])[:3])
    ][:10]
    recent, older, stale = (as_of - dt.timedelta(days=d) for d in (3, 40, 400))
    later = as_of + dt.timedelta(days=5)

    def row(ref: str, day: dt.date, category: str, person: str) -> list[str]:
        return ["1.0", ref, day.isoformat(), category, *csc_details(borough, person)]

    # A first file names ten children; those the index matches to themselves (read back with SQL, the
    # match's recall is measured elsewhere) are the ones whose flags are checked.
    first = _send(
        client,
        borough,
        "notifications.csv",
        _csv([row(f"NB/26/7{n:04d}", older, "missing_child", p) for n, p in enumerate(candidates)]),
    )
    assert first.status_code == 202, first.text
    found = _matched_rows(borough, first.json()["exchange_id"])
    children = [p for n, p in enumerate(candidates, start=1) if found.get(n) == p][:3]
    assert len(children) == 3, "cw.alice's children are found in the index by their own details"
    second = _send(
        client,
        borough,
        "more.csv",
        _csv(
            [
                row("NB/26/80000", recent, "domestic_abuse", children[0]),
                row("NB/26/80001", stale, "exploitation_concern", children[1]),
                row("NB/26/80002", later, "other", children[2]),
            ]
        ),
    )
    assert second.status_code == 202 and second.json()["matched"] == 3, second.text
    # The truth, from the file: each child's latest notification dated within 365 days up to as_of.
    expected = {
        children[0]: ("domestic_abuse", recent),  # the newer of two
        children[1]: ("missing_child", older),  # the 400-day-old one no longer counts
        children[2]: ("missing_child", older),  # one dated after as_of is not yet known
    }
    for person, (category, since) in expected.items():
        reply = client.get(
            f"/v1/persons/{person}/flags", params={"purpose": "child_in_need_assessment"}, headers=alice
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        police = [f for f in body["flags"] if f["service"] == "police"]
        assert police == [
            {
                "service": "police",
                "flag": "police_notification",
                "value": category,
                "since": since.isoformat(),
                "contact": None,
            }
        ]
        assert body["services"]["police"] == "ok" and "AGR-CSC-001" in body["agreements"]
        assert "NB/26" not in reply.text, "the reference the police sent is not a field the flag releases"
        event = client.get(
            "/v1/audit/events", params={"actor": "cw.alice"}, headers=bearer(borough, "ig.olu")
        ).json()["events"][0]
        assert event["id"] == reply.headers["x-audit-id"]
        assert {
            "exchanges.police_notifications.category",
            "exchanges.police_notifications.incident_date",
        } <= set(event["fields_released"])

    # The family page says it in words, beside the other services.
    family = next(p["family_id"] for p in caseload if p["person_id"] == children[0])
    client.cookies.set(COOKIE, sign_token(borough, ALICE))
    try:
        page = client.get(f"/ui/families/{family}", params={"purpose": "child_in_need_assessment"})
    finally:
        client.cookies.clear()
    assert page.status_code == 200, page.text
    assert (
        "police notification</strong>: domestic abuse" in page.text
        and "<strong>Police notifications (partner):</strong>" in page.text
    )

    # Someone no file the police sent (in any test here) names: known to no partner.
    with sqlite3.connect(borough / "gateway.db") as con:
        named = {
            r[0] for r in con.execute("SELECT person_id FROM exchange_records WHERE person_id IS NOT NULL")
        }
    others = [p["person_id"] for p in caseload if p["person_id"] not in named]
    quiet = client.get(
        f"/v1/persons/{others[0]}/flags", params={"purpose": "child_in_need_assessment"}, headers=alice
    ).json()
    assert quiet["services"]["police"] == "not_known" and not [
        f for f in quiet["flags"] if f["service"] == "police"
    ]

    # A housing officer's agreement (AGR-HSG-007) has no police flag: not permitted, whoever they ask about.
    hana = bearer(borough, "hs.hana")
    tenants = [
        p["person_id"]
        for p in client.get("/v1/caseload", headers=hana).json()
        if p["relationship"] == "allocated"
    ]
    tenants = [t for t in tenants if all(_tenant(borough, t)[:3])][:5]  # a partner sends full details
    rows = [
        ["1.0", f"NB/26/9{n:04d}", recent.isoformat(), "domestic_abuse", *_tenant(borough, t)]
        for n, t in enumerate(tenants)
    ]
    told = _send(client, borough, "tenants.csv", _csv(rows))
    assert told.status_code == 202, told.text
    named = _matched_rows(borough, told.json()["exchange_id"])
    tenant = next(t for n, t in enumerate(tenants, start=1) if named.get(n) == t)  # the police named them
    seen = client.get(
        f"/v1/persons/{tenant}/flags", params={"purpose": "tenancy_sustainment"}, headers=hana
    ).json()
    assert seen["services"]["police"] == "not_permitted"
    assert not [f for f in seen["flags"] if f["service"] == "police"]


def _tenant(root: Path, person_id: str) -> list[str]:
    with sqlite3.connect(root / "gateway.db") as con:
        local = con.execute(
            "SELECT local_id FROM index_xref WHERE source = 'housing' AND person_id = ?", (person_id,)
        ).fetchone()[0]
    with sqlite3.connect(root / "stores" / "housing.db") as con:
        row = con.execute(
            "SELECT tp_forename, tp_surname, tp_dob, COALESCE(tp_postcode, '') FROM hsg_tenancy_persons "
            "WHERE tp_person_ref = ?",
            (local,),
        ).fetchone()
    return ["" if x is None else str(x) for x in row]
