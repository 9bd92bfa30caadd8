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

from gateway.web.api_client import ApiRefused
from gateway.web.pages import error_page, render
from gateway.web.services import web_services
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
    "reviewed-many": "The ticked alerts are marked reviewed, each recorded in the audit log.",
    "reviewed-some": "Some of the ticked alerts are marked reviewed; the others stay open because you may "
    "not review them (your own action, or an overseer's).",
    "approved": "The extract is approved and is being built.",
    "rejected": "The extract request is rejected.",
}


def as_purpose(typed: str) -> str:
    """A purpose as people type it ("Child protection enquiry") in the form the log keeps it."""
    return "_".join(typed.lower().replace("-", " ").split())


@router.get("/audit")
async def audit_log(request: Request, user: User, need: str | None = None) -> Response:
    """Newest first, a page at a time. The cursors of the pages before this one travel in `back`, so
    "Newer" returns exactly to the previous page; a refused search keeps the form as typed."""
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in FILTERS}
    filters["purpose"] = as_purpose(filters["purpose"])
    cursor = q.get("cursor") or None
    back = [c for c in q.get("back", "").split(",") if c] if cursor else []
    kept = {k: v for k, v in filters.items() if v}
    refusal, events, next_cursor = None, [], None
    try:
        listing = (
            await web_services(request)
            .api.for_page(request, user)
            .get("/v1/audit/events", {**kept, "limit": PAGE_SIZE, "cursor": cursor})
        )
        events, next_cursor = listing["events"], listing["next_cursor"]
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        refusal = refused.detail
    older = (
        "/ui/audit?" + urlencode({**kept, "cursor": next_cursor, "back": ",".join([*back, cursor or "-"])})
        if next_cursor
        else None
    )
    newer = None
    if cursor:
        previous = back[-1] if back else "-"
        newer_query = {**kept, "back": ",".join(back[:-1])} if previous != "-" else dict(kept)
        if previous != "-":
            newer_query["cursor"] = previous
        newer = "/ui/audit?" + urlencode({k: v for k, v in newer_query.items() if v})
    return render(
        request,
        "ig/audit.html",
        user,
        status_code=400 if refusal else 200,
        events=events,
        filters=filters,
        refusal=refusal,
        older=older,
        newer=newer,
        newest="/ui/audit?" + urlencode(kept) if cursor else None,
        need_person=need == "person_id",
    )


@router.get("/audit/people")
async def find_person(
    request: Request, user: User, name: str = "", date_of_birth: str = "", nhs_number: str = ""
) -> Response:
    """A subject access request starts from a name and date of birth, or an NHS number: the
    candidates, best first, each linking to their access report."""
    query = {
        k: v.strip()
        for k, v in (("name", name), ("date_of_birth", date_of_birth), ("nhs_number", nhs_number))
        if v.strip()
    }
    candidates, refusal = None, None
    if query:
        try:
            found = await web_services(request).api.for_page(request, user).get("/v1/audit/subjects", query)
            candidates = found["candidates"]
        except ApiRefused as refused:
            if not refused.about_the_request:
                raise
            refusal = refused.detail
    return render(
        request,
        "ig/find_person.html",
        user,
        status_code=422 if refusal else 200,
        query=query,
        candidates=candidates,
        refusal=refusal,
    )


@router.get("/audit/subjects")
async def find_subject(person_id: str = "") -> Response:
    if not person_id.strip():  # back to the form, saying what it needs (never a redirect to itself)
        return RedirectResponse("/ui/audit?need=person_id#access-report", status_code=303)
    # Quoted as one path segment: whatever is typed stays inside this page's address.
    return RedirectResponse(f"/ui/audit/subjects/{quote(person_id.strip(), safe='')}", status_code=303)


