"""Audit log throughput and verification time.

Durable appends per second through `AuditStore.append` (hash chaining, chain lock, group commit) from
many concurrent request threads, against a baseline measured in the same run on the same database:
plain INSERTs of the same rows, each committed on its own (durable, unchained), from the same number
of threads. Both on SQLite (the embedded default, WAL, synchronous=FULL) and PostgreSQL when it is
reachable. Ratio goal (issue 5): >= 0.7. Then the time to verify a 1M-event chain.

    python benchmarks/audit_log.py [--events 5000] [--threads 16] [--verify 1000000]
        [--out benchmarks/results/audit.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from audit import schema
from audit.chain import GENESIS, event_hash, to_row
from audit.signing import CheckpointKey
from audit.store import AuditStore, audit_engine, new_event
from audit.verify import verify_chain
from gateway.stores.postgres import create_database, drop_database

PG = os.environ.get("GATEWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
GOAL = 0.7


def _event(i: int) -> dict:
    return new_event(
        actor=f"cw.user{i % 50}",
        roles=["caseworker"],
        action="flags.read",
        resource=f"/v1/persons/P{i}/flags",
        subject_ids=[f"P{i:08d}"],
        purpose="child_protection_enquiry",
        agreement_id="AGR-CSC-001",
        decision="allow",
        reason="ok",
        fields_released=["ra_arrears_band", "ra_arrears_since"],
        rows_released=2,
        status=200,
    )


def chained(url: str, key: CheckpointKey, n: int, threads: int) -> tuple[float, int]:
    store = AuditStore(url, key)
    store.create()
    events = [_event(i) for i in range(n)]
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(store.append, events))
    elapsed = time.perf_counter() - t
    batches = store.batches
    store.close()
    return n / elapsed, batches


def plain(url: str, n: int, threads: int) -> float:
    engine = audit_engine(url) if url.startswith("sqlite") else create_engine(url, pool_size=threads)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS plain_events"))
        conn.execute(text("CREATE TABLE plain_events AS SELECT * FROM audit_events WHERE 1 = 0"))
    table = schema.events.to_metadata(schema.MetaData(), name="plain_events")
    rows = []
    for i in range(n):
        ev = {**_event(i), "seq": i + 1, "prev_hash": GENESIS, "hash": "0" * 64}
        rows.append(to_row(ev))

    def one(row: dict) -> None:
        with engine.begin() as conn:
            conn.execute(insert(table).values(**row))

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, rows))
    elapsed = time.perf_counter() - t
    engine.dispose()
    return n / elapsed


def verify_million(n: int, key: CheckpointKey, folder: Path) -> dict:
    url = f"sqlite:///{folder}/million.db"
    store = AuditStore(url, key)
    store.create()
    prev, rows = GENESIS, []
    t = time.perf_counter()
    with store.engine.begin() as conn:
        for i in range(1, n + 1):
            ev = {**_event(i), "seq": i, "prev_hash": prev, "id": str(uuid.UUID(int=i))}
            ev["hash"] = prev = event_hash(ev)
            rows.append(to_row(ev))
            if len(rows) == 50_000:
                conn.execute(insert(schema.events), rows)
                rows = []
        if rows:
            conn.execute(insert(schema.events), rows)
    build = time.perf_counter() - t
    store.checkpoint()
    t = time.perf_counter()
    result = verify_chain(store.engine, key.public)
    seconds = time.perf_counter() - t
    assert result.ok and result.entries == n
    store.engine.dispose()
    return {
        "events": n,
        "verify_seconds": round(seconds, 1),
        "events_per_second": round(n / seconds),
        "build_seconds": round(build, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--verify", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/audit.json"))
    args = parser.parse_args()
    results: dict = {
        "events": args.events,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "goal_ratio": GOAL,
    }
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        key = CheckpointKey.load_or_create(folder / "key.pem")
        targets = {"sqlite": f"sqlite:///{folder}/audit.db"}
        pg_url = f"{PG}/gw_bench_audit_{uuid.uuid4().hex[:8]}"
        try:
            create_database(pg_url)
            targets["postgresql"] = pg_url
        except Exception as exc:
            print(f"PostgreSQL not reachable, skipping it: {str(exc).splitlines()[0]}")
        try:
            for name, url in targets.items():
                rate, batches = chained(url, key, args.events, args.threads)
                base = plain(url, args.events, args.threads)
                results[name] = {
                    "chained_group_commit_per_second": round(rate),
                    "events_per_transaction": round(args.events / batches, 1),
                    "plain_insert_per_second": round(base),
                    "ratio": round(rate / base, 2),
                }
                print(
                    f"{name:<10} chained + group commit {rate:>8,.0f}/s "
                    f"({args.events / batches:.1f} events per transaction) | plain INSERT, one commit each "
                    f"{base:>8,.0f}/s | ratio {rate / base:.2f} "
                    f"(goal >= {GOAL})",
                    flush=True,
                )
        finally:
            if "postgresql" in targets:
                drop_database(pg_url)
        if args.verify:
            results["verify"] = verify_million(args.verify, key, folder)
            v = results["verify"]
            print(f"verify {v['events']:,} events: {v['verify_seconds']} s ({v['events_per_second']:,}/s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
