"""JSON request bodies parsed inside the route, so that even a malformed one is audited as asked."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway.api.audit_trail import AuditRecord
from gateway.refusal import Refused

MAX_BODY = 64 * 1024
AUDITED_BODY_CHARS = 4000
M = TypeVar("M", bound=BaseModel)


def first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


async def parse_body(request: Request, model: type[M], ctx: AuditRecord) -> M:
    """Read, record (in the audit context) and validate a JSON body; 413, 400 or 422 with a reason."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Refused(413, "payload_too_large", f"the request body is over {MAX_BODY // 1024} KiB")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise Refused(400, "bad_request", "the request body is not JSON") from exc
    ctx["request"] = {"raw": json.dumps(body, sort_keys=True)[:AUDITED_BODY_CHARS]}
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Refused(422, "invalid_request", first_error(exc)) from exc


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route parses itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }
