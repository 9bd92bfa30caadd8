"""Analyst pages: the table builder (a protected aggregate, its chart and CSV) and extract requests.

A table is `POST /v1/aggregates` rendered; its cells keep the status the disclosure rules gave them
and the page explains each mark. The form is a GET so a table can be bookmarked and shared; running
it is audited each time, as is each CSV download.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.aggregates.request import MAX_DIMENSIONS
from gateway.catalogue import Catalogue
from gateway.spreadsheet import neutralise
from gateway.web.api_client import ApiRefused, PageCalls
from gateway.web.charts import bar_chart
from gateway.web.choices import chosen, purposes
from gateway.web.pages import render
from gateway.web.services import web_services
from gateway.web.session import SignedIn, User, checked_form

router = APIRouter(prefix="/ui", include_in_schema=False)
FILTER_ROWS = 3
MARKS = {
    "suppressed": ("[c]", "not shown: with its noise, fewer people than the agreement's threshold"),
    "perturbed": (
        "~",
        "published with random noise (differential privacy), then rounded: the range beside it holds the "
        "true figure 95 times in 100",
    ),
}


def _datasets(catalogue: Catalogue, kind: str) -> list[Any]:
    return [d for d in catalogue.datasets if d.kind == kind]


def parse_value(text: str) -> Any:
    """A filter as typed: `a, b` is a list; true/false (yes/no) for yes/no fields; anything else is one
    of the field's categories, as text (tables filter by categories, never by numbers)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    values: list[Any] = []
    for p in parts:
        low = p.lower()
        if low in ("true", "yes"):
            values.append(True)
        elif low in ("false", "no"):
            values.append(False)
        else:
            values.append(p)
    return values[0] if len(values) == 1 else values


def table_request(params: dict[str, str]) -> dict[str, Any]:
    """The aggregate body a table-builder form describes (the API validates it)."""
    group_by = [params[f"by{i}"] for i in range(1, MAX_DIMENSIONS + 1) if params.get(f"by{i}")]
    filters = {
        params[f"f{i}"]: parse_value(params.get(f"v{i}", ""))
        for i in range(1, FILTER_ROWS + 1)
        if params.get(f"f{i}") and params.get(f"v{i}", "").strip()
    }
    body: dict[str, Any] = {
        "purpose": params.get("purpose", ""),
        "dataset": params.get("dataset", ""),
        "measure": params.get("measure") or "count",
        "group_by": group_by,
        "filters": filters,
    }
    if body["measure"] != "count":
        body["field"] = params.get("field") or None
    return body


def _cell(value: Any) -> str:
    if value is None:
        return "All"
    return "yes" if value is True else "no" if value is False else str(value)


@router.get("/tables")
async def tables(request: Request, user: User) -> Response:
    params = dict(request.query_params)
    catalogue: Catalogue = web_services(request).catalogue
    datasets = _datasets(catalogue, "analysis")
    options = purposes(request, user, "aggregate")
    dataset = next(
        (d for d in datasets if d.name == params.get("dataset")), datasets[0] if datasets else None
    )
    picked = chosen(options, params.get("purpose"))
    result, refusal, chart, body = None, None, None, None
    if params.get("run") and dataset is not None:
        body = table_request({**params, "dataset": dataset.name})
        try:
            result = await web_services(request).api.for_page(request, user).post("/v1/aggregates", body)
        except ApiRefused as refused:
            if not refused.about_the_request:
                raise
            refusal = refused  # shown beside the form, so the analyst can change the request
        if result is not None:
            title = body["measure"] if body["measure"] == "count" else f"{body['measure']} of {body['field']}"
            chart = bar_chart(result["rows"], body["group_by"], title)
    return render(
        request,
        "analyst/tables.html",
        user,
        datasets=datasets,
        dataset=dataset,
        purposes=options,
        purpose=picked,
        params=params,
        dimensions=range(1, MAX_DIMENSIONS + 1),
        filter_rows=range(1, FILTER_ROWS + 1),
        result=result,
        body=body,
        refusal=refusal,
        chart=chart,
        marks=MARKS,
        cell=_cell,
        csv_query=str(request.url.query),
    )


