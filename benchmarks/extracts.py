"""De-identified extracts: pseudonymisation speed, a 100k-row extract, free-text scrubbing rate.

1. Pseudonymise 1M ids with a project key (`ProjectKey.many`, one-way) against a bare HMAC loop in the
   same run: `hmac.new(key, id, sha256).hexdigest()` (what one would write by hand) and the faster
   one-shot `hmac.digest`. Goal (issue 8): at most 1.2x the bare loop. Reversible (AES-SIV) is
   timed too, for information.
2. A 100k-row extract: 100k person records shaped like `person_records` (dates of birth, sex,
   postcodes, wards, flags) go through the build's transforms (generalise and k-anonymise,
   pseudonymise, write Parquet and CSV); the baseline writes the same raw rows to the same two files.
   Then the whole HTTP workflow (request, approve, background build from the stores, download) on a
   seeded and linked borough of `--people` residents.
3. Free-text scrubbing: the seeded borough's case notes through the scrubber (presidio on a blank
   spaCy pipeline, pattern recognizers, the deny list and the name lexicon), as notes per second; the
   baseline is the blank spaCy tokenizer alone over the same notes. Then recall and precision per
   kind of identifier on notes the project did not write (`tests/held_out_notes.py`, goal: recall
   >= 0.99, precision >= 0.95), with the rules alone and with an NER model trained in the same run.

    python benchmarks/extracts.py [--ids 1000000] [--rows 100000] [--people 20000] [--held-out-notes 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import spacy
from fastapi.testclient import TestClient

from gateway.analysis.schema import SERVICE_FLAGS
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.departments import store_metadata
from gateway.extracts.build import write_extract
from gateway.extracts.sources import NOTE_TABLES, read_names
from gateway.identity.dev_issuer import sign_token
from gateway.identity.users import load_demo_users
from gateway.index.build import build_index
from gateway.privacy.generalise import hierarchy_for
from gateway.privacy.kanonymity import QuasiIdentifier, k_anonymise
from gateway.privacy.pseudonyms import ONE_WAY, REVERSIBLE, ProjectKey
from gateway.privacy.scrubbing import Scrubber
from gateway.seed import seed
from gateway.stores.engines import store_engine
from gateway.synth.ner_training import train_notes_ner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.held_out_notes import held_out_notes, score

RESULTS = Path(__file__).parent / "results" / "extracts.json"
MASTER = bytes(range(32))


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def pseudonymisation(n: int) -> dict:
    ids = [f"P{i:012d}" for i in range(n)]
    key = ProjectKey.derive(MASTER, "bench", 1, ONE_WAY)
    raw = key.key
    ours = _best(lambda: key.many(ids))
    hexdigest = _best(lambda: [hmac.new(raw, i.encode(), hashlib.sha256).hexdigest() for i in ids])
    digest = _best(lambda: [hmac.digest(raw, i.encode(), "sha256") for i in ids])
    siv = ProjectKey.derive(MASTER, "bench", 1, REVERSIBLE)
    reversible = _best(lambda: siv.many(ids[: n // 10]), repeat=1) * 10
    out = {
        "ids": n,
        "one_way_s": round(ours, 3),
        "bare_hmac_new_hexdigest_s": round(hexdigest, 3),
        "bare_hmac_digest_s": round(digest, 3),
        "ratio_vs_hmac_new": round(ours / hexdigest, 3),
        "ratio_vs_hmac_digest": round(ours / digest, 3),
        "reversible_aes_siv_s": round(reversible, 3),
        "goal": "one-way <= 1.2x the bare hmac loop",
    }
    print(
        f"pseudonymise {n:,} ids: {ours:.2f} s; bare hmac.new loop {hexdigest:.2f} s "
        f"({out['ratio_vs_hmac_new']}x); bare hmac.digest {digest:.2f} s ({out['ratio_vs_hmac_digest']}x); "
        f"reversible AES-SIV {reversible:.2f} s"
    )
    return out


def _records(n: int) -> list[dict]:
    rnd = random.Random(8)
    out = []
    for i in range(n):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(30_000))
        row = {
            "person_id": f"P{i:012d}",
            "family_id": f"F{i // 3:012d}",
            "date_of_birth": born,
            "sex": rnd.choice("FM"),
            "postcode": f"NB{rnd.randrange(1, 13)} {rnd.randrange(10)}"
            f"{rnd.choice('ABDEFGHJ')}{rnd.choice('LNPQRSTU')}",
            "ward": f"Ward {rnd.randrange(18)}",
        }
        row.update({f: rnd.random() < 0.1 for f in SERVICE_FLAGS})
        out.append(row)
    return out


def hundred_thousand_rows(n: int) -> dict:
    rows = _records(n)
    fields = ["date_of_birth", "sex", "postcode", "ward", *SERVICE_FLAGS]
    tmp = Path(tempfile.mkdtemp(prefix="extract-bench-"))

    def baseline() -> None:
        table = pa.Table.from_pylist([{f: r[f] for f in fields} for r in rows])
        pq.write_table(table, tmp / "raw.parquet")
        pacsv.write_csv(table, tmp / "raw.csv")

    def gateway() -> dict:
        qis = []
        for f, kind, start in (
            ("date_of_birth", "date_of_birth", "year"),
            ("sex", "category", "value"),
            ("postcode", "postcode", "district"),
            ("ward", "category", "value"),
        ):
            h, i = hierarchy_for(kind, start)
            qis.append(QuasiIdentifier(f, h, i))
        result = k_anonymise(rows, qis, k=5, subject="person_id", on=dt.date(2026, 3, 31))
        key = ProjectKey.derive(MASTER, "bench", 1, REVERSIBLE)
        kept = [rows[i] for i in result.kept]
        pseudonyms = key.many([r["person_id"] for r in kept])
        out = []
        for r, values, p in zip(kept, result.values, pseudonyms, strict=True):
            out.append({"pseudonym": p, **{f: values.get(f, r[f]) for f in fields}})
        write_extract(tmp / "extract", out, list(out[0]), result.report)
        return result.report

    raw = _best(baseline)
    report: dict = {}
    ours = _best(lambda: report.update(gateway()))
    out = {
        "rows": n,
        "raw_write_s": round(raw, 3),
        "extract_transforms_s": round(ours, 3),
        "ratio": round(ours / raw, 2),
        "k_achieved": report["k_achieved"],
        "records_suppressed": report["records_suppressed"],
        "levels": report["quasi_identifiers"],
    }
    print(
        f"{n:,}-row extract (k-anonymise, AES-SIV pseudonyms, Parquet+CSV): {ours:.2f} s vs writing the raw "
        f"rows {raw:.2f} s ({out['ratio']}x); k achieved {out['k_achieved']}, "
        f"suppressed {out['records_suppressed']}"
    )
    return out


def workflow(root: Path, people: int) -> dict:
    dd = DataDir(root)
    t = time.perf_counter()
    seed(root, people=people)
    build_index(dd)
    prepared = time.perf_counter() - t
    users = load_demo_users(Path(__file__).resolve().parents[1] / "policies")
    analyst = {"Authorization": f"Bearer {sign_token(root, users.get('an.priya'))}"}
    ig = {"Authorization": f"Bearer {sign_token(root, users.get('ig.olu'))}"}
    body = {
        "purpose": "supporting_families_evaluation",
        "project": "bench",
        "agreement": "AGR-INS-003",
        "dataset": "person_records",
        "fields": ["date_of_birth", "sex", "postcode", "ward", "cp_plan", "rent_arrears", "sen"],
    }
    with TestClient(create_app(Settings(data_dir=root))) as client:
        t = time.perf_counter()
        extract_id = client.post("/v1/extracts", json=body, headers=analyst).json()["extract_id"]
        client.post(f"/v1/extracts/{extract_id}/approve", headers=ig)
        while (status := client.get(f"/v1/extracts/{extract_id}", headers=analyst).json())["status"] in {
            "approved",
            "building",
        }:
            time.sleep(0.1)
        data = client.get(f"/v1/extracts/{extract_id}/data?format=parquet", headers=analyst)
        elapsed = time.perf_counter() - t
    assert status["status"] == "ready", status
    out = {"people": people, "rows": status["rows"], "seconds": round(elapsed, 2), "bytes": len(data.content)}
    print(
        f"HTTP workflow on a {people:,}-resident borough (seed+link {prepared:.0f} s, not counted): "
        f"{status['rows']:,} rows from request to download in {elapsed:.2f} s"
    )
    return out


def scrubbing(root: Path, held_out: int, model_notes: int) -> dict:
    """Speed on the seeded notes; recall and precision per kind on notes the project did not write
    (`tests/held_out_notes.py`), with the rules alone and with a freshly trained NER model."""
    dd = DataDir(root)
    deny = read_names(dd).deny
    notes: list[str] = []
    urls = dd.store_urls()
    for store, table, _p, _d, _k, text in NOTE_TABLES:
        t = store_metadata(store).tables[table]
        engine = store_engine(urls[store])
        with engine.connect() as conn:
            notes.extend(r[0] for r in conn.execute(t.select().with_only_columns(t.c[text])))
        engine.dispose()
    scrubber = Scrubber(deny)
    scrubber.find("warm up")
    nlp = spacy.blank("en")
    base = _best(lambda: [nlp(n) for n in notes])
    ours = _best(lambda: [scrubber.scrub(n) for n in notes])
    out: dict = {
        "notes": len(notes),
        "deny_list_entries": len(deny),
        "notes_per_second": round(len(notes) / ours, 1),
        "tokenizer_only_notes_per_second": round(len(notes) / base, 1),
        "ratio_vs_tokenizer": round(ours / base, 1),
    }
    print(
        f"scrubbing: {out['notes_per_second']:,} notes/s ({len(notes):,} notes, "
        f"{len(deny):,} deny-list entries); "
        f"the blank spaCy tokenizer alone: {out['tokenizer_only_notes_per_second']:,} notes/s"
    )
    written = held_out_notes(dd, n=held_out, seed=4242)
    t = time.perf_counter()
    trained = train_notes_ner(root / "models" / "notes-ner", notes=model_notes, epochs=8)
    out["ner_training_seconds"] = round(time.perf_counter() - t, 1)
    for label, s in (("rules", scrubber), ("rules_and_ner", Scrubber(deny, model=trained.path))):
        results = [s.scrub(n.text) for n in written]
        sc = score(written, [r.found for r in results], [r.text for r in results])
        out[f"held_out_{label}"] = {
            "notes": len(written),
            "identifiers": sum(sc.planted.values()),
            "recall": round(sc.overall_recall, 4),
            "precision": round(sc.precision, 4),
            "recall_by_kind": {k: round(v, 4) for k, v in sc.recall.items()},
            "precision_by_entity": {e: round(v, 4) for e, v in sc.precision_by_entity.items()},
            "planted_by_kind": sc.planted,
            "false_positives": sc.false_positives[:20],
        }
        print(
            f"held-out notes ({label}): recall {sc.overall_recall:.4f}, precision {sc.precision:.4f} "
            f"over {sum(sc.planted.values()):,} identifiers in {len(written)} notes"
        )
        for kind, recall in sc.recall.items():
            print(f"    recall    {kind:20s} {recall:.3f} of {sc.planted[kind]}")
        for entity, precision in sc.precision_by_entity.items():
            print(f"    precision {entity:20s} {precision:.3f} of {sc.spans_by_entity[entity]} spans")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--held-out-notes", type=int, default=1000)
    parser.add_argument("--model-notes", type=int, default=3000, help="notes to train the NER model on")
    args = parser.parse_args()
    results = {
        "pseudonymisation": pseudonymisation(args.ids),
        "extract_100k": hundred_thousand_rows(args.rows),
    }
    with tempfile.TemporaryDirectory(prefix="extract-bench-borough-") as tmp:
        results["workflow"] = workflow(Path(tmp), args.people)
        results["scrubbing"] = scrubbing(Path(tmp), args.held_out_notes, args.model_notes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
