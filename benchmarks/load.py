"""Load and faults: two gateway processes on PostgreSQL under a mix of the three users' requests.

Set-up: a synthetic borough seeded into PostgreSQL databases, its person index linked into PostgreSQL,
the audit store in PostgreSQL. The housing store and the audit store are reached through TCP hops the
run can take down. Two `gateway serve` processes share everything.

The mix: caseworker flags, family context and caseload (60%), analyst tables (25%), IG audit searches
(15%). Levels of 1, 16 and 64 concurrent clients, each bounded in requests and seconds; then a fault
phase at 16 clients: the housing store is stopped and restarted, then the audit store is unavailable
for a moment. Then an analyst flood: 48 concurrent heavy tables from one analyst token while four
caseworkers look up flags, against the same caseworkers alone (caseworker p95 and p99 under the flood,
as ratios), twice: the flood sent to the two processes that serve the caseworkers, then to a third
process that serves only analysts at lower CPU priority (`gateway serve --nice 10`, as a proxy would
route `/v1/aggregates` to an analyst replica: docs/performance.md); and the audit witness made
unwritable for two seconds, during which no answer may carry data (fail closed). Everything stays on
loopback.

Prints requests/s, p50/p99 and counts by outcome for each phase, then checks that the audit log holds
exactly one event per answered request (every `X-Audit-Id` once, and nothing else) and that the chain
verifies. Ratios: throughput and p50 at 16 and 64 clients against the same mix at one client, in the
same run. Exit status 1 if an audit event is lost or a 5xx other than the deliberate 503s appears.

    python benchmarks/load.py [--people 5000] [--requests 400] [--seconds 30]
        [--out benchmarks/results/load.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = os.environ.get("GATEWAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOAL_THROUGHPUT_16 = 1.5  # two processes on the machine's cores: at least 1.5x one client's throughput
# Caseworker p99 under an analyst flood, at most this many times their p99 alone: no starvation (before
# the per-role limits, flag look-ups timed out after ~110 s, ~1000x). What remains is sharing the two
# cores with the analysts' admitted tables (DuckDB runs each query on every core).
GOAL_FLOOD_P99 = 10.0
FLOOD_CLIENTS = 48
# Issue 24: caseworker p95 under the flood at most twice their p95 alone. Measured both ways: the flood on
# the caseworkers' own processes (tables on their own lower-priority threads), and sent to an analyst
# replica at lower CPU priority.
GOAL_FLOOD_P95 = 2.0
ANALYST_NICE = 10
FLOOD_CLIENT_NICE = 10  # the flood's clients stand in for analysts' own machines (see _flood_elsewhere)


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    audit_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, kind: str, audit_id: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.kinds[kind] += 1
            if audit_id:
                self.audit_ids.append(audit_id)


def _kind(response: httpx.Response) -> str:
    if response.status_code == 503:
        try:
            return f"503 {response.json().get('error')}"
        except ValueError:
            return "503 unparsed"
    if response.status_code >= 500:
        return f"{response.status_code} server error"
    if response.status_code >= 400:
        return f"{response.status_code}"
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if not isinstance(body, dict):
        return "200"
    states = [body.get("services")] + [
        m.get("services") for m in body.get("members", []) if isinstance(m, dict)
    ]
    if any(isinstance(s, dict) and "unavailable" in s.values() for s in states):
        return "200 with a service unavailable"
    return "200"


class Mix:
    """One request of the three users' mix, chosen at random (seeded per client)."""

    def __init__(
        self, urls: list[str], tokens: dict[str, dict[str, str]], people: list[str], families: list[str]
    ):
        self.urls, self.tokens, self.people, self.families = urls, tokens, people, families

    def send(self, client: httpx.Client, rng: random.Random, outcome: Outcome) -> None:
        base = rng.choice(self.urls)
        pick = rng.random()
        purpose = {"purpose": "child_protection_enquiry"}
        if pick < 0.40:
            args: tuple = (
                "GET",
                f"{base}/v1/persons/{rng.choice(self.people)}/flags",
                "cw.alice",
                purpose,
                None,
            )
        elif pick < 0.52:
            args = (
                "GET",
                f"{base}/v1/families/{rng.choice(self.families)}/context",
                "cw.alice",
                purpose,
                None,
            )
        elif pick < 0.60:
            args = ("GET", f"{base}/v1/caseload", "cw.alice", None, None)
        elif pick < 0.85:
            group = rng.choice([["ward"], ["age_band", "sex"], ["ward", "rent_arrears"]])
            body = {"purpose": "service_planning", "dataset": "persons", "group_by": group}
            args = ("POST", f"{base}/v1/aggregates", "an.priya", None, body)
        else:
            args = ("GET", f"{base}/v1/audit/events", "ig.olu", {"limit": 50}, None)
        method, url, user, params, body = args
        started = time.perf_counter()
        try:
            response = client.request(method, url, headers=self.tokens[user], params=params, json=body)
        except httpx.HTTPError as exc:
            outcome.record(time.perf_counter() - started, f"connection error {type(exc).__name__}", None)
            return
        outcome.record(time.perf_counter() - started, _kind(response), response.headers.get("x-audit-id"))


