"""Partner files checked against the schemas the gateway publishes (`policies/exchanges/`): a JSON Schema
per record (CSV and JSON files) and an XSD (XML files), each with a version the file must state.

Every problem is reported with where it is (the line of a CSV or XML file, the record number of a JSON
file), the field, and what was wrong, so the partner's system can correct and resend; a file with any
problem is refused as a whole (nothing partial is kept).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import xmlschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from lxml import etree

from gateway.departments.partners import EXCHANGE_SCHEMAS

MAX_ERRORS = 200  # a file wrong in every row needs its first errors, not a megabyte of them


@dataclass(frozen=True)
class LineError:
    line: int  # CSV/XML: the file's line; JSON: the record's number (1 = first); 0: the whole file
    field: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "problem": self.problem}


class UnsupportedFile(ValueError):
    """The file is not one of the forms a schema describes (CSV, JSON, XML)."""


@dataclass(frozen=True)
class ExchangeSchema:
    name: str
    folder: Path

    @cached_property
    def record(self) -> dict[str, Any]:
        return json.loads((self.folder / f"{self.name}.schema.json").read_text())

    @property
    def version(self) -> str:
        return str(self.record["x-schema-version"])

    @property
    def match(self) -> dict[str, str]:
        """Linkage field -> the record's field (first_name -> forename...)."""
        return dict(self.record.get("x-match", {}))

    @property
    def xsd_path(self) -> Path:
        return self.folder / f"{self.name}.xsd"

    @cached_property
    def validator(self) -> Draft202012Validator:
        # Formats checked too ("date": 2026-02-31 matches the pattern but is no day).
        return Draft202012Validator(self.record, format_checker=Draft202012Validator.FORMAT_CHECKER)

    @cached_property
    def xsd(self) -> xmlschema.XMLSchema:
        return xmlschema.XMLSchema(str(self.xsd_path))

    @property
    def fields(self) -> list[str]:
        return list(self.record["properties"])


def load_schemas(policies_dir: Path) -> dict[str, ExchangeSchema]:
    folder = Path(policies_dir) / EXCHANGE_SCHEMAS
    return {
        p.name.removesuffix(".schema.json"): ExchangeSchema(p.name.removesuffix(".schema.json"), folder)
        for p in sorted(folder.glob("*.schema.json"))
    }


def kind_of(filename: str, content_type: str | None) -> str:
    lowered = (filename or "").lower()
    for kind in ("csv", "json", "xml"):
        if lowered.endswith(f".{kind}") or (content_type or "").endswith(f"/{kind}"):
            return kind
    raise UnsupportedFile(
        f"{filename or 'the file'} is not a CSV, JSON or XML file (by its name or content type)"
    )


def _problem(error: ValidationError) -> tuple[str, str]:
    """(field, what was wrong) in words a partner's developer can act on. The value itself is never
    repeated: it may be a name or a date of birth, and the line and field say where it is."""
    field = ".".join(str(p) for p in error.absolute_path) or ""
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "a field"
        return missing, "is required and missing"
    if error.validator == "additionalProperties":
        return field or "record", "holds fields the schema does not have"
    if error.validator == "const":
        return field, f"must be {error.validator_value!r} (this schema's version)"
    if error.validator == "enum":
        return field, f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "format":
        return field, f"must be a real {error.validator_value} (YYYY-MM-DD)"
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "pattern":
        return field, f"must be {described}" if described else "is not in the expected form"
    if error.validator in ("minLength", "maxLength"):
        bound = "at least" if error.validator == "minLength" else "at most"
        return field, f"must be {bound} {error.validator_value} characters"
    if error.validator == "type":
        return field, f"must be a {error.validator_value}"
    return field, f"breaks the schema's {error.validator!r} rule"


def _check(schema: ExchangeSchema, record: dict[str, Any], line: int) -> list[LineError]:
    return [
        LineError(line, *_problem(e))
        for e in sorted(schema.validator.iter_errors(record), key=lambda e: e.path)
    ]


