"""Where a flags request's time goes, step by step, read from the gateway's own OpenTelemetry spans.

Seeds a borough, links it, and sends the caseworker's flags requests through the application in this
process (no network), recording every span in memory. Prints the median duration of each step (the
server span, `decide`, `fetch`, `audit`) and of what is left outside them, each also as a ratio of
`fetch`: the flag SQL, the one part the bare route does too. Run it before and after a change to see
which step moved (`docs/performance.md` keeps the figures).

    python benchmarks/flags_steps.py [--people 10000] [--requests 300] [--trace-sql]
        [--out benchmarks/results/flags_steps.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.progress import track

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


def measure(root: Path, requests: int, trace_sql: bool) -> dict[str, float]:
    exporter = InMemorySpanExporter()
    provider().add_span_processor(SimpleSpanProcessor(exporter))
    alice = load_demo_users(_default_policies_dir()).get("cw.alice")
    headers = {"Authorization": f"Bearer {sign_token(root, alice)}"}
    with TestClient(create_app(Settings(data_dir=root, trace_sql=trace_sql))) as client:
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
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/flags_steps.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        seed(root, people=args.people)
        build_index(DataDir(root))
        steps = measure(root, args.requests, args.trace_sql)
    fetch = steps["fetch"] or 1e-9
    print(f"median ms per flags request ({steps['requests']} requests, {args.people:,} residents):")
    for name in ("request", *STEPS, "outside_steps"):
        print(f"  {name:<14} {steps[name]:8.3f} ms   x{steps[name] / fetch:5.2f} of fetch")
    result = {
        "people": args.people,
        "trace_sql": args.trace_sql,
        "median_ms": steps,
        "ratio_to_fetch": {k: round(v / fetch, 2) for k, v in steps.items() if k != "requests"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
