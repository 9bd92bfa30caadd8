"""Where a flags request's time goes, step by step, read from the gateway's own OpenTelemetry spans.

Seeds a borough, links it, and sends the caseworker's flags requests through the application in this
process (no network), recording every span in memory. Prints the median duration of each step (the
server span, `decide`, `fetch`, `audit`) and of what is left outside them, each also as a ratio of
`fetch`: the flag SQL, the one part the bare route does too. Run it before and after a change to see
which step moved (`docs/performance.md` keeps the figures).

With `--write-ahead` the access event is committed while the flags are fetched (`audit_write_ahead`);
`--commit-latency-ms N` adds N ms of waiting to every audit commit, as a remote PostgreSQL or a
synchronous standby would. `--compare-write-ahead` runs both settings, without and with that latency,
alternating in rounds on one borough, and prints each one's request time against the default's.

    python benchmarks/flags_steps.py [--people 10000] [--requests 300] [--trace-sql] [--write-ahead]
        [--commit-latency-ms 0] [--compare-write-ahead] [--rounds 3]
        [--out benchmarks/results/flags_steps.json, or flags_write_ahead.json when comparing]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.progress import track
from sqlalchemy import event

from gateway.api.app import create_app
from gateway.config import Settings, _default_policies_dir
from gateway.datadir import DataDir
from gateway.identity.dev_issuer import sign_token
from gateway.identity.users import load_demo_users
from gateway.index.build import build_index
from gateway.seed import seed
from gateway.telemetry.tracing import provider

PURPOSE = "child_protection_enquiry"
STEPS = ("decide", "fetch", "audit")
DEFAULT_OUT = Path("benchmarks/results/flags_steps.json")
WRITE_AHEAD_OUT = Path("benchmarks/results/flags_write_ahead.json")


_EXPORTER: InMemorySpanExporter | None = None


def _exporter() -> InMemorySpanExporter:
    """One in-memory exporter for the process: the tracer provider is global, so a second would make
    every span twice."""
    global _EXPORTER
    if _EXPORTER is None:
        _EXPORTER = InMemorySpanExporter()
        provider().add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return _EXPORTER


def measure(
    root: Path, requests: int, trace_sql: bool, write_ahead: bool = False, commit_latency_ms: float = 0.0
) -> dict[str, float]:
    exporter = _exporter()
    alice = load_demo_users(_default_policies_dir()).get("cw.alice")
    headers = {"Authorization": f"Bearer {sign_token(root, alice)}"}
    settings = Settings(data_dir=root, trace_sql=trace_sql, audit_write_ahead=write_ahead)
    with TestClient(create_app(settings)) as client:
        if commit_latency_ms:
            wait = commit_latency_ms / 1000
            event.listen(client.app.state.services.audit.engine, "commit", lambda _conn: time.sleep(wait))
        people = [p["person_id"] for p in client.get("/v1/caseload", headers=headers).json()]
        for i in range(50):  # warm caches and connections
            client.get(
                f"/v1/persons/{people[i % len(people)]}/flags", params={"purpose": PURPOSE}, headers=headers
            )
        exporter.clear()
        for i in track(range(requests), description="flags requests"):
            client.get(
                f"/v1/persons/{people[i % len(people)]}/flags", params={"purpose": PURPOSE}, headers=headers
            )
    by_trace: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for span in exporter.get_finished_spans():
        name = "request" if span.parent is None else span.name
        if name in ("request", *STEPS):
            by_trace[span.context.trace_id][name] += (span.end_time - span.start_time) / 1e6
    rows = [t for t in by_trace.values() if "request" in t and "fetch" in t]
    out = {name: round(statistics.median(t.get(name, 0.0) for t in rows), 3) for name in ("request", *STEPS)}
    out["outside_steps"] = round(
        statistics.median(t["request"] - sum(t.get(s, 0.0) for s in STEPS) for t in rows), 3
    )
    out["requests"] = len(rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--trace-sql", action="store_true", help="with a span per SQL statement")
    parser.add_argument("--write-ahead", action="store_true", help="commit the access while fetching")
    parser.add_argument("--commit-latency-ms", type=float, default=0.0, help="added wait per audit commit")
    parser.add_argument(
        "--compare-write-ahead", action="store_true", help="both settings, with and without the latency"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds for --compare-write-ahead")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"({WRITE_AHEAD_OUT} when comparing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        seed(root, people=args.people)
        build_index(DataDir(root))
        if args.compare_write_ahead:
            compare_write_ahead(root, args)
            return
        steps = measure(root, args.requests, args.trace_sql, args.write_ahead, args.commit_latency_ms)
    fetch = steps["fetch"] or 1e-9
    print(f"median ms per flags request ({steps['requests']} requests, {args.people:,} residents):")
    for name in ("request", *STEPS, "outside_steps"):
        print(f"  {name:<14} {steps[name]:8.3f} ms   x{steps[name] / fetch:5.2f} of fetch")
    result = {
        "people": args.people,
        "trace_sql": args.trace_sql,
        "write_ahead": args.write_ahead,
        "commit_latency_ms": args.commit_latency_ms,
        "median_ms": steps,
        "ratio_to_fetch": {k: round(v / fetch, 2) for k, v in steps.items() if k != "requests"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


def compare_write_ahead(root: Path, args: argparse.Namespace) -> None:
    """Request time with the access committed after the fetch (the default) and while it runs, at no
    added commit latency and at `--commit-latency-ms` (3 ms unless given), in alternating rounds."""
    latency = args.commit_latency_ms or 3.0
    configs = [(ahead, lat) for lat in (0.0, latency) for ahead in (False, True)]
    rounds: dict[tuple[bool, float], list[dict[str, float]]] = defaultdict(list)
    for _ in range(args.rounds):
        for ahead, lat in configs:
            rounds[(ahead, lat)].append(measure(root, args.requests, args.trace_sql, ahead, lat))
    by_latency: dict[str, dict[str, Any]] = {}
    print(f"median ms per flags request, median of {args.rounds} rounds ({args.people:,} residents):")
    for lat in (0.0, latency):
        row: dict[str, Any] = {}
        for ahead, name in ((False, "after"), (True, "ahead")):
            runs = rounds[(ahead, lat)]
            m = {k: round(statistics.median(r[k] for r in runs), 3) for k in ("request", *STEPS)}
            row[name] = m
            row[f"{name}_request_spread"] = [min(r["request"] for r in runs), max(r["request"] for r in runs)]
            print(
                f"  +{lat:.0f} ms commit, {name:<5}: request {m['request']:7.3f}  fetch {m['fetch']:7.3f}  "
                f"audit {m['audit']:7.3f}"
            )
        row["ahead_over_after"] = round(row["ahead"]["request"] / row["after"]["request"], 2)
        print(f"  +{lat:.0f} ms commit: write-ahead / after = x{row['ahead_over_after']:.2f}")
        by_latency[str(lat)] = row
    headline = [
        {
            "name": f"flags request written ahead / after the fetch, +{float(lat):.0f} ms per audit commit",
            "value": row["ahead_over_after"],
        }
        for lat, row in by_latency.items()
    ]
    result = {
        "people": args.people,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "by_latency": by_latency,
        "headline": headline,
    }
    if args.out == DEFAULT_OUT:
        args.out = WRITE_AHEAD_OUT
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
