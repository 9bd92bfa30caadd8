"""The package structure as a contract: no import cycles between packages, and layers that only look
down (foundations never reach into features, features never into the API, web pages or CLI).

Read from the import graph itself (grimp, the engine behind import-linter), so a new import that breaks
the layering fails here with the modules that do it named."""

from __future__ import annotations

from functools import cache

import grimp
import pytest

ENTRY_POINTS = {"gateway.cli", "gateway.api", "gateway.web"}
FEATURES = {
    "gateway.extracts",
    "gateway.aggregates",
    "gateway.caseworker",
    "gateway.analysis",
    "gateway.index",
    "gateway.policy",
    "gateway.subject_access",
    "gateway.exchanges",
}
FOUNDATIONS = {
    "gateway.departments",
    "gateway.stores",
    "gateway.linkage",
    "gateway.privacy",
    "gateway.identity",
    "gateway.telemetry",
    "gateway.catalogue",
    "gateway.migrations",
    "gateway.config",
    "gateway.datadir",
    "gateway.secret_files",
}


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gateway", "audit")


def package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "audit":
        return "audit"
    if len(parts) > 1 and graph().find_children(f"gateway.{parts[1]}"):
        return f"gateway.{parts[1]}"
    return module


def package_edges() -> dict[str, dict[str, list[tuple[str, str]]]]:
    edges: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for module in graph().modules:
        for imported in graph().find_modules_directly_imported_by(module):
            a, b = package(module), package(imported)
            if a != b:
                edges.setdefault(a, {}).setdefault(b, []).append((module, imported))
    return edges


def test_no_two_packages_import_each_other_even_through_others() -> None:
    edges = package_edges()
    for start in edges:
        # Every package reachable from `start`; if `start` is among them, there is a cycle.
        seen, todo = set(), list(edges[start])
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(edges.get(p, {}))
        assert start not in seen, f"{start} imports itself through {sorted(seen & set(edges))}"


@pytest.mark.parametrize(
    ("lower", "higher"),
    [(FOUNDATIONS, FEATURES | ENTRY_POINTS), (FEATURES, ENTRY_POINTS)],
    ids=["foundations-below-features", "features-below-entry-points"],
)
def test_layers_only_import_downwards(lower: set[str], higher: set[str]) -> None:
    edges = package_edges()
    leaks = [
        example
        for a in lower
        for b, examples in edges.get(a, {}).items()
        if b in higher
        for example in examples[:2]
    ]
    assert not leaks, f"imports from a lower layer into a higher one: {leaks}"


def test_the_layers_name_every_package() -> None:
    named = ENTRY_POINTS | FEATURES | FOUNDATIONS | {"gateway.synth", "gateway.testing", "audit"}
    packages = {package(m) for m in graph().modules if m != "gateway" and graph().find_children(package(m))}
    assert packages <= named, f"place these packages in a layer: {sorted(packages - named)}"


def test_every_v1_operation_describes_its_response(tmp_path) -> None:
    """`/openapi.json` is what clients are generated from: each /v1 operation's success response has a
    schema with named properties (a model), or declares the file it sends."""
    from fastapi.testclient import TestClient

    from gateway.api.app import create_app
    from gateway.config import Settings

    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    import json

    assert "#/$defs/" not in json.dumps(spec), "a reference into $defs, which an OpenAPI file has not"

    def described(schema: dict) -> bool:
        if "$ref" in schema:
            return described(components[schema["$ref"].rsplit("/", 1)[-1]])
        if schema.get("type") == "array":
            return described(schema.get("items", {}))
        return bool(schema.get("properties")) or schema.get("type") == "string"

    vague = []
    operations = 0
    for path, methods in spec["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, op in methods.items():
            operations += 1
            success = [r for code, r in op["responses"].items() if code.startswith("2")]
            contents = [c for r in success for c in r.get("content", {}).values()]
            if not contents or not all(described(c.get("schema", {})) for c in contents):
                vague.append(f"{method.upper()} {path}")
    assert operations >= 25
    assert not vague, f"operations without a response schema: {vague}"


def test_a_misspelt_audit_field_fails_where_it_is_written() -> None:
    from audit.record import AuditRecord

    record = AuditRecord()
    record.update(action="x.read", rows_released=3)
    record["reason"] = "because"
    assert (record.action, record.rows_released, record["reason"]) == ("x.read", 3, "because")
    with pytest.raises(AttributeError, match="rows_releasd"):
        record.update(rows_releasd=3)
    with pytest.raises(AttributeError, match="agreement"):
        record["agreement"] = "AGR-1"
    assert record.setdefault("reason", "other") == "because"
    assert record.setdefault("purpose", "p") == "p"
