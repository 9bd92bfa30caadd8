"""IG pages for changing policy safely: try a proposed change (the what-if simulator) before anyone
edits `policies/`, and take a draft agreement through its lifecycle (sign-offs, DPIA, DPO review).
Every page calls the audited API; nothing here writes the live policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

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


LIFECYCLE_DONE = {
    "drafted": "The draft is saved. Each providing service's information asset owner signs it off next.",
    "signed": "Your sign-off is recorded in the audit log.",
    "dpia": "The DPIA checklist is recorded. The data protection officer reviews the draft next.",
    "approve": "The draft is approved. Merge its file into policies/agreements/ through the usual review; "
    "it comes into force from its start date.",
    "reject": "The draft is rejected; the IG officer sees your note.",
}


async def _drafts_page(request: Request, user: User, done: str | None = None, **extra: Any) -> Response:
    listing = await web_services(request).api.for_page(request, user).get("/v1/agreements/drafts")
    return render(
        request,
        "ig/drafts.html",
        user,
        status_code=422 if extra.get("refusal") else 200,
        drafts=listing["drafts"],
        questions=listing["dpia_questions"],
        done=LIFECYCLE_DONE.get(done or ""),
        **{"typed": "", "refusal": None, "refused_id": None, **extra},
    )


@router.get("/agreements/drafts")
async def drafts(request: Request, user: User, done: str | None = None) -> Response:
    return await _drafts_page(request, user, done)


@router.post("/agreements/drafts")
async def propose_draft(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    text = str(form.get("text") or "")
    try:
        await web_services(request).api.for_page(request, user).post("/v1/agreements/drafts", {"text": text})
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        return await _drafts_page(request, user, refusal=refused.detail, typed=text)
    return RedirectResponse("/ui/agreements/drafts?done=drafted", status_code=303)


@router.post("/agreements/drafts/{agreement_id}/{step}")
async def lifecycle_step(request: Request, user: User, agreement_id: str, step: str) -> Response:
    """Sign-off, DPIA or DPO review of one draft; the API decides who may and in what order."""
    form = await checked_form(request, user)
    note = str(form.get("note") or "").strip()
    body: dict[str, Any]
    if step == "sign-off":
        body, done = {"note": note}, "signed"
    elif step == "dpia":
        answers = {
            key.removeprefix("answer_"): {
                "answer": str(value),
                "note": str(form.get(f"note_{key[7:]}") or ""),
            }
            for key, value in form.items()
            if key.startswith("answer_")
        }
        body, done = {"answers": answers}, "dpia"
    elif step == "dpo-review" and form.get("decision") in ("approve", "reject"):
        body, done = {"decision": str(form.get("decision")), "note": note}, str(form.get("decision"))
    else:
        raise ApiRefused(400, "bad_request", "choose sign-off, the DPIA or approve or reject")
    try:
        await (
            web_services(request)
            .api.for_page(request, user)
            .post(f"/v1/agreements/drafts/{quote(agreement_id, safe='')}/{step}", body)
        )
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        return await _drafts_page(request, user, refusal=refused.detail, refused_id=agreement_id)
    return RedirectResponse(f"/ui/agreements/drafts?done={done}#{agreement_id}", status_code=303)


@router.get("/agreements/drafts/{agreement_id}/file")
async def draft_file(request: Request, user: User, agreement_id: str) -> Response:
    got = (
        await web_services(request)
        .api.for_page(request, user)
        .download(f"/v1/agreements/drafts/{quote(agreement_id, safe='')}/file")
    )
    return Response(
        got.content,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{agreement_id}.yaml"'},
    )
