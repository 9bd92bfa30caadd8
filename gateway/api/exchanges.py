"""Partner exchange over HTTP (issue 23): a partner's system or officer sends a file under an agreement.

    POST /v1/exchanges                 multipart `file`, `agreement` (and `purpose`): 202 {exchange_id}
                                       or 4xx {error, detail, errors: [{line, field, problem}]}
    GET  /v1/exchanges/{exchange_id}           status and match counts (the uploader, IG officers)
    GET  /v1/exchanges/schemas                 the published schemas
    GET  /v1/exchanges/schemas/{name}          the JSON Schema of one record; `.../{name}.xsd` the XSD

Every upload is audited, refused or not; a refused file keeps nothing. The person ids found stay in the
gateway (the audit event names them, so their subject access reports list the partner's file).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as FastApiPath
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gateway.api import responses as answers
from gateway.api.audit_trail import audit_context
from gateway.api.auth import CurrentPrincipal
from gateway.api.services import services
from gateway.exchanges.service import receive
from gateway.exchanges.store import ExchangeStore
from gateway.exchanges.validate import load_schemas
from gateway.index.store import IndexMissing
from gateway.refusal import Refused

router = APIRouter(prefix="/v1/exchanges", tags=["exchanges"])
SCHEMA_NAME = r"^[a-z][a-z0-9_]{0,59}$"


@router.get("/schemas", response_model=answers.ExchangeSchemas)
def list_schemas(request: Request, _principal: CurrentPrincipal) -> dict[str, Any]:
    audit_context(request)["action"] = "exchanges.schemas"
    schemas = load_schemas(services(request).settings.policies_dir)
    return {
        "schemas": [
            {
                "name": s.name,
                "version": s.version,
                "title": s.record.get("title"),
                "fields": s.fields,
                "json_schema": f"/v1/exchanges/schemas/{s.name}",
                "xsd": f"/v1/exchanges/schemas/{s.name}.xsd",
            }
            for s in schemas.values()
        ]
    }


@router.get(
    "/schemas/{name}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/schema+json": answers.TEXT, "application/xml": answers.TEXT},
            "description": "the JSON Schema of one record, or with .xsd the XML Schema",
        }
    },
)
def get_schema(
    name: Annotated[str, FastApiPath(pattern=r"^[a-z][a-z0-9_]{0,59}(\.xsd)?$")],
    request: Request,
    _principal: CurrentPrincipal,
) -> Response:
    audit_context(request)["action"] = "exchanges.schema"
    schemas = load_schemas(services(request).settings.policies_dir)
    found = schemas.get(name.removesuffix(".xsd"))
    if found is None:
        raise Refused(404, "not_found", f"there is no published exchange schema {name!r}")
    if name.endswith(".xsd"):
        return Response(found.xsd_path.read_bytes(), media_type="application/xml")
    return Response(
        (found.folder / f"{found.name}.schema.json").read_bytes(), media_type="application/schema+json"
    )


@router.post("", status_code=202, response_model=answers.ExchangeAccepted)
async def upload(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx.update(action="exchanges.upload", resource="exchanges")
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as exc:  # a body that is not a multipart form
        raise Refused(
            400, "bad_request", "send the file as multipart/form-data with fields file and agreement"
        ) from exc
    upload_file, agreement = form.get("file"), form.get("agreement")
    purpose = form.get("purpose")
    if not isinstance(upload_file, UploadFile) or not isinstance(agreement, str) or not agreement.strip():
        raise Refused(422, "invalid_request", "send the file as `file` and the agreement's id as `agreement`")
    data = await upload_file.read()
    filename = upload_file.filename or "upload"
    ctx.update(
        agreement_id=agreement.strip()[:60],
        purpose=purpose if isinstance(purpose, str) and purpose else None,
        request={"filename": filename[:200], "bytes": len(data), "content_type": upload_file.content_type},
    )
    gateway = services(request)
    try:
        got = await run_in_threadpool(
            lambda: receive(
                dd=gateway.settings.datadir(),
                policy=gateway.policy,
                index=gateway.index,
                store=ExchangeStore(gateway.index.engine),
                principal=principal,
                agreement_id=agreement.strip(),
                purpose=purpose if isinstance(purpose, str) and purpose else None,
                filename=filename,
                content_type=upload_file.content_type,
                data=data,
            )
        )
    except IndexMissing as exc:
        raise Refused(503, "index_unavailable", str(exc)) from exc
    ctx.update(
        purpose=got.decision.purpose,
        reason=got.decision.reason,
        subject_ids=got.person_ids,
        disclosure_applied={"received": got.rows, "matched": got.matched, "exchange_id": got.exchange_id},
        resource=f"exchanges/{got.exchange_id}",
    )
    return {
        "exchange_id": got.exchange_id,
        "status": "received",
        "rows": got.rows,
        "matched": got.matched,
        "possible_matches": got.possible,
        "unmatched": got.rows - got.matched - got.possible,
    }


@router.get("/{exchange_id}", response_model=answers.ExchangeStatus)
def status(
    exchange_id: Annotated[str, FastApiPath(pattern=r"^X[0-9A-F]{16}$")],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    ctx = audit_context(request)
    ctx.update(action="exchanges.status", resource=f"exchanges/{exchange_id}")
    gateway = services(request)
    found = ExchangeStore(gateway.index.engine).get(exchange_id)
    overseer = gateway.policy.decide(principal, "review", "audit", "audit_oversight").allow
    if found is None or (found["uploader"] != principal.sub and not overseer):
        raise Refused(404, "not_found", f"there is no exchange {exchange_id} of yours")
    return {k: v for k, v in found.items()}
