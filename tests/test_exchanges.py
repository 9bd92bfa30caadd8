"""Governed partner exchange: the police send notifications under AGR-POL-010. A valid file is matched to
the person index (precision and recall measured against the stores' own records of the same people), a
malformed one is refused line by line and nothing is kept, and the partner never sees a person id.
The truth is each pupil's index person, read with plain SQL."""

from __future__ import annotations

import csv
import io
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.config import Settings, _default_policies_dir
from tests.conftest import bearer

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
def client(linked_borough: Path):
    with TestClient(create_app(Settings(data_dir=linked_borough))) as c:
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


def test_a_valid_file_is_matched_with_measured_precision_and_recall(client, linked_borough) -> None:
    pupils = _pupils(linked_borough, 60)
    rows = [
        ["1.0", f"NB/26/{n:05d}", "2026-03-30", "domestic_abuse", f, s, d, pc or ""]
        for n, (_, f, s, d, pc) in enumerate(pupils)
    ]
    rows += [
        ["1.0", f"NB/26/9{n:04d}", "2026-03-30", "other", f, s, d, ""]
        for n, (f, s, d) in enumerate(STRANGERS)
    ]
    reply = _send(client, linked_borough, "notifications.csv", _csv(rows))
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["rows"] == len(rows)
    assert " P" not in reply.text and '"P' not in reply.text, "no person id goes back to the partner"

    with sqlite3.connect(linked_borough / "gateway.db") as con:
        truth = dict(
            con.execute("SELECT local_id, person_id FROM index_xref WHERE source = 'education'").fetchall()
        )
        stored = dict(
            con.execute(
                "SELECT row_number, person_id FROM exchange_records WHERE exchange_id = ?",
                (body["exchange_id"],),
            ).fetchall()
        )
    found = {n: stored[n] for n in stored if stored[n]}
    correct = sum(1 for n, (local, *_rest) in enumerate(pupils, start=1) if found.get(n) == truth[local])
    precision = correct / max(1, len(found))
    recall = correct / len(pupils)
    print(f"partner file: precision {precision:.3f}, recall {recall:.3f} over {len(pupils)} pupils")
    assert precision >= 0.99 and recall >= 0.85
    assert all(stored[len(pupils) + k + 1] is None for k in range(len(STRANGERS))), "strangers match nobody"
    assert body["matched"] == len(found)

    olu = bearer(linked_borough, "ig.olu")
    event = next(
        e
        for e in client.get("/v1/audit/events", params={"actor": "pt.police"}, headers=olu).json()["events"]
        if e["id"] == reply.headers["x-audit-id"]
    )
    assert event["action"] == "exchanges.upload" and event["agreement_id"] == "AGR-POL-010"
    assert set(event["subject_ids"]) == set(found.values()), "their access reports will list the file"
    mine = client.get(f"/v1/exchanges/{body['exchange_id']}", headers=bearer(linked_borough, "pt.police"))
    assert mine.status_code == 200 and mine.json()["matched"] == body["matched"]
    assert client.get(f"/v1/exchanges/{body['exchange_id']}", headers=olu).status_code == 200
    assert (
        client.get(
            f"/v1/exchanges/{body['exchange_id']}", headers=bearer(linked_borough, "cw.alice")
        ).status_code
        == 404
    )


