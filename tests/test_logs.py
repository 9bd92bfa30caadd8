"""Operational logs of a full demo run carry ids and trace ids, never residents' names or numbers."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from tests.conftest import bearer, free_port, wait_healthy


def test_a_full_demo_run_logs_no_personal_data(tmp_path: Path) -> None:
    data, port, log = tmp_path / "var", free_port(), tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "demo",
                "--people",
                "1500",
                "--port",
                str(port),
                "--data-dir",
                str(data),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, proc)
            for user in ("cw.alice", "an.priya", "ig.olu"):
                headers = bearer(data, user)
                for path in (
                    "/v1/me",
                    "/v1/agreements",
                    "/v1/catalogue",
                    "/v1/audit/events",
                    "/v1/audit/alerts",
                ):
                    httpx.get(f"{base}{path}", headers=headers, timeout=30)
            httpx.get(f"{base}/v1/me", timeout=30)  # unauthenticated
            # A subject access search carries a name, a date of birth and an NHS number in its query.
            with (data / "truth" / "persons.csv").open() as fh:
                searched = next(csv.DictReader(fh))
            for params in (
                {
                    "name": f"{searched['first_name']} {searched['last_name']}",
                    "date_of_birth": searched["date_of_birth"],
                },
                {"nhs_number": searched["nhs_number"]},
            ):
                httpx.get(
                    f"{base}/v1/audit/subjects", params=params, headers=bearer(data, "ig.olu"), timeout=60
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text()
    assert "Person index" in text and "GET /v1/me" in text  # the log really covers seeding, linking, serving
    with (data / "truth" / "persons.csv").open() as fh:
        people = list(csv.DictReader(fh))
    leaks = [
        value
        for p in people
        for value in (
            f"{p['first_name']} {p['last_name']}",
            f"{p['last_name']}, {p['first_name']}",
            p["nhs_number"],
            # as a query string spells them (the subject search's access-log line)
            quote_plus(f"{p['first_name']} {p['last_name']}"),
            quote(f"{p['first_name']} {p['last_name']}"),
        )
        if value.strip(" ,") and value in text
    ]
    assert leaks == []
    assert "GET /v1/audit/subjects?" in text, "the search itself is logged, with its values redacted"
    assert searched["date_of_birth"] not in text
