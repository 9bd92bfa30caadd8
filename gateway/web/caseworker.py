"""Caseworker pages: my caseload, a family's context, and break-glass.

The family page is `GET /v1/families/{id}/context` rendered: the API decides whether the family is
reachable (on the caseload, or break-glass) and audits the view before the page is drawn. Editing the
URL to another worker's family gets the API's `not_on_caseload` refusal and the break-glass form,
never the family.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.departments import labels
from gateway.departments.partners import partner_labels
from gateway.header_text import encode_header_text
from gateway.policy.justification import BREAK_GLASS_MIN
from gateway.web.api_client import ApiRefused
from gateway.web.choices import chosen, purposes
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)

SERVICE_LABELS = labels()
SERVICE_STATES = {
    "ok": "Known",
    "not_known": "Not known",
    "not_permitted": "Not shared for this purpose",
    "unavailable": "Unavailable: the service's system did not answer, so it is not known whether "
    "they hold anything",
}


def family_name(members: list[dict[str, Any]]) -> str:
    """A family as a worker would say it: its surnames and the first names of who is on the caseload
    ("Okafor family: Alice, Ben"), from the caller's own records; the id only when no name is held."""
    names = [str(m["name"]) for m in members if m.get("name")]
    if not names:
        return ""
    surnames = list(dict.fromkeys(n.split()[-1] for n in names))
    firsts = ", ".join(n.split()[0] for n in names)
    return f"{' and '.join(surnames[:2])} family: {firsts}"


def _families(items: list[dict[str, Any]]) -> OrderedDict[str, list[dict[str, Any]]]:
    grouped: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for item in items:
        grouped.setdefault(item["family_id"] or "", []).append(item)
    return grouped


FAMILIES_PER_PAGE = 10


@router.get("/caseload")
async def caseload(
    request: Request, user: User, purpose: str | None = None, page: int = 1, find: str = ""
) -> Response:
    """A page of families at a time, optionally only those with a member whose name contains `find`."""
    api = web_services(request).api.for_page(request, user)
    items = await api.get("/v1/caseload")
    options = purposes(request, user, "flags")
    families: dict[str, list[dict[str, Any]]] = dict(_families(items))
    wanted = find.strip().lower()
    if wanted:
        families = {
            f: ms for f, ms in families.items() if any(wanted in (m["name"] or "").lower() for m in ms)
        }
    pages = max(1, -(-len(families) // FAMILIES_PER_PAGE))
    page = min(max(1, page), pages)
    shown = dict(list(families.items())[(page - 1) * FAMILIES_PER_PAGE : page * FAMILIES_PER_PAGE])
    return render(
        request,
        "caseworker/caseload.html",
        user,
        families=shown,
        family_count=len(families),
        family_name=family_name,
        people=len(items),
        purposes=options,
        purpose=chosen(options, purpose),
        page=page,
        pages=pages,
        find=find.strip(),
    )


async def _context(
    request: Request, user: User, family_id: str, purpose: str | None, reason: str | None
) -> Response:
    options = purposes(request, user, "flags")
    picked = chosen(options, purpose)
    api = web_services(request).api.for_page(request, user)
    headers = None
    if reason is not None:
        # A header is one line of ASCII: line breaks folded, anything beyond ASCII sent as RFC 8187 UTF-8.
        reason = " ".join(reason.split())
        headers = {"X-Break-Glass-Reason": encode_header_text(reason)}
    try:
        context = await api.get(
            f"/v1/families/{family_id}/context",
            {"purpose": picked.name if picked else purpose or ""},
            headers=headers,
        )
    except ApiRefused as refused:
        if refused.code == "not_on_caseload" or (reason is not None and refused.status == 400):
            return render(
                request,
                "caseworker/break_glass.html",
                user,
                status_code=refused.status,
                family_id=family_id,
                purposes=options,
                purpose=picked,
                refusal=refused.detail,
                reason=reason or "",
                minimum=BREAK_GLASS_MIN,
            )
        raise
    return render(
        request,
        "caseworker/family.html",
        user,
        family=context,
        purposes=options,
        purpose=picked,
        labels={**SERVICE_LABELS, **partner_labels(web_services(request).settings.policies_dir)},
        states=SERVICE_STATES,
        reason=reason,
    )


@router.get("/families/{family_id}")
async def family(request: Request, user: User, family_id: str, purpose: str | None = None) -> Response:
    return await _context(request, user, family_id, purpose, None)


@router.post("/families/{family_id}/break-glass")
async def break_glass(request: Request, user: User, family_id: str) -> Response:
    form = await checked_form(request, user)
    reason = str(form.get("reason") or "")
    return await _context(request, user, family_id, str(form.get("purpose") or ""), reason)


@router.get("/people")
async def find_people(
    request: Request,
    user: User,
    name: str = "",
    date_of_birth: str = "",
    nhs_number: str = "",
    purpose: str = "",
) -> Response:
    """Find a person by name and date of birth, or NHS number, among the caller's caseload and families
    (`GET /v1/persons/search`); with a break-glass reason (the form below, a POST), among everyone."""
    return await _search(
        request, user, {"name": name, "date_of_birth": date_of_birth, "nhs_number": nhs_number}, purpose, None
    )


@router.post("/people")
async def find_people_break_glass(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    query = {
        k: str(form.get(k) or "") for k in ("name", "date_of_birth", "nhs_number", "address_line", "postcode")
    }
    return await _search(request, user, query, str(form.get("purpose") or ""), str(form.get("reason") or ""))


async def _search(
    request: Request, user: User, query: dict[str, str], purpose: str, reason: str | None
) -> Response:
    options = purposes(request, user, "flags")
    picked = chosen(options, purpose)
    given = {k: v.strip() for k, v in query.items() if v.strip()}
    candidates, refusal, searched = None, None, None
    if given:
        headers = None
        if reason is not None:
            headers = {"X-Break-Glass-Reason": encode_header_text(" ".join(reason.split()))}
        try:
            found = (
                await web_services(request)
                .api.for_page(request, user)
                .get(
                    "/v1/persons/search",
                    {**given, "purpose": picked.name if picked else purpose},
                    headers=headers,
                )
            )
            candidates, searched = found["candidates"], found["searched"]
        except ApiRefused as refused:
            if not refused.about_the_request:
                raise
            refusal = refused.detail
    return render(
        request,
        "caseworker/find_people.html",
        user,
        status_code=422 if refusal else 200,
        query=query,
        candidates=candidates,
        searched=searched,
        refusal=refusal,
        purposes=options,
        purpose=picked,
        reason=reason or "",
        minimum=BREAK_GLASS_MIN,
    )