def test_a_malformed_file_is_refused_line_by_line_and_nothing_is_kept(client, linked_borough) -> None:
    before = _count(linked_borough)
    pupils = _pupils(linked_borough, 3)
    rows = [
        ["1.0", f"NB/26/{n:05d}", "2026-03-30", "domestic_abuse", f, s, d, ""]
        for n, (_, f, s, d, _pc) in enumerate(pupils)
    ]
    rows[1][2] = "2026-13-30"  # line 3
    rows[2][0] = "2.0"  # line 4: another schema version
    rows[2][4] = ""
    reply = _send(client, linked_borough, "bad.csv", _csv(rows))
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
    refused_xml = _send(client, linked_borough, "bad.xml", xml, "application/xml")
    assert refused_xml.status_code == 422 and refused_xml.json()["errors"][0]["line"] == 3
    wrong_version = _send(
        client, linked_borough, "n.json", b'{"schema_version": "0.9", "records": []}', "application/json"
    )
    assert wrong_version.status_code == 422 and "schema_version" in wrong_version.text
    assert _send(client, linked_borough, "n.pdf", b"%PDF-1.7", "application/pdf").status_code == 415
    too_big = _send(client, linked_borough, "n.csv", b"x" * (9 * 1024 * 1024))
    assert too_big.status_code == 413
    assert _send(client, linked_borough, "n.csv", _csv([]), user="cw.alice").status_code == 403
    assert _count(linked_borough) == before, "nothing partial kept"
    events = client.get(
        "/v1/audit/events",
        params={"actor": "pt.police", "decision": "deny"},
        headers=bearer(linked_borough, "ig.olu"),
    ).json()["events"]
    assert {e["status"] for e in events} >= {422, 415, 413}, "refusals are audited"


def test_a_valid_xml_file_is_received_and_the_schemas_are_published(client, linked_borough) -> None:
    (_, first, last, dob, _pc) = _pupils(linked_borough, 1)[0]
    xml = (
        '<?xml version="1.0"?>\n'
        '<notifications xmlns="urn:northbridge:gateway:exchange:police_notifications" schema_version="1.0">\n'
        f"<notification><reference>NB/26/7</reference><incident_date>2026-03-30</incident_date>"
        f"<category>missing_child</category><forename>{first}</forename><surname>{last}</surname>"
        f"<date_of_birth>{dob}</date_of_birth></notification>\n</notifications>\n"
    ).encode()
    reply = _send(client, linked_borough, "n.xml", xml, "application/xml")
    assert reply.status_code == 202 and reply.json()["rows"] == 1, reply.text
    police = bearer(linked_borough, "pt.police")
    listed = client.get("/v1/exchanges/schemas", headers=police).json()["schemas"]
    assert listed[0]["name"] == "police_notifications" and listed[0]["version"] == "1.0"
    assert (
        client.get("/v1/exchanges/schemas/police_notifications", headers=police).json()["x-schema-version"]
        == "1.0"
    )
    assert (
        b"xs:schema" in client.get("/v1/exchanges/schemas/police_notifications.xsd", headers=police).content
    )


def test_a_file_for_an_agreement_that_has_ended_is_refused(linked_borough: Path, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(_default_policies_dir(), policies)
    path = next((policies / "agreements").glob("AGR-POL-010-*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["end"], data["review"] = "2025-12-31", "2025-06-30"
    path.write_text(yaml.safe_dump(data))
    with TestClient(create_app(Settings(data_dir=linked_borough, policies_dir=policies))) as client:
        reply = _send(
            client,
            linked_borough,
            "n.csv",
            _csv([["1.0", "NB/26/1", "2026-03-30", "other", "Ann", "Lee", "2015-02-03", ""]]),
        )
    assert reply.status_code == 403 and "ended on 2025-12-31" in reply.json()["detail"]


def test_a_hostile_xml_file_reads_no_local_file_and_echoes_no_value(client, linked_borough, tmp_path) -> None:
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
    before = _count(linked_borough)
    reply = _send(client, linked_borough, "n.xml", xxe, "application/xml")
    assert reply.status_code in (202, 422), reply.text
    assert "TOP-SECRET-CONTENTS" not in reply.text
    assert _count(linked_borough) == before + (1 if reply.status_code == 202 else 0)
    with sqlite3.connect(linked_borough / "gateway.db") as con:
        stored = " ".join(r[0] for r in con.execute("SELECT record_json FROM exchange_records"))
    assert "TOP-SECRET-CONTENTS" not in stored

    wrong_name = _csv(
        [["1.0", "NB/26/2", "2026-03-30", "other", "Zara" * 30, "Mistyped-Surname", "2015-02-31", ""]]
    )
    refused = _send(client, linked_borough, "n.csv", wrong_name)
    assert refused.status_code == 422
    assert "ZaraZara" not in refused.text and "2015-02-31" not in refused.text
    assert {(e["line"], e["field"]) for e in refused.json()["errors"]} == {
        (2, "forename"),
        (2, "date_of_birth"),
    }