def run_phase(mix: Mix, clients: int, requests: int, seconds: float, faults: Any = None) -> dict[str, Any]:
    outcome = Outcome()
    deadline = time.perf_counter() + seconds
    remaining = [requests]
    counter = threading.Lock()

    def worker(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(timeout=60) as client:
            while time.perf_counter() < deadline:
                with counter:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                mix.send(client, rng, outcome)

    started = time.perf_counter()
    fault_thread = threading.Thread(target=faults, daemon=True) if faults else None
    if fault_thread:
        fault_thread.start()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - started
    if fault_thread:
        fault_thread.join()
    lat = sorted(outcome.latencies)
    return {
        "clients": clients,
        "requests": len(lat),
        "seconds": round(wall, 2),
        "requests_per_second": round(len(lat) / wall, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p95_ms": round(lat[max(0, int(len(lat) * 0.95) - 1)] * 1000, 1),
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)] * 1000, 1),
        "outcomes": dict(outcome.kinds),
        "_audit_ids": outcome.audit_ids,
    }


class CaseworkerOnly(Mix):
    """Flag look-ups only: what the flood must not starve."""

    def send(self, client: httpx.Client, rng: random.Random, outcome: Outcome) -> None:
        url = f"{rng.choice(self.urls)}/v1/persons/{rng.choice(self.people)}/flags"
        started = time.perf_counter()
        try:
            response = client.get(
                url, headers=self.tokens["cw.alice"], params={"purpose": "child_protection_enquiry"}
            )
        except httpx.HTTPError as exc:
            outcome.record(time.perf_counter() - started, f"connection error {type(exc).__name__}", None)
            return
        outcome.record(time.perf_counter() - started, _kind(response), response.headers.get("x-audit-id"))


def flood(mix: Mix, seconds: float, to: list[str] | None = None) -> dict[str, Any]:
    """One analyst token sending FLOOD_CLIENTS heavy tables at once, for `seconds`, to the processes at
    `to` (the caseworkers' own by default); caseworkers measured meanwhile by the caller. Returns the
    analyst's outcomes (mostly 429 once their allowance is held)."""
    targets = to or mix.urls
    outcome = Outcome()
    deadline = time.perf_counter() + seconds
    body = {"purpose": "service_planning", "dataset": "persons", "group_by": ["ward", "age_band", "sex"]}

    def analyst(k: int) -> None:
        with httpx.Client(timeout=180) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    r = client.post(
                        f"{targets[k % len(targets)]}/v1/aggregates",
                        headers=mix.tokens["an.priya"],
                        json=body,
                    )
                except httpx.HTTPError as exc:
                    outcome.record(
                        time.perf_counter() - started, f"connection error {type(exc).__name__}", None
                    )
                    continue
                outcome.record(time.perf_counter() - started, _kind(r), r.headers.get("x-audit-id"))
                if r.status_code == 429:
                    time.sleep(min(1.0, float(r.headers.get("retry-after", "1")) / 4))

    with ThreadPoolExecutor(FLOOD_CLIENTS) as pool:
        list(pool.map(analyst, range(FLOOD_CLIENTS)))
    return {
        "requests": len(outcome.latencies),
        "outcomes": dict(outcome.kinds),
        "_audit_ids": outcome.audit_ids,
    }