@router.get("/audit/subjects/{person_id}/pack")
async def subject_pack(request: Request, user: User, person_id: str, format: str = "html") -> Response:
    """The subject access pack as a file; the API audits it as an access to the person."""
    got = (
        await web_services(request)
        .api.for_page(request, user)
        .download(f"/v1/audit/subjects/{quote(person_id, safe='')}/pack", {"format": format})
    )
    name = got.filename or f"subject-access-{person_id}.{format}"
    return Response(
        got.content,
        media_type=got.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/audit/subjects/{person_id}")
async def subject_report(request: Request, user: User, person_id: str) -> Response:
    report = await web_services(request).api.for_page(request, user).get(f"/v1/audit/subjects/{person_id}")
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
    api = web_services(request).api.for_page(request, user)
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
    await web_services(request).api.for_page(request, user).post("/v1/audit/alerts/review", body)
    return RedirectResponse("/ui/alerts?done=reviewed", status_code=303)


@router.post("/alerts/review-selected")
async def review_selected(request: Request, user: User) -> Response:
    """Mark every ticked alert reviewed with one note: one audited API review per alert, so each keeps
    its own record; those the API refuses (one's own action, an overseer's) are listed with why."""
    form = await checked_form(request, user)
    note = str(form.get("note") or "").strip()
    picked = [str(v) for v in form.getlist("alert") if ":" in str(v)]
    if not picked:
        raise ApiRefused(422, "invalid_request", "tick at least one alert to mark it reviewed")
    api = web_services(request).api.for_page(request, user)
    refused: list[str] = []
    for value in picked:
        audit_id, kind = value.split(":", 1)
        try:
            await api.post("/v1/audit/alerts/review", {"audit_id": audit_id, "kind": kind, "note": note})
        except ApiRefused as exc:
            if not exc.about_the_request:
                raise
            refused.append(exc.detail)
    if refused and len(refused) == len(picked):
        raise ApiRefused(403 if "own action" in refused[0] else 422, "not_reviewed", refused[0])
    back = str(form.get("back") or "/ui/alerts")
    back = back if back.startswith("/ui/alerts") else "/ui/alerts"
    done = "reviewed-some" if refused else "reviewed-many"
    return RedirectResponse(f"{back}&done={done}", status_code=303)


@router.get("/chain")
async def chain(request: Request, user: User) -> Response:
    status = await web_services(request).api.for_page(request, user).get("/v1/audit/verify")
    return render(request, "ig/chain.html", user, chain=status)


@router.get("/approvals")
async def approvals(request: Request, user: User, done: str | None = None) -> Response:
    # The queue itself: the API refuses (and audits) anyone who may not approve.
    listing = (
        await web_services(request).api.for_page(request, user).get("/v1/extracts", {"approvals": "true"})
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
    api = web_services(request).api.for_page(request, user)
    body: dict[str, Any] = (
        {"acknowledge": form.getlist("acknowledge")}
        if verb == "approve"
        else {"reason": str(form.get("reason") or "").strip()}  # the API says what a reason needs
    )
    await api.post(f"/v1/extracts/{extract_id}/{verb}", body)
    return RedirectResponse(f"/ui/approvals?done={DECIDED[verb]}", status_code=303)


def _review_state(agreement: dict[str, Any], today: dt.date) -> str:
    review = dt.date.fromisoformat(agreement["review"])
    if review < today:
        return "overdue"
    return "due" if (review - today).days <= 60 else "ok"


@router.get("/agreements")
async def agreements(request: Request, user: User) -> Response:
    listing = await web_services(request).api.for_page(request, user).get("/v1/agreements")
    today = web_services(request).policy.today()
    rows = [{**a, "review_state": _review_state(a, today)} for a in listing["agreements"]]
    return render(request, "ig/agreements.html", user, agreements=rows, today=today)


@router.get("/ropa")
async def ropa(request: Request, user: User) -> Response:
    record = await web_services(request).api.for_page(request, user).get("/v1/ropa")
    return render(request, "ig/ropa.html", user, record=record)
