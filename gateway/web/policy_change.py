"""IG pages for changing policy safely: try a proposed change (the what-if simulator) before anyone
edits `policies/`. The page posts the proposal to the audited `POST /v1/policy/what-if`; nothing it
does changes the live policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.web.api_client import ApiRefused
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)
KINDS = {
    "lost": "Lose access",
    "gained": "Gain access",
    "fields_changed": "Fields change",
    "basis_changed": "Allowed under another agreement or rule",
}


async def _agreements(request: Request, user: User) -> list[dict[str, Any]]:
    listing = await web_services(request).api.for_page(request, user).get("/v1/agreements")
    return listing["agreements"]


@router.get("/what-if")
async def what_if_form(request: Request, user: User) -> Response:
    return render(
        request, "ig/what_if.html", user, agreements=await _agreements(request, user), form={}, result=None
    )


@router.post("/what-if")
async def what_if(request: Request, user: User) -> Response:
    """Run the simulation and show it beside the form as it was filled in."""
    form = await checked_form(request, user)
    typed = {
        k: str(form.get(k) or "").strip() for k in ("agreement", "end_id", "end_date", "remove_id", "days")
    }
    upload = form.get("agreement_file")
    if upload is not None and not isinstance(upload, str) and upload.filename:
        typed["agreement"] = (await upload.read(64 * 1024 + 1)).decode("utf-8", errors="replace")
    body: dict[str, Any] = {"days": int(typed["days"]) if typed["days"].isdigit() else 30}
    if typed["agreement"]:
        body["agreements"] = [typed["agreement"]]
    if typed["end_id"]:
        body["end"] = {typed["end_id"]: typed["end_date"]}
    if typed["remove_id"]:
        body["remove"] = [typed["remove_id"]]
    result, refusal = None, None
    if typed["end_id"] and not typed["end_date"]:
        refusal = f"give the day {typed['end_id']} should end"
    try:
        if refusal:
            raise ApiRefused(422, "invalid_proposal", refusal)
        result = await web_services(request).api.for_page(request, user).post("/v1/policy/what-if", body)
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        refusal = refused.detail
    groups = []
    if result is not None:
        for kind, heading in KINDS.items():
            rows = [c for c in result["access"] if c["change"] == kind]
            if rows:
                groups.append({"kind": kind, "heading": heading, "rows": rows})
    return render(
        request,
        "ig/what_if.html",
        user,
        status_code=422 if refusal else 200,
        agreements=await _agreements(request, user),
        form=typed,
        result=result,
        groups=groups,
        refusal=refusal,
    )
