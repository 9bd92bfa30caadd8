"""Re-identification pages: an analyst asks who is behind a reversible pseudonym, two approvers (neither
the requester) agree, and only then can the requester see the person id.

The queue and the approvals are `/v1/reidentifications` calls; the answer is shown only on the
request's own page, whose API call is audited as a reveal naming the person.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.extracts.service import REID_APPROVERS
from gateway.web.api_client import ApiRefused
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import SignedIn, User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)
DONE = {
    "requested": "Your request is recorded. Two approvers, neither of them you, must agree before you "
    "see the answer.",
    "approved": "Your approval is recorded in the audit log.",
}


async def _queue(
    request: Request, user: SignedIn, done: str | None = None, refusal: ApiRefused | None = None
) -> Response:
    api = web_services(request).api.for_page(request, user)
    listing = await api.get("/v1/reidentifications")
    return render(
        request,
        "reidentifications.html",
        user,
        status_code=refusal.status if refusal else 200,
        requests=listing["reidentifications"],
        approver=user.has("reidentification_approver"),
        needed=REID_APPROVERS,
        done=DONE.get(done or ""),
        refusal=refusal,
    )


@router.get("/reidentifications")
async def queue(request: Request, user: User, done: str | None = None) -> Response:
    return await _queue(request, user, done)


@router.post("/reidentifications")
async def ask(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    body = {key: str(form.get(key) or "").strip() for key in ("project", "pseudonym", "reason")}
    try:
        await web_services(request).api.for_page(request, user).post("/v1/reidentifications", body)
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        return await _queue(request, user, refusal=refused)
    return RedirectResponse("/ui/reidentifications?done=requested", status_code=303)


@router.post("/reidentifications/{reid_id}/approve")
async def approve(request: Request, user: User, reid_id: str) -> Response:
    await checked_form(request, user)
    await web_services(request).api.for_page(request, user).post(f"/v1/reidentifications/{reid_id}/approve")
    return RedirectResponse("/ui/reidentifications?done=approved", status_code=303)


@router.get("/reidentifications/{reid_id}")
async def answer(request: Request, user: User, reid_id: str) -> Response:
    found = await web_services(request).api.for_page(request, user).get(f"/v1/reidentifications/{reid_id}")
    return render(request, "reidentification.html", user, found=found, needed=REID_APPROVERS)