def _flood_elsewhere(mix: Mix, seconds: float, to: list[str] | None) -> Future:
    """The flood's clients in a process of their own: 48 client threads in the measuring process would
    make the caseworkers' clients wait for its GIL, and that wait would be counted as the gateway's.
    The process runs at lower CPU priority because an analyst's script runs on their own machine, not
    on the gateway's: here it shares the two cores, and its own CPU is not the gateway's cost. The
    same for both floods."""
    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=os.nice, initargs=(FLOOD_CLIENT_NICE,)
    )
    future = pool.submit(flood, mix, seconds, to)
    pool.shutdown(wait=False)
    return future


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=400, help="per level (x4 at 16 and 64 clients)")
    parser.add_argument("--seconds", type=float, default=30.0, help="upper bound per level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--flood-seconds", type=float, default=10.0, help="caseworkers measured for this long"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/load.json")
    args = parser.parse_args()

    from sqlalchemy import create_engine, func, select
    from sqlalchemy.engine import make_url

    from audit import schema as audit_schema
    from audit.signing import CheckpointKey
    from audit.store import UNDELIVERED_REASON
    from audit.verify import verify_chain
    from gateway.config import _default_policies_dir
    from gateway.datadir import DataDir
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users
    from gateway.migrations import runner as migrations
    from gateway.seed import seed
    from gateway.stores.postgres import drop_database, normalise
    from gateway.testing.faults import TcpHop

    prefix = f"gwload_{uuid.uuid4().hex[:8]}_"
    base = PG.rsplit("/", 1)[0]
    made: list[str] = []
    procs: list[subprocess.Popen] = []
    hops: list[TcpHop] = []
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        try:
            print(f"seeding {args.people:,} residents into PostgreSQL ({prefix}*) and linking", flush=True)
            result = seed(root, people=args.people, dsn_prefix=f"{base}/{prefix}")
            made += list(result.urls.values())
            dd = DataDir(root)
            manifest = dd.read_manifest()
            pg = make_url(PG)
            housing_hop = TcpHop((pg.host or "127.0.0.1", pg.port or 5432))
            audit_hop = TcpHop((pg.host or "127.0.0.1", pg.port or 5432))
            hops += [housing_hop, audit_hop]
            housing = make_url(manifest["stores"]["housing"])
            manifest["stores"]["housing"] = housing.set(port=housing_hop.port).render_as_string(
                hide_password=False
            )
            dd.write_manifest(manifest)
            index_url, audit_url = f"{base}/{prefix}gateway", f"{base}/{prefix}audit"
            made += [index_url, audit_url]
            subprocess.run(
                [sys.executable, "-m", "gateway.cli", "link", "--data-dir", d, "--index-url", index_url],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            migrations.upgrade(audit_url, "audit")
            hopped_audit = make_url(audit_url).set(port=audit_hop.port).render_as_string(hide_password=False)
            key = CheckpointKey.load_or_create(root / "keys" / "audit-checkpoint.pem")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OTEL_"))}
            # The witness on storage of its own (a directory the run can take away and bring back).
            witness_dir = root / "witness"
            anchor = witness_dir / "anchor.jsonl"
            env |= {
                "GATEWAY_AUDIT_URL": hopped_audit,
                "OTEL_TRACES_EXPORTER": "none",
                "GATEWAY_AUDIT_ANCHOR_FILE": str(anchor),
            }
            urls = []
            # Two processes serve everyone; the third serves only the second flood, as an analyst
            # replica at lower CPU priority.
            for i in range(3):
                port = _port()
                log = (root / f"gateway-{i}.log").open("w")
                cmd = [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", d, "--port", str(port)]
                if i == 2:
                    cmd += ["--nice", str(ANALYST_NICE)]
                procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
                urls.append(f"http://127.0.0.1:{port}")
            for url, proc in zip(urls, procs, strict=True):
                deadline = time.time() + 120
                while True:
                    try:
                        if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None or time.time() > deadline:
                        logs = "\n".join(f.read_text()[-3000:] for f in sorted(root.glob("gateway-*.log")))
                        raise SystemExit(f"gateway at {url} did not start:\n{logs}")
                    time.sleep(0.3)
            users = load_demo_users(_default_policies_dir())
            tokens = {
                u: {"Authorization": f"Bearer {sign_token(root, users.get(u), ttl=7200)}"}
                for u in ("cw.alice", "an.priya", "ig.olu")
            }
            setup_ids = []
            caseload = httpx.get(f"{urls[0]}/v1/caseload", headers=tokens["cw.alice"], timeout=60)
            setup_ids.append(caseload.headers["x-audit-id"])
            people = [c["person_id"] for c in caseload.json()]
            families = sorted({c["family_id"] for c in caseload.json()})
            urls, analyst_replica = urls[:2], urls[2:]
            mix = Mix(urls, tokens, people, families)

            phases: dict[str, dict[str, Any]] = {}
            warm = run_phase(mix, 4, 100, args.seconds)
            for clients in args.levels:
                n = args.requests if clients == 1 else args.requests * 4
                phases[str(clients)] = run_phase(mix, clients, n, args.seconds)
                p = phases[str(clients)]
                print(
                    f"{clients:>3} clients: {p['requests']:>5} requests {p['requests_per_second']:7.1f}/s "
                    f"p50 {p['p50_ms']:7.1f} ms p99 {p['p99_ms']:7.1f} ms  {p['outcomes']}",
                    flush=True,
                )

            fault_log: list[str] = []

            def faults() -> None:
                t0 = time.perf_counter()

                def at(seconds: float, what: str, action: Any) -> None:
                    time.sleep(max(0.0, seconds - (time.perf_counter() - t0)))
                    action()
                    fault_log.append(f"{time.perf_counter() - t0:5.2f}s {what}")

                at(1.0, "housing store stopped", housing_hop.stop)
                at(3.0, "housing store restarted", housing_hop.start)
                at(4.5, "audit store unavailable", audit_hop.stop)
                at(5.5, "audit store back", audit_hop.start)

            phases["faults"] = run_phase(mix, 16, 100_000, 8.0, faults)
            p = phases["faults"]
            print(
                f"faults (16 clients, 8 s): {p['requests']} requests {p['requests_per_second']:.1f}/s "
                f"p50 {p['p50_ms']} ms p99 {p['p99_ms']} ms  {p['outcomes']}",
                flush=True,
            )
            for line in fault_log:
                print("   ", line)

            # Caseworkers alone, then the same caseworkers under one analyst's flood of heavy tables.
            caseworkers = CaseworkerOnly(urls, tokens, people, families)
            phases["caseworkers_alone"] = run_phase(caseworkers, 4, 100_000, args.flood_seconds)
            flooding = _flood_elsewhere(mix, args.flood_seconds + 4, None)
            time.sleep(2.0)  # the flood is under way before caseworkers are measured
            phases["caseworkers_under_flood"] = run_phase(caseworkers, 4, 100_000, args.flood_seconds)
            flooded: dict[str, Any] = flooding.result()
            phases["analyst_flood"] = {"clients": FLOOD_CLIENTS, **flooded}
            alone, under = phases["caseworkers_alone"], phases["caseworkers_under_flood"]
            print(
                f"caseworker p95/p99 alone {alone['p95_ms']}/{alone['p99_ms']} ms, under a "
                f"{FLOOD_CLIENTS}-client analyst flood on their own processes {under['p95_ms']}/"
                f"{under['p99_ms']} ms ({under['outcomes']}); analyst: {flooded.get('outcomes')}",
                flush=True,
            )
            # The same flood sent to the analyst replica instead.
            flooding = _flood_elsewhere(mix, args.flood_seconds + 4, analyst_replica)
            time.sleep(2.0)
            phases["caseworkers_under_split_flood"] = run_phase(caseworkers, 4, 100_000, args.flood_seconds)
            split: dict[str, Any] = flooding.result()
            phases["analyst_split_flood"] = {"clients": FLOOD_CLIENTS, **split}
            under = phases["caseworkers_under_split_flood"]
            print(
                f"caseworker p95/p99 under the same flood sent to an analyst replica at nice "
                f"{ANALYST_NICE}: {under['p95_ms']}/{under['p99_ms']} ms ({under['outcomes']}); "
                f"analyst: {split.get('outcomes')}",
                flush=True,
            )

            # The witness unwritable: every answer in the window must be a refusal (fail closed). Its
            # directory is taken away and brought back (atomic: nothing is written in between).
            away = root / "witness.away"

            during: Counter = Counter()

            def witness_outage() -> None:
                time.sleep(0.5)
                witness_dir.rename(away)
                fault_log.append("witness unwritable")
                time.sleep(0.3)  # requests already past their audit commit finish
                with httpx.Client(timeout=60) as probe:  # every answer inside the outage is judged
                    end = time.perf_counter() + 1.5
                    while time.perf_counter() < end:
                        r = probe.get(
                            f"{urls[len(during) % 2]}/v1/persons/{people[0]}/flags",
                            params={"purpose": "child_protection_enquiry"},
                            headers=tokens["cw.alice"],
                        )
                        during[_kind(r)] += 1
                away.rename(witness_dir)
                fault_log.append("witness back")

            phases["witness_unreachable"] = run_phase(caseworkers, 4, 100_000, 3.5, witness_outage)
            p = phases["witness_unreachable"]
            phases["witness_unreachable"]["inside_the_outage"] = dict(during)
            print(
                f"witness unreachable for 1.8 s (4 caseworkers, 3.5 s): {p['outcomes']}; "
                f"answers inside the outage: {dict(during)}",
                flush=True,
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for hop in hops:
                hop.stop()
            kept = Path(tempfile.gettempdir()) / f"gateway-load-logs-{prefix.rstrip('_')}"
            kept.mkdir(exist_ok=True)
            for log in root.glob("gateway-*.log"):
                shutil.copy(log, kept / log.name)
            print(f"server logs kept in {kept}", flush=True)

        # The audit log against what the clients were told.
        answered = setup_ids + warm["_audit_ids"] + [i for p in phases.values() for i in p["_audit_ids"]]
        engine = create_engine(normalise(audit_url))
        with engine.connect() as conn:
            stored = Counter(r[0] for r in conn.execute(select(audit_schema.events.c.id)))
            total = conn.execute(select(func.count()).select_from(audit_schema.events)).scalar_one()
            # What the log marks as not delivered (the caller got 503 with no audit id) is accounted for:
            # an event kept as a refusal, or a committed event and the notice naming it.
            e = audit_schema.events
            notices = conn.execute(
                select(func.count()).select_from(e).where(e.c.action == "audit.undelivered")
            ).scalar_one()
            rewritten = conn.execute(
                select(func.count()).select_from(e).where(e.c.reason == UNDELIVERED_REASON)
            ).scalar_one()
            undelivered = 2 * notices + rewritten
        verified = verify_chain(engine, key.public, anchor)
        engine.dispose()
        lost = [i for i in answered if stored.get(i) != 1]
        unanswered = total - len(set(answered)) - undelivered
        for url in made:
            drop_database(url)

    one = phases[str(args.levels[0])]
    unexpected = {
        k: v
        for p in phases.values()
        for k, v in p["outcomes"].items()
        if ("server error" in k or k.startswith("503"))
        and not (p in (phases["faults"], phases["witness_unreachable"]) and k.startswith("503"))
    }
    inside = phases["witness_unreachable"]["inside_the_outage"]
    leaked = {k: v for k, v in inside.items() if k.startswith("2")}
    flood_ratio = round(
        phases["caseworkers_under_flood"]["p99_ms"] / max(phases["caseworkers_alone"]["p99_ms"], 0.001), 2
    )
    flood_p95_ratio = round(
        phases["caseworkers_under_flood"]["p95_ms"] / max(phases["caseworkers_alone"]["p95_ms"], 0.001), 2
    )
    split_p95_ratio = round(
        phases["caseworkers_under_split_flood"]["p95_ms"] / max(phases["caseworkers_alone"]["p95_ms"], 0.001),
        2,
    )
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "people": args.people,
        "processes": 2,
        "analyst_replica_nice": ANALYST_NICE,
        "phases": {name: {k: v for k, v in p.items() if k != "_audit_ids"} for name, p in phases.items()},
        "faults": fault_log,
        "audit": {
            "answered_with_audit_id": len(answered),
            "events_stored": total,
            "lost_or_duplicated": len(lost),
            "events_without_an_answer": unanswered,
            "chain_ok": verified.ok,
            "problem": verified.problem,
        },
        "unexpected_errors": unexpected,
        "goal_throughput_ratio_16": GOAL_THROUGHPUT_16,
        "caseworker_p99_alone_ms": phases["caseworkers_alone"]["p99_ms"],
        "caseworker_p99_under_flood_ms": phases["caseworkers_under_flood"]["p99_ms"],
        "caseworker_p99_flood_ratio": flood_ratio,
        "goal_flood_p99_ratio": GOAL_FLOOD_P99,
        "caseworker_p95_alone_ms": phases["caseworkers_alone"]["p95_ms"],
        "caseworker_p95_under_flood_ms": phases["caseworkers_under_flood"]["p95_ms"],
        "caseworker_p95_flood_ratio": flood_p95_ratio,
        "goal_flood_p95_ratio": GOAL_FLOOD_P95,
        "caseworker_p95_under_split_flood_ms": phases["caseworkers_under_split_flood"]["p95_ms"],
        "caseworker_p95_split_flood_ratio": split_p95_ratio,
        "answers_with_data_while_witness_unreachable": sum(leaked.values()),
        "undelivered_events_accounted": undelivered,
    }
    for level in args.levels[1:]:
        p = phases[str(level)]
        results[f"throughput_ratio_{level}_vs_1"] = round(
            p["requests_per_second"] / one["requests_per_second"], 2
        )
        results[f"p50_ratio_{level}_vs_1"] = round(p["p50_ms"] / one["p50_ms"], 2)
    results["headline"] = [
        {
            "name": "load: audit events lost or duplicated",
            "value": len(lost),
            "goal": "== 0",
            "met": not lost and unanswered == 0 and verified.ok,
        },
        {
            "name": "load: unexpected 5xx (outside the deliberate outage)",
            "value": sum(unexpected.values()),
            "goal": "== 0",
            "met": not unexpected,
        },
        {
            "name": f"load: caseworker p99, {FLOOD_CLIENTS}-client analyst flood / alone (no starvation)",
            "value": flood_ratio,
            "goal": f"<= {GOAL_FLOOD_P99}",
            "met": flood_ratio <= GOAL_FLOOD_P99,
        },
        {
            "name": f"load: caseworker p95, {FLOOD_CLIENTS}-client analyst flood on the caseworkers' "
            "processes / alone (issue 24's goal)",
            "value": flood_p95_ratio,
            "goal": f"<= {GOAL_FLOOD_P95}",
            "met": flood_p95_ratio <= GOAL_FLOOD_P95,
        },
        {
            "name": f"load: caseworker p95, the same flood sent to an analyst replica at nice {ANALYST_NICE} "
            "/ alone (issue 24's goal)",
            "value": split_p95_ratio,
            "goal": f"<= {GOAL_FLOOD_P95}",
            "met": split_p95_ratio <= GOAL_FLOOD_P95,
        },
        {
            "name": "load: answers with data while the audit witness is unreachable",
            "value": sum(leaked.values()),
            "goal": "== 0",
            "met": not leaked,
        },
        {
            "name": "load: throughput at 16 clients / 1 client (2 processes; goal set by this benchmark)",
            "value": results.get("throughput_ratio_16_vs_1"),
            "goal": f">= {GOAL_THROUGHPUT_16}",
            "met": (results.get("throughput_ratio_16_vs_1") or 0) >= GOAL_THROUGHPUT_16,
        },
    ]
    print(
        f"audit: {len(answered)} answers carried an audit id, {total} events stored, "
        f"{len(lost)} lost or duplicated, {unanswered} events nobody was told of; chain "
        f"{'verifies' if verified.ok else 'BROKEN: ' + str(verified.problem)}"
    )
    for level in args.levels[1:]:
        print(
            f"{level} clients vs 1: throughput x{results[f'throughput_ratio_{level}_vs_1']}, "
            f"p50 x{results[f'p50_ratio_{level}_vs_1']}"
        )
    print(f"unexpected errors: {unexpected or 'none'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if (not lost and unanswered == 0 and verified.ok and not unexpected and not leaked) else 1


if __name__ == "__main__":
    sys.exit(main())
