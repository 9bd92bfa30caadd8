"""Flags latency through real HTTP: the governed gateway against the same SQL with no governance.

For each borough size the script seeds the stores, builds the index, and starts two uvicorn servers:
`gateway serve` (token check, caseload check, policy decisions, parallel store queries, write-ahead
audit event) and `benchmarks/bare_flags_app.py` (the same flag SQL, nothing else). Both serve the same
people: cw.alice's caseload. At 1, 8 and 32 concurrent clients it prints p50/p99 latency and requests per
second for both, and the p50 ratio (goal <= 1.5x). Then the gateway's p50 at one client per borough
size, which should stay flat as the borough grows (every lookup is indexed).

The two sides alternate in rounds (gateway, bare, gateway, bare, ...) so that whatever else the shared
machine is doing falls on both; the ratio printed is the median of the rounds' p50 ratios, with their
spread. Each server's CPU time (from /proc) over a round, divided by its requests, gives the server
CPU-ms per request, the figure that does not depend on how busy the client side is.

    python benchmarks/flags.py [--sizes 10000 100000 1000000] [--requests 400] [--rounds 5]
        [--out benchmarks/results/flags.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5
PURPOSE = "child_protection_enquiry"


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server on {port} did not start")


def _load(urls: list[str], headers: dict[str, str], clients: int, n: int) -> dict[str, float]:
    def one(i: int, client: httpx.Client) -> float:
        t = time.perf_counter()
        r = client.get(urls[i % len(urls)], headers=headers)
        r.raise_for_status()
        return time.perf_counter() - t

    def worker(k: int) -> list[float]:
        with httpx.Client(timeout=60) as client:
            return [one(i, client) for i in range(k, n, clients)]

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [x for chunk in pool.map(worker, range(clients)) for x in chunk]
    wall = time.perf_counter() - t
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "requests_per_second": round(len(latencies) / wall, 1),
    }


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(urls: list[str], headers: dict[str, str], clients: int, n: int, pid: int) -> dict[str, float]:
    before = _cpu_seconds(pid)
    out = _load(urls, headers, clients, n)
    out["server_cpu_ms_per_request"] = round((_cpu_seconds(pid) - before) * 1000 / n, 3)
    return out


def _median_of(rounds: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in rounds), 3)


def run_size(people: int, n: int, levels: list[int], rounds: int = 5) -> dict:
    from gateway.config import _default_policies_dir
    from gateway.datadir import DataDir
    from gateway.identity.dev_issuer import sign_token
    from gateway.identity.users import load_demo_users
    from gateway.index.build import build_index
    from gateway.seed import seed

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        seed(root, people=people)
        build_index(DataDir(root))
        # Traces are made (spans, ids, propagation) but not exported, as in production without OTLP: the
        # demo's console export to traces.jsonl would measure file writing, not governance.
        # The per-principal limits are checked (that cost stays in) but set high enough never to refuse:
        # one benchmark user sends far more than any caseworker could.
        limits = root / "bench-limits.yaml"
        limits.write_text("default:\n  concurrent: 1000\n  cost_per_minute: 100000000\n")
        # No access-log line on either side (the bare app runs at warning level, which has none either).
        env = {
            **os.environ,
            "GATEWAY_LIMITS_FILE": str(limits),
            "GATEWAY_DATA_DIR": str(root),
            "OTEL_TRACES_EXPORTER": "none",
            "GATEWAY_ACCESS_LOG": "false",
        }
        gw_port, bare_port = _port(), _port()
        gw = _start(
            [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", d, "--port", str(gw_port)],
            env,
            gw_port,
        )
        bare = _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(ROOT / "benchmarks"),
                "--factory",
                "bare_flags_app:create",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            env,
            bare_port,
        )
        try:
            alice = load_demo_users(_default_policies_dir()).get("cw.alice")
            headers = {"Authorization": f"Bearer {sign_token(root, alice)}"}
            caseload = httpx.get(
                f"http://127.0.0.1:{gw_port}/v1/caseload", headers=headers, timeout=60
            ).json()
            people_ids = [c["person_id"] for c in caseload]
            gw_urls = [
                f"http://127.0.0.1:{gw_port}/v1/persons/{p}/flags?purpose={PURPOSE}" for p in people_ids
            ]
            bare_urls = [f"http://127.0.0.1:{bare_port}/bare/persons/{p}/flags" for p in people_ids]
            _load(gw_urls, headers, 4, 100)  # warm both
            _load(bare_urls, {}, 4, 100)
            out = {"residents": people, "caseload": len(people_ids), "levels": {}}
            per_round = max(50, n // rounds)
            for clients in levels:
                gs, bs = [], []
                for _ in range(rounds):  # alternate, so background load falls on both sides
                    gs.append(_measured(gw_urls, headers, clients, per_round, gw.pid))
                    bs.append(_measured(bare_urls, {}, clients, per_round, bare.pid))
                ratios = sorted(g["p50_ms"] / b["p50_ms"] for g, b in zip(gs, bs, strict=True))
                cpu_ratios = sorted(
                    g["server_cpu_ms_per_request"] / max(b["server_cpu_ms_per_request"], 1e-6)
                    for g, b in zip(gs, bs, strict=True)
                )
                g = {k: _median_of(gs, k) for k in gs[0]}
                b = {k: _median_of(bs, k) for k in bs[0]}
                out["levels"][str(clients)] = {
                    "gateway": g,
                    "bare": b,
                    "rounds": rounds,
                    "p50_ratio": round(statistics.median(ratios), 2),
                    "p50_ratio_spread": [round(ratios[0], 2), round(ratios[-1], 2)],
                    "p99_ratio": round(g["p99_ms"] / b["p99_ms"], 2),
                    "server_cpu_ratio": round(statistics.median(cpu_ratios), 2),
                }
                level = out["levels"][str(clients)]
                print(
                    f"{people:>9,} residents, {clients:>2} clients: gateway p50 {g['p50_ms']:7.2f} ms "
                    f"p99 {g['p99_ms']:7.2f} ms cpu {g['server_cpu_ms_per_request']:.2f} ms/req | bare p50 "
                    f"{b['p50_ms']:7.2f} ms p99 {b['p99_ms']:7.2f} ms cpu "
                    f"{b['server_cpu_ms_per_request']:.2f} ms/req | p50 x{level['p50_ratio']:.2f} "
                    f"[{level['p50_ratio_spread'][0]:.2f}-{level['p50_ratio_spread'][1]:.2f}] "
                    f"p99 x{level['p99_ratio']:.2f} cpu x{level['server_cpu_ratio']:.2f}",
                    flush=True,
                )
            return out
        finally:
            for proc in (gw, bare):
                proc.terminate()
                proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per level")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/flags.json"))
    args = parser.parse_args()
    results: dict = {"goal_p50_ratio": GOAL, "cpus": os.cpu_count(), "sizes": {}}
    for i, size in enumerate(args.sizes):
        levels = args.levels if i == 0 else [1]  # full concurrency sweep on the first size, p50 scaling after
        results["sizes"][str(size)] = run_size(size, args.requests, levels, args.rounds)
    results["p50_ms_by_size_one_client"] = {
        s: r["levels"]["1"]["gateway"]["p50_ms"] for s, r in results["sizes"].items()
    }
    print("gateway p50 at one client by borough size:", results["p50_ms_by_size_one_client"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
