"""JSON request bodies parsed inside the route, so that even a malformed one is audited as asked."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from audit.record import AuditRecord
from gateway.refusal import Refused

MAX_BODY = 64 * 1024
AUDITED_BODY_CHARS = 4000
M = TypeVar("M", bound=BaseModel)


# How a value must look, in words, for the patterns requests use (the regex itself helps nobody).
PATTERN_WORDS = {
    r"^[a-z0-9][a-z0-9_\-]{1,63}$": "2 to 64 lowercase letters, digits, hyphens or underscores",
    r"^[a-z0-9][a-z0-9-]{0,59}$": "up to 60 lowercase letters, digits and hyphens, from a letter or digit",
    r"^AGR-[A-Z0-9-]{1,60}$": "an agreement id such as AGR-INS-003",
}


def _where(loc: tuple[Any, ...]) -> str:
    """The field the error is about, without pydantic's type tags ("filters.ward", not
    "filters.ward.bool" or "...function-after[_bounded(), Range]")."""
    parts = []
    for p in loc:
        text = str(p)
        if text in ("body",) or "[" in text or text in ("bool", "int", "float", "str", "constrained-str"):
            continue
        parts.append(text)
    return ".".join(parts)


def describe(errors: list[Any]) -> str:
    """The first problem in a request, as a sentence a person can act on."""
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = _where(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    if len(errors) > 1 and all(_where(tuple(e.get("loc", ()))).startswith(where) for e in errors):
        message = "is not a value this field can take (a value, a list of values, or a range with gte/lte)"
    elif kind == "string_pattern_mismatch":
        message = f"must be {PATTERN_WORDS.get(ctx.get('pattern', ''), 'in the documented format')}"
    elif kind == "too_short":
        message = f"needs at least {ctx.get('min_length', 1)}"
    elif kind == "too_long":
        message = f"takes at most {ctx.get('max_length')}"
    elif kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a field of this request (see /docs)"
    else:
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def first_error(exc: ValidationError) -> str:
    return describe(list(exc.errors()))


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
    """OpenAPI for a body the route parses itself. Nested models are written in place: pydantic's
    `#/$defs/...` references point into a document root that an OpenAPI file does not have, and ReDoc
    stops rendering at the first one."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(
                    {**defs[ref.rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
                )
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}
