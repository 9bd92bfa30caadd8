"""`POST /v1/aggregates`, top to bottom: decide -> plan -> fetch -> protect -> release.

The route authenticates and audits; this module does the rest and knows nothing of HTTP. A refusal
is an `AggregateRefused` with a status, a machine code and a sentence for the analyst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.aggregates.compile import DIM, GROUPING, FilterTypeError, compile_aggregate
from gateway.aggregates.request import AggregateRequest
from gateway.analysis.schema import DATASETS, AnalysisTable
from gateway.analysis.store import AnalysisStore
from gateway.catalogue import Catalogue
from gateway.identity.principal import Principal
from gateway.policy.decision import Decision, PolicyEngine
from gateway.privacy.control import protect
from gateway.privacy.query_set import QuerySetRefused, check_query_set
from gateway.privacy.rules import DisclosureRules, rules_from
from gateway.privacy.suppression import NotReleasable
from gateway.privacy.table import TOTAL, Cell, Key, Table, categories_of, size
from gateway.telemetry.tracing import step

VIEW = "aggregate"


class AggregateRefused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass
class AggregateReply:
    rows: list[dict[str, Any]]
    disclosure: dict[str, Any]
    decision: Decision
    fields_released: list[str]
    published: int
    cells: list[list[Any]] = field(default_factory=list)  # compact copy for the audit event


@dataclass(frozen=True)
class Plan:
    spec: AnalysisTable
    rules: DisclosureRules
    decision: Decision
    filters: dict[str, dict[str, Any]]


def plan(req: AggregateRequest, principal: Principal, policy: PolicyEngine, catalogue: Catalogue) -> Plan:
    """Decide and check every name against the catalogue and the agreement; no database touched yet."""
    dataset = catalogue.dataset(req.dataset)
    if dataset is None or dataset.kind != "analysis" or req.dataset not in DATASETS:
        raise AggregateRefused(
            400, "unknown_dataset", f"{req.dataset!r} is not an analysis dataset; see GET /v1/catalogue"
        )
    decision = policy.decide(principal, VIEW, req.dataset, req.purpose, req.agreement)
    if not decision.allow:
        raise AggregateRefused(403, "forbidden", decision.reason)
    spec = DATASETS[req.dataset]
    for name in req.fields_used():
        if name not in dataset.fields or name not in spec.table.c:
            raise AggregateRefused(400, "unknown_field", f"{req.dataset} has no field {name!r}")
    permitted = set(decision.permitted_fields or ())
    refused = [n for n in req.fields_used() if decision.permitted_fields is not None and n not in permitted]
    if refused:
        raise AggregateRefused(
            403,
            "field_not_permitted",
            f"agreement {decision.agreement_id} does not permit {', '.join(refused)} for {req.dataset}",
        )
    if req.field is not None and not spec.numeric(req.field):
        raise AggregateRefused(
            400, "not_numeric", f"{req.field!r} is not numeric, so it has no {req.measure}"
        )
    disclosure = decision.disclosure.model_dump() if decision.disclosure else {}
    return Plan(spec, rules_from(disclosure), decision, req.normalised()["filters"])


def run_aggregate(
    req: AggregateRequest,
    principal: Principal,
    policy: PolicyEngine,
    catalogue: Catalogue,
    store: AnalysisStore,
) -> AggregateReply:
    p = plan(req, principal, policy, catalogue)
    try:
        statement = compile_aggregate(
            p.spec, req.group_by, p.filters, req.measure, req.field, store.engine.dialect.name
        )
    except FilterTypeError as exc:
        raise AggregateRefused(400, "bad_filter", str(exc)) from exc
    with step("fetch", dataset=req.dataset, dimensions=len(req.group_by)) as span:
        rows = store.execute(statement)
        span.set_attribute("rows", len(rows))
    with step("transform", dataset=req.dataset, measure=req.measure):
        return _released(req, p, store, rows)


def _released(req: AggregateRequest, p: Plan, store: AnalysisStore, rows: list[Any]) -> AggregateReply:
    table = _table(req.group_by, rows, p.rules)
    grand = table.cells[(TOTAL,) * len(req.group_by)]
    try:
        check_query_set(grand.units, store.population(req.dataset), bool(req.filters), p.rules.query_set_min)
        release = protect(table, req.measure, p.rules)
    except QuerySetRefused as exc:
        raise AggregateRefused(422, exc.code, str(exc)) from exc
    except NotReleasable as exc:
        raise AggregateRefused(422, "not_releasable", f"this table cannot be released safely: {exc}") from exc

    out_rows, cells = [], []
    for r in release.cells:
        row = {name: value for name, value in zip(req.group_by, r.key, strict=True)}
        row.update(value=r.value, status=r.status)
        out_rows.append(row)
        cells.append([*r.key, r.value, r.status])
    disclosure = {
        "agreement_id": p.decision.agreement_id,
        "measure": req.measure if req.field is None else f"{req.measure}({req.field})",
        **release.report,
        "margins": "a null group value is the total over that field; margins are protected separately, "
        "so published cells need not add up to them exactly",
    }
    published = sum(1 for r in release.cells if r.status != "suppressed")
    released_fields = list(dict.fromkeys([*req.group_by, *([req.field] if req.field else [])]))
    return AggregateReply(out_rows, disclosure, p.decision, released_fields, published, cells)


def _table(group_by: list[str], rows: list[Any], rules: DisclosureRules) -> Table:
    computed: dict[Key, Cell] = {}
    k = len(group_by)
    for row in rows:
        m = row._mapping
        key = tuple(TOTAL if m[GROUPING.format(i)] else m[DIM.format(i)] for i in range(k))
        top = tuple(float(v) for v in (m.get("top") or ()) if v is not None)
        computed[key] = Cell(
            count=int(m["count"] or 0),
            units=int(m["units"] or 0),
            total=float(m["total"] or 0.0) if "total" in m else float(m["count"] or 0),
            top=top,
            key_sum=int(m["key_sum"] or 0),
        )
    cells = size(len(c) for c in categories_of(k, computed))
    if cells > rules.max_cells:
        raise AggregateRefused(
            400,
            "table_too_large",
            f"this grouping gives {cells:,} cells (limit {rules.max_cells:,}); "
            "group by fewer or coarser fields",
        )
    return Table.complete(group_by, computed)
