"""Seeding speed and memory: `gateway seed` for 100k and 1M residents.

For each size, in a fresh process (so peak RSS is that run's own): wall seconds and peak memory of
the full seed (generate + noise + write SQLite + truth). Baseline, same run, same machine: a bare
SQLite `executemany` of as many rows of the same width, which is the floor for the writing alone.
Goal (issue 2): 1M residents in under 600 s on a 2-core machine.

    python benchmarks/seed.py [--sizes 100000 1000000] [--out benchmarks/results/seed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS_1M = 600.0

CHILD = """
import json, sys, time
from gateway.seed import seed
t = time.perf_counter()
r = seed(sys.argv[1], people=int(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t, "rows": sum(r.rows.values()), "people": r.people}))
"""


def run_child(code: str, *args: str) -> tuple[dict, float]:
    """Run code in a fresh interpreter; return its JSON line and its own peak RSS in MiB."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed with {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def baseline_insert(rows: int, width: int = 8) -> float:
    """Plain executemany of `rows` rows into a fresh SQLite file with the same pragmas as the seeder."""
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(Path(d) / "base.db")
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute(f"CREATE TABLE t ({', '.join(f'c{i} TEXT' for i in range(width))})")
        row = tuple(f"value{i}" for i in range(width))
        t = time.perf_counter()
        sql = f"INSERT INTO t VALUES ({', '.join('?' * width)})"
        for start in range(0, rows, 50_000):
            con.executemany(sql, [row] * min(50_000, rows - start))
        con.commit()
        elapsed = time.perf_counter() - t
        con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/seed.json"))
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as d:
            run, peak_mib = run_child(CHILD, d, str(size))
        base = baseline_insert(run["rows"])
        entry = {
            "residents": run["people"],
            "rows_written": run["rows"],
            "seed_seconds": round(run["seconds"], 2),
            "peak_rss_mib": round(peak_mib, 1),
            "baseline_insert_seconds": round(base, 2),
            "ratio_seed_to_bare_insert": round(run["seconds"] / base, 2),
            "seconds_per_100k": round(run["seconds"] / size * 100_000, 2),
        }
        if size >= 1_000_000:
            entry["goal_seconds"] = GOAL_SECONDS_1M
            entry["ratio_to_goal"] = round(run["seconds"] / GOAL_SECONDS_1M, 3)
        results.append(entry)
        print(
            f"{size:>9,} residents: {entry['seed_seconds']:>7.1f} s, peak {entry['peak_rss_mib']:>7.0f} MiB, "
            f"{entry['rows_written']:,} rows; bare insert of the same rows {base:.1f} s "
            f"(ratio {entry['ratio_seed_to_bare_insert']:.1f}x)"
            + (f"; {entry['ratio_to_goal']:.2f} of the 600 s goal" if "ratio_to_goal" in entry else "")
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"benchmark": "seed", "cpus": os.cpu_count(), "results": results}, indent=2) + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