def parse(schema: ExchangeSchema, kind: str, data: bytes) -> tuple[list[dict[str, Any]], list[LineError]]:
    """The records of the file and every problem found (records are only used when there is none)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [LineError(0, "file", f"is not UTF-8 text (byte {exc.start})")]
    if kind == "csv":
        return _csv(schema, text)
    if kind == "json":
        return _json(schema, text)
    return _xml(schema, text)


def _csv(schema: ExchangeSchema, text: str) -> tuple[list[dict[str, Any]], list[LineError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if not header:
        return [], [
            LineError(
                1, "header", f"is missing: the first line names the fields ({', '.join(schema.fields)})"
            )
        ]
    errors = [
        LineError(1, column, f"is not a field of {schema.name} {schema.version}")
        for column in header
        if column not in schema.fields
    ]
    records: list[dict[str, Any]] = []
    try:
        for n, row in enumerate(reader):
            line = reader.line_num
            if None in row:
                errors.append(
                    LineError(line, "row", f"has more values than the header has fields (row {n + 1})")
                )
                continue
            record = {k: v for k, v in row.items() if k in schema.fields and v not in (None, "")}
            errors += _check(schema, record, line)
            records.append(record)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, "file", f"is not valid CSV: {exc}"))
    return records, errors[:MAX_ERRORS]


def _json(schema: ExchangeSchema, text: str) -> tuple[list[dict[str, Any]], list[LineError]]:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [LineError(exc.lineno, "file", f"is not valid JSON: {exc.msg}")]
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        return [], [LineError(0, "file", 'must be {"schema_version": "...", "records": [...]}')]
    version = body.get("schema_version")
    if version != schema.version:
        return [], [LineError(0, "schema_version", f"must be {schema.version!r}, not {version!r}")]
    records, errors = [], []
    for n, record in enumerate(body["records"], start=1):
        if not isinstance(record, dict):
            errors.append(LineError(n, "record", "must be an object"))
            continue
        record = {"schema_version": version, **record}
        errors += _check(schema, record, n)
        records.append(record)
        if len(errors) >= MAX_ERRORS:
            break
    return records, errors[:MAX_ERRORS]


def _xml_problem(error: xmlschema.XMLSchemaValidationError) -> str:
    """xmlschema's reason, unless it quotes the offending value (a name, a date of birth)."""
    reason = error.reason or str(error.message)
    value = error.obj.text if hasattr(error.obj, "text") and error.obj.text else None
    if value and value.strip() and value.strip() in reason:
        return "does not follow the XSD for this element"
    return reason


def _xml(schema: ExchangeSchema, text: str) -> tuple[list[dict[str, Any]], list[LineError]]:
    errors: list[LineError] = []
    try:
        # lxml keeps each element's line, so every error can say where it is.
        document = etree.fromstring(
            text.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        return [], [LineError(exc.lineno or 0, "file", f"is not valid XML: {exc.msg}")]
    try:
        for e in schema.xsd.iter_errors(document):
            line = getattr(e, "sourceline", None) or 0
            field = (e.path or "").rsplit("/", 1)[-1].split("}")[-1] or "document"
            errors.append(LineError(int(line), field, _xml_problem(e)))
            if len(errors) >= MAX_ERRORS:
                break
    except xmlschema.XMLSchemaException as exc:
        return [], [LineError(0, "file", f"is not valid XML: {' '.join(str(exc).split())[:200]}")]
    if errors:
        return [], errors
    data = schema.xsd.to_dict(document)
    assert isinstance(data, dict)
    version = str(data.get("@schema_version", ""))
    records = []
    for item in data.get("notification", []) or []:
        record = {k.split("}")[-1]: str(v) for k, v in item.items() if not k.startswith("@")}
        records.append({"schema_version": version, **record})
    return records, []
