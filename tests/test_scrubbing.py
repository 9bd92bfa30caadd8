"""Free-text scrubbing on the generator's own case notes, which record every identifier they plant."""

from __future__ import annotations

import csv
import socket
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.datadir import DataDir
from gateway.extracts.sources import NOTE_TABLES, read_names
from gateway.privacy.scrubbing import Scrubber, known_names
from gateway.stores.engines import store_engine
from gateway.stores.schema import store_metadata


@pytest.fixture(scope="module")
def offline(request: pytest.FixtureRequest):
    """Any attempt to open a network connection fails the test (models, suffix lists...)."""
    mp = pytest.MonkeyPatch()

    def refuse(*_a, **_k):
        raise AssertionError("scrubbing tried to reach the network")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def scrubber(borough: Path, offline) -> Scrubber:
    deny = read_names(DataDir(borough)).deny
    s = Scrubber(deny)
    s.find("warm up")  # builds the analyzer while the network is refused
    return s


def _notes(borough: Path) -> dict[tuple[str, str], str]:
    urls = DataDir(borough).store_urls()
    notes = {}
    for store, table, _person, _date, _kind, text in NOTE_TABLES:
        t = store_metadata(store).tables[table]
        engine = store_engine(urls[store])
        with engine.connect() as conn:
            notes.update(
                {
                    (store, r[0]): r[1]
                    for r in conn.execute(select(t.c[t.primary_key.columns.keys()[0]], t.c[text]))
                }
            )
        engine.dispose()
    return notes


def test_recall_of_planted_identifiers_is_at_least_99_percent(borough: Path, scrubber: Scrubber) -> None:
    notes = _notes(borough)
    with (borough / "truth" / "case_note_identifiers.csv").open(newline="") as fh:
        planted = list(csv.DictReader(fh))
    assert len(notes) > 1000 and len(planted) > 4000
    scrubbed = {key: scrubber.scrub(text) for key, text in notes.items()}
    caught: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for p in planted:
        key = (p["source"], p["note_id"])
        start, end = int(p["start"]), int(p["end"])
        assert notes[key][start:end] == p["value"]
        covered = set()
        for _entity, a, b in scrubbed[key].found:
            covered.update(range(a, b))
        hit = all(i in covered or notes[key][i] in " ,.-" for i in range(start, end))
        hit = hit and p["value"] not in scrubbed[key].text
        total[p["kind"]] += 1
        caught[p["kind"]] += hit
    recall = {kind: caught[kind] / total[kind] for kind in total}
    print("scrubbing recall by kind:", {k: round(v, 4) for k, v in recall.items()})
    assert sum(caught.values()) / sum(total.values()) >= 0.99
    for kind in ("name", "nhs_number", "phone", "address"):
        assert recall[kind] >= 0.99, (kind, recall[kind])


def test_pattern_recognizers_validate_and_type_their_placeholders(scrubber: Scrubber) -> None:
    text = (
        "NI number AB123456C, NHS 943 476 5919 (not 943 476 5918), email jo.bloggs@example.co.uk, "
        "call 07700 900123 or 020 7946 0001, pupil A210123412345, "
        "moved to 14 Mill Road NB3 2XY on 03/02/2024."
    )
    out = scrubber.scrub(text).text
    for placeholder in (
        "<UK_NINO>",
        "<UK_NHS>",
        "<EMAIL_ADDRESS>",
        "<PHONE_NUMBER>",
        "<ADDRESS>",
        "<UK_POSTCODE>",
    ):
        assert placeholder in out, (placeholder, out)
    for leaked in ("AB123456C", "943 476 5919", "jo.bloggs", "07700 900123", "14 Mill Road", "NB3 2XY"):
        assert leaked not in out
    assert "943 476 5918" in out or "<PHONE_NUMBER>" in out  # a bad check digit is no NHS number


def test_a_known_person_becomes_their_pseudonym(scrubber: Scrubber) -> None:
    known = known_names([("r1_abc", ["Basem Quadir"]), ("r1_def", ["Anamika Quadir"])])
    out = scrubber.scrub(
        "Visited Basem Quadir; Anamika at school; QUADIR, Basem seen. Mum Lorraine phoned.", known
    )
    assert "<PERSON:r1_abc>" in out.text and "<PERSON:r1_def>" in out.text
    assert "Quadir" not in out.text and "Lorraine" not in out.text
    assert out.text.count("<PERSON:r1_abc>") == 2
