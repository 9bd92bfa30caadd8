"""Attacks on the aggregate tables, written the way an analyst turned attacker would try them.

Each attack runs against the gateway over HTTP on the linked 20k borough and reports its success rate
(the share of small groups whose exact size it recovers); each must fail. For contrast, the same
attack is scored against an unprotected or naively protected release computed in the test.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.analysis.store import AnalysisStore
from gateway.api.app import create_app
from gateway.config import Settings
from gateway.datadir import DataDir
from gateway.privacy.perturbation import perturbation_table
from gateway.privacy.protection import feasible_intervals
from gateway.privacy.table import TOTAL, Cell, Table
from tests.conftest import bearer

JSNA = "joint_strategic_needs_assessment"
THRESHOLD = 10


@pytest.fixture(scope="module")
def client(analysis_borough: Path) -> TestClient:
    with TestClient(create_app(Settings(data_dir=analysis_borough))) as c:
        yield c


def ask(client: TestClient, root: Path, **body: Any) -> dict:
    r = client.post(
        "/v1/aggregates",
        json={"purpose": JSNA, "dataset": "persons", **body},
        headers=bearer(root, "an.priya"),
    )
    assert r.status_code == 200, r.text
    return r.json()


def true_counts(root: Path, dims: list[str]) -> dict[tuple, int]:
    store = AnalysisStore(DataDir(root).analysis_url())
    try:
        cols = ", ".join(dims)
        return {
            tuple(r[:-1]): r[-1]
            for r in store.execute(sa.text(f"SELECT {cols}, count(*) FROM persons GROUP BY ALL"))
        }
    finally:
        store.dispose()


def report(name: str, rate: float, attempts: int, unprotected: float, what: str = "small groups") -> None:
    print(f"\n[attack] {name}: success {rate:.1%} of {attempts} {what} (unprotected: {unprotected:.0%})")


def test_differencing_two_overlapping_queries_does_not_expose_a_small_group(
    client: TestClient, analysis_borough: Path
) -> None:
    truth = true_counts(analysis_borough, ["ward", "age_band"])
    bands = sorted({b for _, b in truth})
    targets = [(w, b, n) for (w, b), n in truth.items() if 1 <= n < THRESHOLD]
    assert len(targets) >= 5, "the borough should have small groups to attack"
    hits = 0
    for ward, band, n in targets:
        whole = ask(client, analysis_borough, filters={"ward": ward})["rows"][0]["value"]
        rest = ask(
            client, analysis_borough, filters={"ward": ward, "age_band": [b for b in bands if b != band]}
        )["rows"][0]["value"]
        hits += whole - rest == n
    rate = hits / len(targets)
    report("differencing", rate, len(targets), 1.0)
    assert rate <= 0.25


def test_row_and_column_totals_do_not_recover_a_suppressed_cell(
    client: TestClient, analysis_borough: Path
) -> None:
    dims = ["ward", "age_band"]
    reply = ask(client, analysis_borough, group_by=dims)
    truth = true_counts(analysis_borough, dims)
    published = {tuple(r[d] for d in dims): r["value"] for r in reply["rows"]}
    hidden = {k for k, v in published.items() if v is None}
    small = [k for k in hidden if 1 <= truth.get(k, 0) < THRESHOLD]
    assert len(small) >= 5
    table = Table.complete(dims, {k: Cell(v or 0, v or 0, float(v or 0)) for k, v in published.items()})
    relations = table.relations()

    def attack(values: dict, secret: set) -> dict:
        values, secret, guesses = dict(values), set(secret), {}
        progress = True
        while progress:  # subtraction wherever a relation hides one cell, repeated as cells fall
            progress = False
            for parent, children in relations:
                unknown = [m for m in (parent, *children) if m in secret]
                if len(unknown) == 1:
                    k = unknown[0]
                    known = sum(values[c] for c in children if c != k)
                    values[k] = guesses[k] = values[parent] - known if k != parent else known
                    secret.discard(k)
                    progress = True
        if secret:  # then the tightest interval the published figures allow, and its midpoint
            try:
                spans = feasible_intervals(
                    relations, values, secret, lambda _k: 1.0, sorted(secret, key=repr)
                )
                for k in secret:
                    lo, hi = spans[k].lower, min(spans[k].upper, THRESHOLD - 1)
                    guesses[k] = round((lo + hi) / 2)
            except ValueError:
                guesses.update({k: 5 for k in secret})
        return guesses

    values = {k: float(v) if v is not None else 0.0 for k, v in published.items()}
    guesses = attack(values, hidden)
    rate = sum(guesses.get(k) == truth[k] for k in small) / len(small)
    # The same attack on primary suppression alone, with exact margins, for contrast.
    exact = {k: float(truth.get(k, 0)) for k in published}
    for k in published:
        if TOTAL in k:
            exact[k] = float(
                sum(
                    v
                    for kk, v in truth.items()
                    if all(a is TOTAL or a == b for a, b in zip(k, kk, strict=True))
                )
            )
    primary_only = {k for k in published if 1 <= exact[k] < THRESHOLD}
    naive = attack(exact, primary_only)
    naive_rate = sum(naive.get(k) == truth[k] for k in small if k in primary_only) / len(small)
    report("margins (subtraction + LP)", rate, len(small), naive_rate)
    assert naive_rate >= rate + 0.2  # the attack works on primary suppression alone...
    assert rate <= 0.25  # ...and fails on what the gateway releases


def test_averaging_a_repeated_query_gains_nothing(client: TestClient, analysis_borough: Path) -> None:
    dims = ["ward", "age_band"]
    truth = true_counts(analysis_borough, dims)
    replies = [ask(client, analysis_borough, group_by=dims)["rows"] for _ in range(20)]
    assert all(r == replies[0] for r in replies)  # consistent: every repeat is identical
    cells = [
        (tuple(r[d] for d in dims), [rep[i]["value"] for rep in replies]) for i, r in enumerate(replies[0])
    ]
    targets = [(k, vals) for k, vals in cells if k in truth and vals[0] is not None]
    rate = sum(round(statistics.mean(vals)) == truth[k] for k, vals in targets) / len(targets)
    # A naive system drawing fresh noise per query (same noise distribution, same rounding).
    rnd = random.Random(7)
    table = perturbation_table(THRESHOLD, 2, 256)
    fresh_hits = 0
    for k, _ in targets:
        n = truth[k]
        draws = [n + table[min(n - THRESHOLD, 2)][rnd.randrange(256)] for _ in range(400)]
        fresh_hits += round(statistics.mean(draws)) == n
    fresh = fresh_hits / len(targets)
    report("averaging 20 repeats", rate, len(targets), fresh, "published cells")
    assert fresh >= 0.9
    assert rate <= 0.35
