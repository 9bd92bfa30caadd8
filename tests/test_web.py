"""The web interface, clicked through in a real browser (Debian's Chromium driven by Playwright) against
a live `gateway demo` server with its synthetic borough: one test per user journey, screenshots kept
under `test-artifacts/screenshots/`, and every page that shows personal data checked against the audit
log it must have written."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from gateway.datadir import DataDir
from gateway.web.wording import day
from tests.caseload_truth import csc_details
from tests.conftest import bearer, free_port, wait_healthy

POLICIES = Path(__file__).resolve().parents[1] / "policies"

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path(os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("GATEWAY_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
SHOTS = ARTIFACTS / "screenshots"
PEOPLE = 3_000
GLASS_REASON = "Out of hours call from the police"


class Live:
    def __init__(self, base: str, data: Path) -> None:
        self.base, self.data = base, data

    def api(self, user: str, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.base}{path}", params=params, headers=bearer(self.data, user), timeout=60)
        r.raise_for_status()
        return r.json()

    def events(self, **params: Any) -> list[dict[str, Any]]:
        return self.api("ig.olu", "/v1/audit/events", limit=1000, **params)["events"]

    def event(self, audit_id: str) -> dict[str, Any]:
        found = [e for e in self.events() if e["id"] == audit_id]
        assert found, f"no audit event {audit_id}"
        return found[0]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`gateway demo` on a 3,000-resident borough: seeded, linked and served, as `make demo` does."""
    data = tmp_path_factory.mktemp("web") / "var"
    port = free_port()
    log = data.parent / "server.log"
    # Working hours of zero length: every access to personal data is out of hours, so the alerts page
    # shows how a day's out-of-hours work is grouped, whatever time the suite runs.
    env = {
        **os.environ,
        "GATEWAY_AUDIT_CHECKPOINT_EVERY": "25",
        "COLUMNS": "200",
        "GATEWAY_ALERT_WORKING_HOURS": "[0, 0]",
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway.cli", "demo", "--people", str(PEOPLE)),
                *("--port", str(port), "--data-dir", str(data)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, proc, timeout=300)
            yield Live(base, data)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (its own cookies) per user; pages are closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        ctx.set_default_timeout(60_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: Any, name: str) -> None:
    """The whole page for review, and the first screenful (what docs/user-guide.md shows)."""
    (SHOTS / "screenful").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.screenshot(path=str(SHOTS / "screenful" / f"{name}.png"))


def press(target: Any) -> None:
    """Click, then wait for the page the click loads: `click` returns once a navigation commits, and
    `is_visible`/`count` do not wait, so an assertion could read the old or a half-parsed page."""
    target.click()
    target.page.wait_for_load_state()


def sign_in(page: Any, live: Live, user: str, start: str = "/ui/") -> None:
    page.goto(f"{live.base}{start}")
    press(page.get_by_test_id(f"sign-in-{user}"))
    page.wait_for_load_state()
    assert page.get_by_test_id("signed-in-as").is_visible()


def page_audit_ids(page: Any) -> list[str]:
    return re.findall(r"[0-9a-f-]{36}", page.get_by_test_id("page-audit-ids").inner_text())


# 1. Sign-in ---------------------------------------------------------------------------------------------


def test_sign_in_journey(live: Live, new_page: Any) -> None:
    page = new_page()
    page.goto(f"{live.base}/ui/caseload")
    assert "/ui/sign-in" in page.url, "a page that needs a user sends you to sign in"
    assert "Sign in to continue" in page.get_by_test_id("sign-in-message").inner_text()
    shot(page, "01-sign-in")
    press(page.get_by_test_id("sign-in-cw.alice"))
    assert page.url.endswith("/ui/caseload"), "after signing in you land where you were going"
    assert page.get_by_test_id("signed-in-as").inner_text() == "Alice Okafor"
    cookie = next(c for c in page.context.cookies() if c["name"] == "gateway_session")
    assert cookie["httpOnly"] and cookie["path"] == "/ui", "the session is not readable by scripts"
    # The cookie is not an API credential: the API only takes a bearer header.
    assert httpx.get(f"{live.base}/v1/me", cookies={"gateway_session": cookie["value"]}).status_code == 401
    press(page.get_by_role("button", name="Sign out"))
    assert "You have signed out" in page.get_by_test_id("sign-in-message").inner_text()
    page.goto(f"{live.base}/ui/caseload")
    assert "/ui/sign-in" in page.url
    # An off-site `next` is ignored, so sign-in cannot be used to redirect people elsewhere.
    page.goto(f"{live.base}/ui/sign-in?next=https://evil.example/")
    press(page.get_by_test_id("sign-in-an.priya"))
    assert page.url == f"{live.base}/ui/"


# 2. Caseworker --------------------------------------------------------------------------------------------


def test_caseworker_journey_caseload_and_family_context(live: Live, new_page: Any) -> None:
    page = new_page()
    sign_in(page, live, "cw.alice", "/ui/caseload")
    caseload = live.api("cw.alice", "/v1/caseload")
    (caseload_event,) = page_audit_ids(page)
    body, pages = page.locator("main").inner_text(), 1
    shot(page, "02-caseworker-caseload")
    while page.get_by_test_id("older").count():  # ten families a page: every person is on one of them
        press(page.get_by_test_id("older"))
        body += page.locator("main").inner_text()
        pages += 1
    families = {p["family_id"] for p in caseload}
    assert pages == -(-len(families) // 10)
    for person in caseload:
        assert person["person_id"] in body
    # Find a family by a member's name: only families with such a member are listed.
    named = next(p for p in caseload if p["name"])
    surname = named["name"].split()[-1]
    page.goto(f"{live.base}/ui/caseload")
    page.fill("#find", surname)
    press(page.get_by_test_id("caseload-go"))
    expected = {p["family_id"] for p in caseload if p["name"] and surname.lower() in p["name"].lower()}
    assert (
        page.get_by_test_id("family-count").inner_text().startswith(f"{len(expected)} famil")
        and named["person_id"] in page.locator("main").inner_text()
    )
    # On a 390 px phone the page fits the screen: no sideways scrolling.
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.context.add_cookies(page.context.cookies())
    small.goto(f"{live.base}/ui/caseload")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()
    page.goto(f"{live.base}/ui/caseload")
    event = live.event(caseload_event)
    assert event["actor"] == "cw.alice" and event["action"] == "caseload.read"
    assert event["decision"] == "allow"
    assert sorted(event["subject_ids"]) == sorted(p["person_id"] for p in caseload)

    press(page.get_by_test_id("family-link").first)
    family_id = page.url.split("/ui/families/")[1].split("?")[0]
    members = [p for p in caseload if p["family_id"] == family_id]
    context = live.api("cw.alice", f"/v1/families/{family_id}/context", purpose="child_in_need_assessment")
    assert page.get_by_test_id("member").count() == len(context["members"])
    text = page.locator("main").inner_text()
    for m in members:
        assert m["name"] in text
    for m in context["members"]:
        for f in m["flags"]:
            assert f["flag"].replace("_", " ") in text
            if f["since"]:
                assert day(f["since"]) in text  # in words: "Tue 3 Mar 2026"
    for prof in context["professionals"]:
        if prof.get("name"):
            assert prof["name"] in text
    shot(page, "03-caseworker-family")
    audit_id = page.get_by_test_id("audit-id").inner_text()
    event = live.event(audit_id)
    assert event["action"] == "family.context" and event["decision"] == "allow"
    assert sorted(event["subject_ids"]) == sorted(m["person_id"] for m in context["members"])
    assert event["purpose"] == "child_in_need_assessment" and not event["break_glass"]


def test_a_caseworker_finds_a_person_by_name_and_date_of_birth(live: Live, new_page: Any) -> None:
    """From the caseload, "Find a person": a child on the caseload is found by name and date of birth
    and their family opens; someone else is not found without break-glass."""
    mine = live.api("cw.alice", "/v1/caseload")
    ben = live.api("cw.ben", "/v1/caseload")
    child = next(p for p in mine if p["relationship"] == "allocated" and p["name"] and p["date_of_birth"])
    theirs = next(
        p
        for p in ben
        if p["name"] and p["date_of_birth"] and p["person_id"] not in {m["person_id"] for m in mine}
    )
    page = new_page()
    sign_in(page, live, "cw.alice", "/ui/caseload")
    press(page.get_by_test_id("find-people-link"))
    page.fill("#name", child["name"])
    page.fill("#date_of_birth", child["date_of_birth"])
    press(page.get_by_test_id("find-people"))
    results = page.get_by_test_id("people-results")
    assert child["name"] in results.inner_text()
    shot(page, "22-caseworker-find-person")
    press(page.get_by_test_id("open-family").first)
    assert f"/ui/families/{child['family_id']}" in page.url
    page.goto(f"{live.base}/ui/people")
    page.fill("#name", theirs["name"])
    page.fill("#date_of_birth", theirs["date_of_birth"])
    press(page.get_by_test_id("find-people"))
    assert page.get_by_test_id("no-people").is_visible(), "another worker's family is not found"
    search = live.events(actor="cw.alice")[0]
    assert search["action"] == "persons.search" and search["subject_ids"] == []


def test_a_front_door_screener_sees_the_family_of_an_open_contact(live: Live, new_page: Any) -> None:
    """fd.fatima's caseload is the children with an open contact she screens and their families; the
    family page shows flags under the screening agreement, without break-glass."""
    caseload = live.api("fd.fatima", "/v1/caseload")
    triage = [p for p in caseload if p["relationship"] == "triage"]
    assert triage, "the demo front door has an open contact for FD0001"
    page = new_page()
    sign_in(page, live, "fd.fatima", "/ui/caseload")
    assert "open contact at the front door" in page.locator("main").inner_text()
    page.goto(f"{live.base}/ui/families/{triage[0]['family_id']}?purpose=front_door_screening")
    main = page.locator("main").inner_text()
    assert "AGR-CSC-006" in main and "break-glass" not in main.lower().split("audit reference")[0]
    shot(page, "24-front-door-family")


def test_a_caseworker_cannot_reach_another_caseworkers_family_by_editing_the_url(
    live: Live, new_page: Any
) -> None:
    alice = {p["family_id"] for p in live.api("cw.alice", "/v1/caseload")}
    ben = live.api("cw.ben", "/v1/caseload")
    family_id = next(p["family_id"] for p in ben if p["family_id"] and p["family_id"] not in alice)
    names = [p["name"] for p in ben if p["family_id"] == family_id and p["name"]]
    page = new_page()
    sign_in(page, live, "cw.alice", "/ui/caseload")
    response = page.goto(f"{live.base}/ui/families/{family_id}?purpose=child_protection_enquiry")
    assert response.status == 403
    assert "not on your caseload" in page.get_by_test_id("error-title").inner_text()
    html = page.content()
    assert all(name not in html for name in names), "nothing about the family is shown"
    assert page.get_by_test_id("member").count() == 0
    shot(page, "04-caseworker-refused")
    (denied,) = page_audit_ids(page)
    event = live.event(denied)
    assert event["decision"] == "deny" and event["actor"] == "cw.alice"
    assert event["action"] == "family.context" and event["rows_released"] == 0

    # Break-glass: the reason is required, the family is shown with a warning, and IG sees an alert.
    # Typed as people type: an accent, a pound sign, a curly apostrophe and an emoji, all kept exactly.
    reason = "Police report Zoë at this address at immediate risk tonight, owes £500, Mum’s partner back 🚨"
    page.fill("#reason", reason)
    press(page.get_by_test_id("break-glass-submit"))
    banner = page.get_by_test_id("break-glass-banner")
    assert banner.is_visible() and reason in banner.inner_text()
    assert page.get_by_test_id("member").count() > 0
    shot(page, "05-caseworker-break-glass")
    event = live.event(page.get_by_test_id("audit-id").inner_text())
    assert event["break_glass"] and event["decision"] == "allow" and reason in event["reason"]
    alerts = live.api("ig.olu", "/v1/audit/alerts")["alerts"]
    assert any(a["audit_id"] == event["id"] and a["kind"] == "break_glass" for a in alerts)

    # Another purpose keeps the reason: no retyping, and the new view is audited as break-glass again.
    page.select_option("#purpose", "child_in_need_assessment")
    press(page.get_by_test_id("change-purpose"))
    assert reason in page.get_by_test_id("break-glass-banner").inner_text()
    again = live.event(page.get_by_test_id("audit-id").inner_text())
    assert again["id"] != event["id"] and again["purpose"] == "child_in_need_assessment"
    assert again["break_glass"] and reason in again["reason"]


# 3. Analyst -----------------------------------------------------------------------------------------------


def test_analyst_table_builder_chart_and_csv(live: Live, new_page: Any) -> None:
    page = new_page()
    sign_in(page, live, "an.priya", "/ui/tables")
    page.select_option("#purpose", "service_planning")
    page.select_option("#by1", "ward")
    page.select_option("#by2", "rent_arrears")
    press(page.get_by_test_id("run-table"))
    table = page.get_by_test_id("result-table")
    assert table.is_visible(), page.locator("main").inner_text()[:2000]
    assert page.get_by_test_id("chart").locator("svg").count() == 1
    statuses = page.locator("[data-testid=result-table] tbody tr").evaluate_all(
        "rows => rows.map(r => r.className)"
    )
    assert "status-suppressed" in statuses, "small cells are suppressed and marked"
    assert any(s in statuses for s in ("status-perturbed", "status-rounded"))
    assert "[c]" in table.inner_text()
    summary = page.get_by_test_id("disclosure-summary").inner_text()
    assert "not shown" in summary and "rounded" in summary and "privacy budget" in summary
    page.evaluate("document.getElementById('result-title').scrollIntoView()")
    shot(page, "06-analyst-table")
    event = live.event(page_audit_ids(page)[0])
    assert event["action"] == "aggregates.query" and event["actor"] == "an.priya"
    assert event["purpose"] == "service_planning"

    with page.expect_download() as got:
        press(page.get_by_test_id("csv-download"))
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    shown = page.locator("[data-testid=result-table] tbody tr").count()
    assert len(rows) == shown
    for r in rows:
        assert (r["value"] == "") == (r["status"] == "suppressed"), "a suppressed cell has no value"
    downloads = live.events(actor="an.priya")
    assert downloads[0]["action"] == "aggregates.query", "the CSV download is itself an audited release"

    # A refused request is explained beside the form, not as a crash.
    page.goto(
        f"{live.base}/ui/tables?purpose=service_planning&dataset=persons&by1=ward&f1=ward&v1=Nowhere&run=1"
    )
    assert page.get_by_test_id("refusal").is_visible()


def test_analyst_extract_request_approval_and_download(live: Live, new_page: Any) -> None:
    priya = new_page()
    sign_in(priya, live, "an.priya", "/ui/extracts?dataset=person_records")
    # Each agreement offers only the fields it shares; the rest are named as not shared, before submit.
    for agreement in ("AGR-RES-005-university-research-extract", "AGR-INS-003-supporting-families-extract"):
        terms = yaml.safe_load((POLICIES / "agreements" / f"{agreement}.yaml").read_text())
        option = f"{terms['id']}|{sorted(terms['purposes'])[0]}"
        with priya.expect_navigation():
            priya.select_option("#pick-purpose", option)
        offered = priya.locator("[data-testid=field-choice]")
        assert sorted(offered.evaluate_all("els => els.map(e => e.value)")) == sorted(
            terms["datasets"]["person_records"]
        )
        boxes = [b for b in (c.bounding_box() for c in priya.locator("label.check").all()) if b]
        for i, a in enumerate(boxes):  # no two field labels overlap
            for b in boxes[i + 1 :]:
                apart = (
                    a["x"] + a["width"] <= b["x"] + 0.5
                    or b["x"] + b["width"] <= a["x"] + 0.5
                    or a["y"] + a["height"] <= b["y"] + 0.5
                    or b["y"] + b["height"] <= a["y"] + 0.5
                )
                assert apart, (a, b)
    assert "housing benefit weekly" in priya.get_by_test_id("not-shared").inner_text()
    assert priya.locator("input[name=fields][value=housing_benefit_weekly]").count() == 0
    priya.fill("#project", "web-journey")
    for field in ("date_of_birth", "sex", "ward", "known_to_csc", "rent_arrears"):
        priya.locator(f"input[name=fields][value={field}]").check()
    press(priya.get_by_test_id("request-extract"))
    assert priya.get_by_test_id("extract-status").inner_text() == "pending approval"
    shot(priya, "07-analyst-extract-requested")
    extract_id = priya.url.split("/ui/extracts/")[1].split("?")[0]

    olu = new_page()
    sign_in(olu, live, "ig.olu", "/ui/approvals")
    card = olu.get_by_test_id("pending-extract").filter(has_text="web-journey")
    assert card.count() == 1
    shot(olu, "08-ig-approvals")
    press(card.get_by_test_id("approve"))
    assert "approved" in olu.locator("main").inner_text()

    # A rejection says why, and the analyst reads the reason on their request.
    priya.goto(f"{live.base}/ui/extracts?dataset=person_records")
    priya.fill("#project", "web-rejected")
    priya.locator("input[name=fields][value=ward]").check()
    press(priya.get_by_test_id("request-extract"))
    rejected_url = priya.url.split("?")[0]
    olu.goto(f"{live.base}/ui/approvals")
    card = olu.get_by_test_id("pending-extract").filter(has_text="web-rejected")
    press(card.locator("summary"))
    why = "Ward alone answers nothing for this project: ask with the fields the evaluation needs"
    card.get_by_test_id("reject-reason").fill(why)
    press(card.get_by_test_id("reject"))
    assert "rejected" in olu.locator("main").inner_text()
    priya.goto(rejected_url)
    assert priya.get_by_test_id("extract-status").inner_text() == "rejected"
    assert priya.get_by_test_id("rejection-reason").inner_text() == why
    assert "ig.olu" in priya.get_by_test_id("rejection").inner_text()
    priya.goto(f"{live.base}/ui/extracts/{extract_id}")

    deadline = time.time() + 240
    while True:
        priya.goto(f"{live.base}/ui/extracts/{extract_id}")
        status = priya.get_by_test_id("extract-status").inner_text()
        if status in ("ready", "failed") or time.time() > deadline:
            break
        time.sleep(1)
    assert status == "ready"
    report = priya.get_by_test_id("extract-report").inner_text()
    assert "k = 5 required" in report
    shot(priya, "09-analyst-extract-ready")
    with priya.expect_download() as got:
        press(priya.get_by_test_id("download-csv"))
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert rows and "pseudonym" in rows[0] and all(r["pseudonym"].startswith("r") for r in rows)
    assert not any(re.search(r"\bP[0-9A-Z]{12}\b", v) for r in rows for v in r.values()), "no index ids"
    latest = live.events(actor="an.priya")[0]
    assert latest["action"] == "extracts.download" and latest["rows_released"] == len(rows)

    # Re-identification: asked from the extract, approved by two approvers, then shown to the requester.
    pseudonym = rows[0]["pseudonym"]
    priya.goto(f"{live.base}/ui/extracts/{extract_id}")
    priya.fill("#pseudonym", pseudonym)
    priya.fill("#reid-reason", "The family in this row needs an offer of support from the programme")
    press(priya.get_by_test_id("ask-reidentification"))
    assert "Two approvers" in priya.locator("main").inner_text()
    assert priya.get_by_test_id("see-answer").count() == 0
    for approver in ("ra.one", "ra.two"):
        page = new_page()
        sign_in(page, live, approver, "/ui/reidentifications")
        row = page.get_by_test_id("reidentification").filter(has_text=pseudonym)
        assert "answer" not in row.inner_text() and not re.search(r"\bP[0-9A-Z]{12}\b", page.content())
        if approver == "ra.two":
            shot(page, "10a-approver-reidentifications")
        press(row.get_by_test_id("approve-reidentification"))
        assert "Your approval is recorded" in page.locator("main").inner_text()
    priya.goto(f"{live.base}/ui/reidentifications")
    press(priya.get_by_test_id("reidentification").filter(has_text=pseudonym).get_by_test_id("see-answer"))
    person = priya.get_by_test_id("revealed-person").inner_text()
    assert re.fullmatch(r"P[0-9A-Z]{12}", person)
    reveal = live.event(page_audit_ids(priya)[0])
    assert reveal["action"] == "reidentifications.reveal" and reveal["subject_ids"] == [person]
    assert any(a["audit_id"] == reveal["id"] for a in live.api("ig.olu", "/v1/audit/alerts")["alerts"])
    for user in ("an.priya", "ra.one"):  # a listing never carries the answer; only the audited reveal does
        listed = live.api(user, "/v1/reidentifications")["reidentifications"]
        assert listed and all(r["person_id"] is None for r in listed)


# 4. IG officer --------------------------------------------------------------------------------------------


def test_ig_officer_journey(live: Live, new_page: Any) -> None:
    # Something to review: a caseworker's break-glass look at a family outside her caseload.
    alice = {p["family_id"] for p in live.api("cw.alice", "/v1/caseload")}
    ben = live.api("cw.ben", "/v1/caseload")
    family_id = next(p["family_id"] for p in ben if p["family_id"] and p["family_id"] not in alice)
    reply = httpx.get(
        f"{live.base}/v1/families/{family_id}/context",
        params={"purpose": "child_protection_enquiry"},
        headers={**bearer(live.data, "cw.alice"), "X-Break-Glass-Reason": GLASS_REASON},
        timeout=60,
    )
    assert reply.status_code == 200
    glass_event = reply.headers["x-audit-id"]
    for _ in range(60):  # enough events for a second page of the log
        httpx.get(f"{live.base}/v1/me", headers=bearer(live.data, "an.priya"), timeout=30)

    page = new_page()
    sign_in(page, live, "ig.olu", "/ui/alerts")
    card = page.locator(f"[data-testid=alert][data-kind=break_glass]:has(input[value='{glass_event}'])")
    assert card.count() == 1
    assert GLASS_REASON in card.inner_text()
    shot(page, "10-ig-alerts")
    listing = live.event(page_audit_ids(page)[0])
    assert listing["action"] == "audit.alerts" and listing["actor"] == "ig.olu"
    note = "Checked with the duty manager: police call logged, access justified"
    card.locator("input[name=note]").fill(note)
    press(card.get_by_test_id("mark-reviewed"))
    assert "marked reviewed" in page.locator("main").inner_text()
    assert card.count() == 0, "it leaves the open list"
    page.goto(f"{live.base}/ui/alerts?status=reviewed")
    reviewed = page.get_by_test_id("alert").filter(has_text=note)
    assert reviewed.count() >= 1 and "ig.olu" in reviewed.first.get_by_test_id("reviewed").inner_text()
    marking = live.events(actor="ig.olu")
    assert any(
        e["action"] == "audit.alert_review"
        and e["resource"] == f"alert/{glass_event}/break_glass"
        and e["reason"] == note
        for e in marking
    ), "marking an alert reviewed is itself audited"

    # Several at once: tick, one note, each alert gets its own audited review.
    page.goto(f"{live.base}/ui/alerts")
    outside = page.locator(
        f"[data-testid=alert][data-kind=outside_caseload]:has(input[value='{glass_event}'])"
    )
    outside.get_by_test_id("pick-alert").check()
    page.fill("#bulk-note", "Same police call as the break-glass review, checked with the duty manager")
    press(page.get_by_test_id("review-selected"))
    assert "marked reviewed" in page.locator("main").inner_text() and outside.count() == 0
    assert any(
        e["action"] == "audit.alert_review" and e["resource"] == f"alert/{glass_event}/outside_caseload"
        for e in live.events(actor="ig.olu")
    )

    # Audit search with filters and paging.
    page.goto(f"{live.base}/ui/audit")
    page.fill("#actor", "cw.alice")
    press(page.get_by_test_id("search-audit"))
    actors = page.locator("[data-testid=events] tbody tr td:nth-child(3)").all_inner_texts()
    assert actors and set(actors) == {"cw.alice"}
    shot(page, "11-ig-audit-search")
    search = live.event(page_audit_ids(page)[0])
    assert search["action"] == "audit.events" and search["rows_released"] == len(actors)
    page.goto(f"{live.base}/ui/audit")
    first_page = page.locator("[data-testid=events] tbody tr td:first-child").all_inner_texts()
    press(page.get_by_test_id("older"))
    second_page = page.locator("[data-testid=events] tbody tr td:first-child").all_inner_texts()
    assert len(first_page) == 50 and second_page
    assert int(second_page[0]) < int(first_page[-1]), "the next page continues with older events"
    press(page.get_by_test_id("newer"))  # back to the newest page (newer events may have joined it)
    newest = page.locator("[data-testid=events] tbody tr td:first-child").all_inner_texts()
    assert int(newest[0]) >= int(first_page[0]) and page.get_by_test_id("newer").count() == 0
    page.goto(f"{live.base}/ui/audit?cursor={int(first_page[-1])}&back=-")  # page 2, as "Older" led
    assert page.locator("[data-testid=events] tbody tr td:first-child").all_inner_texts() == second_page
    press(page.get_by_test_id("newer"))
    assert page.get_by_test_id("newer").count() == 0, "Newer from the second page is the newest page"

    # A purpose typed in words finds its events; a refused search keeps the form as typed.
    page.goto(f"{live.base}/ui/audit")
    page.fill("#purpose", "Child protection enquiry")
    press(page.get_by_test_id("search-audit"))
    purposes = page.locator("[data-testid=events] tbody tr td:nth-child(5)").all_inner_texts()
    assert purposes and all(p.startswith("child protection enquiry") for p in purposes)
    for _ in range(6):  # an officer's own typos, more than the five refusals that raise an alert
        page.goto(f"{live.base}/ui/audit?actor=cw.alice&since=yesterday")
        assert page.get_by_test_id("refusal").is_visible() and page.input_value("#actor") == "cw.alice"
    bursts = live.api("ig.olu", "/v1/audit/alerts", kind="denied_burst", limit=500)["alerts"]
    assert not [a for a in bursts if a["actor"] == "ig.olu"], "search typos are not repeated refusals"

    # Out-of-hours work (this server's working hours are empty): one alert per person per day.
    page.goto(f"{live.base}/ui/alerts?status=all&kind=out_of_hours")
    late = page.locator("[data-testid=alert][data-kind=out_of_hours]").filter(has_text="cw.alice")
    days = late.all_inner_texts()  # two only if the journey ran across midnight
    assert 1 <= len(days) <= 2 and any("more times that day" in d for d in days)
    page.goto(f"{live.base}/ui/audit/subjects?person_id=")
    assert page.get_by_test_id("need-person").is_visible() and "/ui/audit" in page.url

    # Per-subject report for someone in the family reached by break-glass.
    member = reply.json()["members"][0]["person_id"]
    page.goto(f"{live.base}/ui/audit/subjects/{member}")
    accesses = page.get_by_test_id("accesses").inner_text()
    assert "cw.alice" in accesses and "break-glass" in accesses
    shot(page, "12-ig-subject-report")
    event = live.event(page_audit_ids(page)[0])
    assert event["action"] == "audit.subject" and event["actor"] == "ig.olu"

    # Chain status with the latest signed checkpoint.
    page.goto(f"{live.base}/ui/chain")
    assert page.get_by_test_id("chain-ok").is_visible()
    checkpoint = page.get_by_test_id("checkpoint").inner_text()
    # The page shows a real signed checkpoint of this log. (Not "the latest" compared across two calls:
    # the sealing timer may sign a newer one between the page and a second call.)
    with sa.create_engine(f"sqlite:///{live.data / 'audit.db'}").connect() as conn:
        signed = {h for (h,) in conn.execute(sa.text("SELECT head_hash FROM audit_checkpoints"))}
    assert [h for h in signed if h in checkpoint], checkpoint
    assert live.api("ig.olu", "/v1/audit/verify")["ok"]
    shot(page, "13-ig-chain")

    # Agreements with review dates, and the Article 30 record.
    page.goto(f"{live.base}/ui/agreements")
    registry = live.api("ig.olu", "/v1/agreements")["agreements"]
    text = page.get_by_test_id("agreements").inner_text()
    for a in registry:
        assert a["id"] in text and a["review"] in text
    shot(page, "14-ig-agreements")
    page.goto(f"{live.base}/ui/ropa")
    activities = yaml.safe_load((Path(__file__).parents[1] / "policies" / "processing.yaml").read_text())
    assert page.get_by_test_id("ropa-row").count() == len(registry) + len(activities["activities"])
    assert "dpo@northbridge.gov.example" in page.get_by_test_id("ropa-controller").inner_text()
    assert "Legal basis" in page.locator("main").inner_text()
    shot(page, "15-ig-ropa")


# 5. Error pages -------------------------------------------------------------------------------------------


def test_ig_governance_what_if_subject_access_pack_and_agreement_sign_off(live: Live, new_page: Any) -> None:
    """An IG officer tries ending an agreement, downloads a person's subject access pack, and a draft
    agreement goes through every sign-off in the browser, each person in their own session."""
    import datetime as dt

    olu = new_page()
    sign_in(olu, live, "ig.olu", "/ui/what-if")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    olu.select_option("#end_id", "AGR-CSC-001")
    olu.fill("#end_date", yesterday)
    press(olu.get_by_test_id("run-what-if"))
    lost = olu.get_by_test_id("change-lost")
    assert "housing.hsg_rent_accounts" in lost.inner_text() and "ended on" in lost.inner_text()
    assert olu.get_by_test_id("replayed").is_visible()
    shot(olu, "20-ig-what-if")
    assert live.api("ig.olu", "/v1/agreements/AGR-CSC-001")["end"] == "2028-03-31", (
        "the live policy is unchanged"
    )

    person = live.api("cw.alice", "/v1/caseload")[0]["person_id"]
    olu.goto(f"{live.base}/ui/audit/subjects/{person}")
    with olu.expect_download() as got:
        press(olu.get_by_test_id("pack-html"))
    pack = Path(got.value.path()).read_text()
    assert person in pack and "Who accessed your information" in pack and "Data held about you" in pack
    assert any(
        e["action"] == "audit.subject_pack" and e["subject_ids"] == [person]
        for e in live.events(actor="ig.olu")
    )

    draft = {
        "id": "AGR-EH-030",
        "title": "Rent arrears flags for early help assessments",
        "owner": {"name": "Early Help Service Manager", "contact": "earlyhelp@northbridge.gov.example"},
        "providers": ["housing", "education"],
        "recipients": [{"role": "caseworker", "department": "early_help"}],
        "purposes": {"early_help_assessment": "Assessing a family's needs for early help"},
        "legal_basis": ["Children Act 2004 s10", "UK GDPR Art 6(1)(e) (public task)"],
        "data_subjects": "Families on the early help caseload",
        "view": "flags",
        "datasets": {
            "housing.hsg_rent_accounts": ["ra_arrears_band"],
            "education.edu_exclusions": ["exc_start_date"],
        },
        "retention": "Shown, never copied",
        "start": "2027-01-01",
        "end": "2029-12-31",
        "review": "2028-06-30",
    }
    olu.goto(f"{live.base}/ui/agreements/drafts")
    olu.fill("#text", yaml.safe_dump(draft, sort_keys=False))
    press(olu.get_by_test_id("draft-submit"))
    card = olu.locator("#AGR-EH-030")
    assert "awaiting sign off" in card.get_by_test_id("draft-state").inner_text()
    for owner in ("iao.housing", "iao.education"):
        page = new_page()
        sign_in(page, live, owner, "/ui/agreements/drafts")
        press(page.locator("#AGR-EH-030").get_by_test_id("sign-off"))
        assert "sign-off is recorded" in page.get_by_test_id("done").inner_text()
    olu.goto(f"{live.base}/ui/agreements/drafts")
    press(card.get_by_test_id("dpia-submit"))
    assert "DPIA checklist is recorded" in olu.get_by_test_id("done").inner_text()
    dana = new_page()
    sign_in(dana, live, "dpo.dana", "/ui/agreements/drafts")
    press(dana.locator("#AGR-EH-030").get_by_test_id("dpo-approve"))
    assert "approved" in dana.locator("#AGR-EH-030").get_by_test_id("draft-state").inner_text()
    shot(dana, "21-dpo-draft-approved")
    steps = [
        e for e in live.events() if e["resource"] == "agreements/AGR-EH-030" and e["decision"] == "allow"
    ]
    assert sorted(e["action"] for e in steps) == [
        "agreement.dpia",
        "agreement.dpo_review",
        "agreement.draft",
        "agreement.sign_off",
        "agreement.sign_off",
    ]


def test_a_partner_sends_a_file_and_sees_what_was_wrong_line_by_line(
    live: Live, new_page: Any, tmp_path: Path
) -> None:
    """The police's exchange account sends a file with a bad date (refused, the line and field shown,
    nothing kept), then the corrected file (received, counts only); a child it names then shows the
    police's flag on their caseworker's family page."""
    import sqlite3

    with sqlite3.connect(live.data / "stores" / "education.db") as con:
        pupils = con.execute(
            "SELECT pup_forename, pup_surname, pup_dob FROM edu_pupils WHERE pup_forename IS NOT NULL "
            "AND pup_dob IS NOT NULL LIMIT 5"
        ).fetchall()
    # cw.alice's children, as children's social care holds them: what the police send about them becomes
    # a flag on her family page (AGR-CSC-001 makes the police a provider).
    as_of = dt.date.fromisoformat(DataDir(live.data).read_manifest()["as_of"])
    with sqlite3.connect(live.data / "stores" / "childrens_social_care.db") as con:
        restricted = {
            r[0] for r in con.execute("SELECT pers_person_id FROM ssd_person WHERE pers_restricted = 'Y'")
        }
    with sqlite3.connect(live.data / "gateway.db") as con:
        csc = dict(
            con.execute("SELECT person_id, local_id FROM index_xref WHERE source = 'childrens_social_care'")
        )
    children = [
        p
        for p in live.api("cw.alice", "/v1/caseload")
        if p["relationship"] == "allocated"
        and p["family_id"]
        and csc.get(p["person_id"]) not in (None, *restricted)
    ]
    children = [p for p in children if all(csc_details(live.data, p["person_id"])[:3])][:6]
    header = "schema_version,reference,incident_date,category,forename,surname,date_of_birth,postcode\n"
    lines = [
        f"1.0,NB/26/{n:04d},2026-03-30,domestic_abuse,{f},{s},{d},\n" for n, (f, s, d) in enumerate(pupils)
    ]
    told = (as_of - dt.timedelta(days=2)).isoformat()
    lines += [
        "1.0,NB/26/{:04d},{},missing_child,{},{},{},{}\n".format(
            100 + n, told, *csc_details(live.data, p["person_id"])
        )
        for n, p in enumerate(children)
    ]
    bad = tmp_path / "notifications-bad.csv"
    bad.write_text(header + "".join(lines).replace("2026-03-30", "2026-02-31", 1))
    good = tmp_path / "notifications.csv"
    good.write_text(header + "".join(lines))
    page = new_page()
    sign_in(page, live, "pt.police", "/ui/exchanges")
    page.set_input_files("#file", str(bad))
    press(page.get_by_test_id("send-file"))
    errors = page.get_by_test_id("file-errors").inner_text()
    assert "incident_date" in errors and "2" in errors
    shot(page, "23-partner-file-errors")
    page.set_input_files("#file", str(good))
    press(page.get_by_test_id("send-file"))
    received = page.get_by_test_id("received").inner_text()
    assert f"{len(lines)} records" in received and " P" not in received

    # A child the file named and the index matched shows the police's flag on cw.alice's family page.
    with sqlite3.connect(live.data / "gateway.db") as con:
        matched = con.execute(
            "SELECT row_number, person_id FROM exchange_records WHERE person_id IS NOT NULL "
            "AND exchange_id = (SELECT exchange_id FROM exchanges ORDER BY received_at DESC LIMIT 1)"
        ).fetchall()
    about_pupils = {p for n, p in matched if n <= len(pupils)}
    named = {p for n, p in matched if n > len(pupils)} - about_pupils  # told only missing_child, on `told`
    child = next(p for p in children if p["person_id"] in named)
    alice = new_page()
    sign_in(alice, live, "cw.alice")
    alice.goto(f"{live.base}/ui/families/{child['family_id']}?purpose=child_in_need_assessment")
    flags = alice.locator(f"section[aria-labelledby='m-{child['person_id']}'] table.flags").inner_text()
    assert "Police notifications (partner)" in flags and "police notification: missing child" in flags
    shot(alice, "24-partner-flag-on-the-family-page")


def test_error_pages_say_what_to_do_next(live: Live, new_page: Any) -> None:
    page = new_page()
    sign_in(page, live, "an.priya")
    response = page.goto(f"{live.base}/ui/no-such-page")
    assert response.status == 404
    assert page.get_by_test_id("error-title").inner_text() == "Page not found"
    assert "What to do next" in page.locator("main").inner_text()
    shot(page, "16-error-404")

    response = page.goto(f"{live.base}/ui/caseload")  # an analyst has no caseload
    assert response.status == 403
    assert page.get_by_test_id("error-title").inner_text() == "You do not have access to this"
    assert "information-governance officer" in page.locator("main").inner_text()
    shot(page, "17-error-403")
    (denied,) = page_audit_ids(page)
    assert live.event(denied)["decision"] == "deny"

    response = page.goto(f"{live.base}/ui/extracts/00000000-0000-0000-0000-000000000000")
    assert response.status == 404

    # A session whose token no longer verifies goes back to sign-in, saying why.
    page.context.add_cookies(
        [{"name": "gateway_session", "value": "x.y.z", "domain": "127.0.0.1", "path": "/ui"}]
    )
    page.goto(f"{live.base}/ui/tables")
    assert "/ui/sign-in" in page.url
    assert "session has ended" in page.get_by_test_id("sign-in-message").inner_text()


def test_api_docs_render_offline(live: Live, new_page: Any) -> None:
    """/docs and /redoc draw the operations from packaged files: every request to another host is
    refused, as on a machine with no internet, and the pages still list the /v1 operations. (ReDoc's
    footer asks its CDN for a logo image; the page does not need it.)"""
    page = new_page()
    outside: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(live.base):
            route.continue_()
        else:
            if route.request.resource_type != "image":
                outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{live.base}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/v1/extracts") for p in operations), operations[:5]
    assert len(operations) >= 25
    page.goto(f"{live.base}/redoc")
    page.get_by_text("/v1/persons/{person_id}/flags", exact=True).first.wait_for(timeout=60_000)
    assert not outside, f"the docs needed code from elsewhere: {outside}"


def test_the_readme_commands_answer_as_the_readme_says(live: Live) -> None:
    """The README's curl lines, run as written against a live demo (only the port and data dir
    changed): every one answers 200 or 202, and its first table publishes something."""
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## Using it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    # From the first curl on: the API calls (seeding, linking and serving are what the live demo did).
    calls = block[block.index("curl") :]
    gateway = f"{shlex.quote(sys.executable)} -m gateway.cli"
    calls = calls.replace("localhost:8000", live.base.removeprefix("http://"))
    calls = calls.replace(".venv/bin/gateway", gateway).replace("--data-dir var", f"--data-dir {live.data}")
    calls = calls.replace("curl -s", "curl -s -w '\\nHTTP %{http_code}\\n'")
    commands = [c for c in calls.splitlines() if c.startswith(("curl", "TOKEN="))]
    assert len(commands) >= 6
    script = ["set -e", calls]
    run = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    statuses = re.findall(r"^HTTP (\d{3})$", run.stdout, re.M)
    assert len(statuses) == sum(c.startswith("curl") for c in commands)
    assert set(statuses) <= {"200", "202"}, run.stdout[-2000:]
    bodies = [json.loads(b) for b in re.split(r"\nHTTP \d{3}\n", run.stdout) if b.strip()]
    table = next(b for b in bodies if isinstance(b, dict) and "rows" in b and "disclosure" in b)
    published = [r for r in table["rows"] if r["status"] != "suppressed"]
    print(f"README table: {len(published)} of {len(table['rows'])} cells published")
    assert published, "the README's first table publishes at least one cell"
