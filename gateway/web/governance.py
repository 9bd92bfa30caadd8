"""IG officer pages: the audit log, a person's access report, alerts to review, the chain's status,
the extract approvals queue, the agreement registry and the Article 30 record.

Every one is an audited `/v1` call; marking an alert reviewed and deciding an extract are POSTs that
the API records as events of their own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.web.pages import error_page, render
from gateway.web.session import User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 50
FILTERS = ("actor", "subject", "purpose", "decision", "since", "until")
ALERT_LABELS = {
    "break_glass": "Break-glass used",
    "outside_caseload": "Outside caseload",
    "reidentification": "Re-identification",
    "protected_access": "Protected person",
    "out_of_hours": "Out of hours",
    "unusual_volume": "Unusual volume",
    "denied_burst": "Repeated refusals",
}
DECIDED = {"approve": "approved", "reject": "rejected"}
DONE = {
    "reviewed": "The alert is marked reviewed. The marking is recorded in the audit log.",
    "approved": "The extract is approved and is being built.",
    "rejected": "The extract request is rejected.",
}


@router.get("/audit")
async def audit_log(request: Request, user: User) -> Response:
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in FILTERS}
    cursor = q.get("cursor") or None
    listing = await request.app.state.web_api.for_page(request, user).get(
        "/v1/audit/events", {**filters, "limit": PAGE_SIZE, "cursor": cursor}
    )
    kept = {k: v for k, v in filters.items() if v}
    older = (
        "/ui/audit?" + urlencode({**kept, "cursor": listing["next_cursor"]})
        if listing["next_cursor"]
        else None
    )
    return render(
        request,
        "ig/audit.html",
        user,
        events=listing["events"],
        filters=filters,
        older=older,
        newest="/ui/audit?" + urlencode(kept) if cursor else None,
    )


@router.get("/audit/subjects")
async def find_subject(person_id: str = "") -> Response:
    # Quoted as one path segment: whatever is typed stays inside this page's address.
    return RedirectResponse(f"/ui/audit/subjects/{quote(person_id.strip(), safe='')}", status_code=303)


@router.get("/audit/subjects/{person_id}")
async def subject_report(request: Request, user: User, person_id: str) -> Response:
    report = await request.app.state.web_api.for_page(request, user).get(f"/v1/audit/subjects/{person_id}")
    by_actor: dict[str, int] = {}
    for a in report["accesses"]:
        by_actor[a["who"]] = by_actor.get(a["who"], 0) + 1
    return render(request, "ig/subject.html", user, report=report, by_actor=by_actor)


@router.get("/alerts")
async def alerts(
    request: Request,
    user: User,
    status: str = "open",
    kind: str | None = None,
    page: int = 1,
    done: str | None = None,
) -> Response:
    """Newest first, a page at a time, narrowed by status and by kind (with the count of each)."""
    status = status if status in ("open", "reviewed", "all") else "open"
    kind = kind if kind in ALERT_LABELS else None
    api = request.app.state.web_api.for_page(request, user)
    query: dict[str, Any] = {"status": status, "order": "newest", "limit": PAGE_SIZE}
    if kind:
        query["kind"] = kind
    page = max(1, page)
    found = await api.get("/v1/audit/alerts", {**query, "offset": (page - 1) * PAGE_SIZE})
    total = found["total"]
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # past the end (alerts were reviewed meanwhile): show the last page
        page = pages
        found = await api.get("/v1/audit/alerts", {**query, "offset": (page - 1) * PAGE_SIZE})
    return render(
        request,
        "ig/alerts.html",
        user,
        alerts=found["alerts"],
        status=status,
        kind=kind,
        kinds=found["kinds"],
        total=total,
        page=page,
        pages=pages,
        labels=ALERT_LABELS,
        done=DONE.get(done or ""),
    )


@router.post("/alerts/review")
async def review_alert(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    body = {
        "audit_id": str(form.get("audit_id") or ""),
        "kind": str(form.get("kind") or ""),
        "note": str(form.get("note") or "").strip(),  # the API says what a note needs
    }
    await request.app.state.web_api.for_page(request, user).post("/v1/audit/alerts/review", body)
    return RedirectResponse("/ui/alerts?done=reviewed", status_code=303)


@router.get("/chain")
async def chain(request: Request, user: User) -> Response:
    status = await request.app.state.web_api.for_page(request, user).get("/v1/audit/verify")
    return render(request, "ig/chain.html", user, chain=status)


@router.get("/approvals")
async def approvals(request: Request, user: User, done: str | None = None) -> Response:
    # The queue itself: the API refuses (and audits) anyone who may not approve.
    listing = await request.app.state.web_api.for_page(request, user).get(
        "/v1/extracts", {"approvals": "true"}
    )
    pending = [e for e in listing["extracts"] if e["status"] == "pending_approval"]
    decided = [e for e in listing["extracts"] if e["status"] != "pending_approval"][:20]
    return render(
        request, "ig/approvals.html", user, pending=pending, decided=decided, done=DONE.get(done or "")
    )


@router.post("/approvals/{extract_id}")
async def decide_extract(request: Request, user: User, extract_id: str) -> Response:
    form = await checked_form(request, user)
    verb = form.get("decision")
    if verb not in ("approve", "reject"):  # never a default: a malformed form decides nothing
        return error_page(request, 400, "bad_request", "choose approve or reject")
    api = request.app.state.web_api.for_page(request, user)
    body = {"acknowledge": form.getlist("acknowledge")} if verb == "approve" else None
    await api.post(f"/v1/extracts/{extract_id}/{verb}", body)
    return RedirectResponse(f"/ui/approvals?done={DECIDED[verb]}", status_code=303)


def _review_state(agreement: dict[str, Any], today: dt.date) -> str:
    review = dt.date.fromisoformat(agreement["review"])
    if review < today:
        return "overdue"
    return "due" if (review - today).days <= 60 else "ok"


@router.get("/agreements")
async def agreements(request: Request, user: User) -> Response:
    listing = await request.app.state.web_api.for_page(request, user).get("/v1/agreements")
    today = request.app.state.policy.today()
    rows = [{**a, "review_state": _review_state(a, today)} for a in listing["agreements"]]
    return render(request, "ig/agreements.html", user, agreements=rows, today=today)


@router.get("/ropa")
async def ropa(request: Request, user: User) -> Response:
    record = await request.app.state.web_api.for_page(request, user).get("/v1/ropa")
    return render(request, "ig/ropa.html", user, record=record)
