"""Decision speed: `PolicyEngine.decide` against bare `enforcer.enforce` on the same model.

100k decisions over a realistic mix (every demo user, several datasets and purposes, allowed and
refused). Baseline, same run: the same requests as bare `enforcer.enforce(...)` calls on the enforcer
the engine built, i.e. pycasbin alone, with no agreement lookup, fields, reasons or cache. Two
figures: the engine as served (cache warm, the usual case: one user asks about the same datasets
many times), and the engine with its cache cleared before every call (every decision computed,
explained, and every refusal given its reason). Goal (issue 4): at most 2x the bare calls.

    python benchmarks/policy.py [--n 100000] [--out benchmarks/results/policy.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import time
from pathlib import Path

from gateway.identity.principal import Principal
from gateway.identity.users import load_demo_users
from gateway.policy.decision import PolicyEngine

POLICIES = Path(__file__).resolve().parents[1] / "policies"
GOAL_RATIO = 2.0
REQUESTS = [
    ("flags", "housing.hsg_rent_accounts", "child_protection_enquiry"),
    ("flags", "education.edu_attendance", "child_in_need_assessment"),
    ("flags", "community_safety.cs_da_notifications", "child_protection_enquiry"),
    ("flags", "early_help.ssd_early_help_episodes", "early_help_step_down_pilot"),
    ("records", "housing.hsg_rent_accounts", "child_protection_enquiry"),
    ("aggregate", "persons", "joint_strategic_needs_assessment"),
    ("extract", "persons", "supporting_families_evaluation"),
    ("records", "persons", "service_planning"),
    ("review", "audit", "audit_oversight"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/policy.json"))
    args = parser.parse_args()

    users = load_demo_users(POLICIES).users
    principals = [Principal(u.id, u.name, tuple(sorted(u.roles)), u.department, u.team) for u in users]
    work = list(itertools.islice(itertools.cycle(itertools.product(principals, REQUESTS)), args.n))
    day = dt.date(2026, 6, 1)
    engine = PolicyEngine(POLICIES, check_interval=1.0)
    enforcer = engine.current().enforcer
    iso = day.isoformat()

    t = time.perf_counter()
    allowed_bare = 0
    for p, (view, dataset, purpose) in work:
        for role in p.roles:
            allowed_bare += enforcer.enforce(role, p.department or "", dataset, view, purpose, "*", iso)
    bare = time.perf_counter() - t

    t = time.perf_counter()
    allowed_cached = sum(engine.decide(p, v, d, pu, day=day).allow for p, (v, d, pu) in work)
    cached = time.perf_counter() - t

    t = time.perf_counter()
    allowed_cold = 0
    for p, (v, d, pu) in work:
        engine._cache.clear()
        allowed_cold += engine.decide(p, v, d, pu, day=day).allow
    cold = time.perf_counter() - t

    assert allowed_bare == allowed_cached == allowed_cold, "the engine and pycasbin disagree"
    result = {
        "decisions": args.n,
        "cpus": os.cpu_count(),
        "allowed": allowed_bare,
        "bare_enforce_seconds": round(bare, 3),
        "engine_cached_seconds": round(cached, 3),
        "engine_uncached_seconds": round(cold, 3),
        "ratio_cached_vs_bare": round(cached / bare, 3),
        "ratio_uncached_vs_bare": round(cold / bare, 3),
        "goal_ratio": GOAL_RATIO,
        "per_decision_microseconds_cached": round(cached / args.n * 1e6, 2),
        "per_decision_microseconds_uncached": round(cold / args.n * 1e6, 2),
    }
    print(
        f"{args.n:,} decisions ({allowed_bare:,} allowed): bare enforce {bare:.2f} s | engine, cache warm "
        f"{cached:.2f} s (x{result['ratio_cached_vs_bare']}) | engine, every decision computed "
        f"{cold:.2f} s (x{result['ratio_uncached_vs_bare']}) | goal <= x{GOAL_RATIO}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
