"""Partner pages: send a file under an exchange agreement and see, line by line, what was wrong with it,
or how many records were matched. The page posts to the audited `POST /v1/exchanges`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.web.api_client import ApiRefused
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)


def _agreements(request: Request, user: User) -> list[dict[str, Any]]:
    return [a for a in web_services(request).policy.open_to(user.principal) if a["view"] == "exchange"]


@router.get("/exchanges")
async def exchanges_page(request: Request, user: User) -> Response:
    schemas = await web_services(request).api.for_page(request, user).get("/v1/exchanges/schemas")
    return render(
        request,
        "exchanges.html",
        user,
        agreements=_agreements(request, user),
        schemas=schemas["schemas"],
        result=None,
    )


@router.post("/exchanges")
async def send_file(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    upload, agreement = form.get("file"), str(form.get("agreement") or "")
    result, refusal, errors = None, None, []
    api = web_services(request).api.for_page(request, user)
    if upload is None or isinstance(upload, str) or not upload.filename:
        refusal = "choose the file to send"
    else:
        data = await upload.read()
        try:
            result = await api.upload(
                "/v1/exchanges",
                {"agreement": agreement},
                ("file", upload.filename, data, upload.content_type),
            )
        except ApiRefused as refused:
            if not refused.about_the_request:
                raise
            refusal, errors = refused.detail, refused.extra.get("errors", [])
    schemas = await api.get("/v1/exchanges/schemas")
    return render(
        request,
        "exchanges.html",
        user,
        status_code=422 if refusal else 200,
        agreements=_agreements(request, user),
        schemas=schemas["schemas"],
        result=result,
        refusal=refusal,
        errors=errors,
    )