@router.get("/tables.csv")
async def table_csv(request: Request, user: User) -> Response:
    body = table_request(dict(request.query_params))
    result = await web_services(request).api.for_page(request, user).post("/v1/aggregates", body)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*body["group_by"], "value", "status", "noise_sd", "interval_95_low", "interval_95_high"])
    for row in result["rows"]:
        low, high = row.get("interval_95") or (None, None)
        cells = [
            *(_cell(row.get(g)) for g in body["group_by"]),
            row["value"],
            row["status"],
            row.get("noise_sd"),
            low,
            high,
        ]
        writer.writerow([neutralise(c) for c in cells])
    name = f"{body['dataset']}-{'-'.join(body['group_by']) or 'total'}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Audit-Id": result["audit_id"]},
    )


async def _extracts_page(
    request: Request,
    user: SignedIn,
    api: PageCalls,
    dataset: str | None,
    refusal: ApiRefused | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    """The list of the analyst's requests and the request form (with a refusal beside it, if any)."""
    catalogue: Catalogue = web_services(request).catalogue
    datasets = _datasets(catalogue, "extract")
    listing = await api.get("/v1/extracts")
    form = form or {}
    picked = next((d for d in datasets if d.name == dataset), datasets[0] if datasets else None)
    options = purposes(request, user, "extract")
    if picked is not None:  # only agreements that share this dataset, and only the fields they share
        options = [p for p in options if picked.name in _shared(request, p.agreement_id)]
    wanted = str(form.get("purpose") or "")
    purpose = next(
        (p for p in options if f"{p.agreement_id}|{p.name}" == wanted), options[0] if options else None
    )
    shared = set(_shared(request, purpose.agreement_id).get(picked.name, [])) if purpose and picked else set()
    return render(
        request,
        "analyst/extracts.html",
        user,
        status_code=refusal.status if refusal else 200,
        extracts=[e for e in listing["extracts"] if e["requester"] == user.principal.sub],
        datasets=datasets,
        dataset=picked,
        purposes=options,
        purpose=purpose,
        shared=shared,
        refusal=refusal,
        form=form,
    )


def _shared(request: Request, agreement_id: str) -> dict[str, list[str]]:
    """The datasets and fields an agreement shares (policy metadata: the request is still decided anew)."""
    agreement = web_services(request).policy.registry.get(agreement_id)
    return dict(agreement.datasets) if agreement else {}


@router.get("/extracts")
async def extracts(
    request: Request, user: User, dataset: str | None = None, purpose: str | None = None
) -> Response:
    api = web_services(request).api.for_page(request, user)
    return await _extracts_page(request, user, api, dataset, form={"purpose": purpose} if purpose else None)


@router.post("/extracts")
async def request_extract(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    agreement, _, purpose = str(form.get("purpose") or "").partition("|")
    body = {
        "purpose": purpose,
        "agreement": agreement,
        "project": str(form.get("project") or "").strip(),
        "dataset": str(form.get("dataset") or ""),
        "fields": [str(f) for f in form.getlist("fields")],
    }
    api = web_services(request).api.for_page(request, user)
    try:
        made = await api.post("/v1/extracts", body)
    except ApiRefused as refused:
        if not refused.about_the_request:
            raise
        kept = {**body, "purpose": f"{agreement}|{purpose}"}
        return await _extracts_page(request, user, api, str(body["dataset"]), refused, kept)
    return RedirectResponse(f"/ui/extracts/{made['extract_id']}?done=requested", status_code=303)


@router.get("/extracts/{extract_id}")
async def extract(request: Request, user: User, extract_id: str, done: str | None = None) -> Response:
    found = await web_services(request).api.for_page(request, user).get(f"/v1/extracts/{extract_id}")
    return render(request, "analyst/extract.html", user, extract=found, done=done)


@router.get("/extracts/{extract_id}/data")
async def extract_data(request: Request, user: User, extract_id: str, format: str = "csv") -> Response:
    got = (
        await web_services(request)
        .api.for_page(request, user)
        .download(f"/v1/extracts/{extract_id}/data", {"format": format})
    )
    name = got.filename or f"extract-{extract_id}.{format}"
    return Response(
        got.content,
        media_type=got.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
