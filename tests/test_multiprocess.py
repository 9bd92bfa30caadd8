"""Scaling out: two production gateway processes (separate `gateway serve` processes, as two pods would
be) behind one PostgreSQL gateway database and one audit store. Requests spread over both keep one
gap-free, verifiable audit chain; an extract requested on one and approved on the other is built exactly
once and downloadable from either; a policy edit reaches both without a restart."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml

from audit import schema as audit_schema
from gateway.datadir import DataDir
from gateway.stores.postgres import normalise

from .conftest import Production, copy_index, free_port, wait_healthy

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_gateways(
    linked_borough: Path, production: Production, tmp_path: Path
) -> Iterator[tuple[list[str], Production, Path]]:
    # One shared data directory (a ReadWriteMany volume in the chart) pointing at the borough's stores.
    data = tmp_path / "shared"
    data.mkdir()
    borough = DataDir(linked_borough)
    manifest = borough.read_manifest()
    manifest["stores"] = borough.store_urls()  # absolute paths: the borough's own files, read only
    manifest.pop("index", None)
    DataDir(data).write_manifest(manifest)
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    copy_index(borough.index_url(), str(normalise(production.settings["database_url"])))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "OTEL_"))}
    env |= {f"GATEWAY_{k.upper()}": str(v) for k, v in production.settings.items()}
    env |= {
        "GATEWAY_POLICIES_DIR": str(policies),
        "GATEWAY_POLICY_CHECK_INTERVAL": "0.2",
        "GATEWAY_ANALYSIS_URL": borough.analysis_url(),
        "OTEL_TRACES_EXPORTER": "none",
    }
    env["GATEWAY_AUDIT_CHECKPOINT_EVERY"] = "1"  # every commit is sealed, so both processes sign some
    anchors = Path(production.settings["audit_anchor_file"]).parent / "anchors"
    urls, procs = [], []
    for i in range(2):
        port = free_port()
        log = (tmp_path / f"gateway-{port}.log").open("w")
        own = {**env, "GATEWAY_AUDIT_ANCHOR_FILE": str(anchors / f"gateway-{i}.jsonl")}  # as the chart does
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", str(data), "--port", str(port)],
                env=own,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc)
        yield urls, production, policies
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _audit_rows(production: Production) -> list[dict]:
    engine = sa.create_engine(normalise(production.settings["audit_url"]))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(audit_schema.events).order_by("seq"))]
    engine.dispose()
    return rows


def test_two_processes_share_one_gap_free_audit_chain(two_gateways) -> None:
    urls, production, _ = two_gateways
    alice = production.as_user("cw.alice")
    caseload = httpx.get(f"{urls[0]}/v1/caseload", headers=alice, timeout=30).json()
    people = [c["person_id"] for c in caseload][:10]
    assert people, "Alice has a caseload"

    def ask(i: int) -> tuple[int, str]:
        url = urls[i % 2]
        person = people[i % len(people)]
        r = httpx.get(
            f"{url}/v1/persons/{person}/flags",
            params={"purpose": "child_protection_enquiry"},
            headers=alice,
            timeout=60,
        )
        assert r.status_code == 200, f"{r.status_code} from {url}: {r.text}"
        return r.status_code, r.json()["audit_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(80)))
    assert {status for status, _ in answers} == {200}
    rows = _audit_rows(production)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), "one chain, no gaps, no forks"
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(rows))
    ids = {r["id"] for r in rows}
    assert {audit_id for _, audit_id in answers} <= ids, "every answer's event was committed"
    anchors = Path(production.settings["audit_anchor_file"]).parent / "anchors"
    verify_command = [sys.executable, "-m", "gateway.cli", "audit", "verify", "--data-dir", "unused"]
    verify_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_AUDIT_URL": production.settings["audit_url"],
        "GATEWAY_AUDIT_KEY_FILE": str(production.settings["audit_key_file"]),
        "GATEWAY_AUDIT_ANCHOR_FILE": str(anchors),  # every process's anchor file
    }
    verified = subprocess.run(verify_command, env=verify_env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and verified.stdout.startswith(f"OK {len(rows)} "), verified.stdout
    witnessed = [
        json.loads(line) for f in sorted(anchors.glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    anchored = [w for w in witnessed if w.get("kind", "checkpoint") == "checkpoint"]
    assert len(list(anchors.glob("*.jsonl"))) == 2 and len(anchored) >= 3, "both processes sealed checkpoints"
    engine = sa.create_engine(normalise(production.settings["audit_url"]))
    newest = max(a["seq"] for a in anchored)
    with engine.begin() as conn:  # someone removes the newest checkpoint row from the database
        conn.execute(sa.delete(audit_schema.checkpoints).where(audit_schema.checkpoints.c.seq == newest))
    engine.dispose()
    again = subprocess.run(verify_command, env=verify_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "removed from the database" in again.stdout, again.stdout


EXTRACT = {
    "purpose": "supporting_families_evaluation",
    "project": "sf-eval",
    "agreement": "AGR-INS-003",
    "dataset": "person_records",
    "fields": ["date_of_birth", "sex", "ward", "cp_plan"],
    "filters": {},
}


def test_an_extract_asked_on_one_process_and_approved_on_the_other_is_built_once(two_gateways) -> None:
    urls, production, _ = two_gateways
    priya, olu = production.as_user("an.priya"), production.as_user("ig.olu")
    asked = httpx.post(f"{urls[0]}/v1/extracts", json=EXTRACT, headers=priya, timeout=30)
    assert asked.status_code == 202, asked.text
    extract_id = asked.json()["extract_id"]
    approved = httpx.post(f"{urls[1]}/v1/extracts/{extract_id}/approve", headers=olu, timeout=30)
    assert approved.status_code == 202, approved.text
    deadline = time.time() + 240
    while True:
        status = httpx.get(f"{urls[0]}/v1/extracts/{extract_id}", headers=priya, timeout=30).json()
        if status["status"] not in {"approved", "building"}:
            break
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "ready", status
    downloads = [
        httpx.get(f"{url}/v1/extracts/{extract_id}/data", params={"format": "csv"}, headers=priya, timeout=60)
        for url in urls
    ]
    assert [d.status_code for d in downloads] == [200, 200]
    assert downloads[0].content == downloads[1].content and downloads[0].text.count("\n") > 100
    builds = [r for r in _audit_rows(production) if r["actor"] == "gateway:extract-job"]
    assert len(builds) == 1, [r["action"] for r in builds]
    assert builds[0]["resource"].endswith(extract_id)


def test_a_policy_edit_reaches_every_process_without_a_restart(two_gateways) -> None:
    urls, production, policies = two_gateways
    alice = production.as_user("cw.alice")

    def agreements(url: str) -> list[str]:
        return [a["id"] for a in httpx.get(f"{url}/v1/me", headers=alice, timeout=30).json()["agreements"]]

    assert [agreements(u) for u in urls] == [["AGR-CSC-001"], ["AGR-CSC-001"]]
    path = policies / "agreements" / "AGR-CSC-001-safeguarding-flags.yaml"
    data = yaml.safe_load(path.read_text())
    data["end"], data["review"] = dt.date(2025, 1, 31), dt.date(2024, 12, 31)
    path.write_text(yaml.safe_dump(data))
    deadline = time.time() + 30
    while any(agreements(u) for u in urls):
        assert time.time() < deadline, "both processes reload the edited agreement"
        time.sleep(0.2)
    person = httpx.get(f"{urls[1]}/v1/caseload", headers=alice, timeout=30).json()[0]["person_id"]
    for url in urls:
        refused = httpx.get(
            f"{url}/v1/persons/{person}/flags",
            params={"purpose": "child_protection_enquiry"},
            headers=alice,
            timeout=30,
        )
        assert refused.status_code == 403, refused.text
    denies = [r for r in _audit_rows(production) if r["decision"] == "deny" and r["actor"] == "cw.alice"]
    assert len(denies) >= 2 and all(json.loads(r["subject_ids"]) in ([person], []) for r in denies)
