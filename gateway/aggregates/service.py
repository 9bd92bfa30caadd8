"""`POST /v1/aggregates`, top to bottom: decide -> plan -> (asked before?) -> spend -> fetch -> noise ->
release.

The route authenticates and audits; this module does the rest and knows nothing of HTTP. A refusal
is an `Refused` with a status, a machine code and a sentence for the analyst. Every table is
released under differential privacy (zCDP, OpenDP's Gaussian mechanism) and paid for from the
privacy budgets of the analyst and the project under the agreement (`gateway.privacy.budget`); the
same table asked again is answered from the stored reply, free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.aggregates.compile import (
    DIM,
    FilterTypeError,
    cells_within_reach,
    compile_aggregate,
    compile_domain,
    where_clauses,
)
from gateway.aggregates.cost import (
    PASSES_ONE_ROW_PER_UNIT,
    PASSES_PER_UNIT_BOUND,
    estimated_cost,
    over_bound,
    selectivity,
)
from gateway.aggregates.request import AggregateRequest
from gateway.analysis.schema import DATASETS, AnalysisTable
from gateway.analysis.store import AnalysisStore
from gateway.catalogue import Catalogue
from gateway.identity.principal import Principal
from gateway.policy.decision import Decision, PolicyEngine
from gateway.privacy.budget import BudgetExhausted, BudgetState, Ledger, Scope, answer_key
from gateway.privacy.noise import add_count_noise, add_noise
from gateway.privacy.release import Key, ReleaseRules, all_keys, noisy_table, release_cells
from gateway.privacy.rules import DisclosureRules, rules_from
from gateway.refusal import Refused
from gateway.telemetry.tracing import step

VIEW = "aggregate"


@dataclass
class AggregateReply:
    rows: list[dict[str, Any]]
    disclosure: dict[str, Any]
    decision: Decision
    fields_released: list[str]
    published: int
    cells: list[list[Any]] = field(default_factory=list)  # compact copy for the audit event
    repeat: bool = False


@dataclass(frozen=True)
class Plan:
    spec: AnalysisTable
    rules: DisclosureRules
    decision: Decision
    filters: dict[str, dict[str, Any]]


def plan(req: AggregateRequest, principal: Principal, policy: PolicyEngine, catalogue: Catalogue) -> Plan:
    """Decide and check every name against the catalogue, the agreement and the query language; no
    database touched yet."""
    dataset = catalogue.dataset(req.dataset)
    if dataset is None or dataset.kind != "analysis" or req.dataset not in DATASETS:
        raise Refused(
            400, "unknown_dataset", f"{req.dataset!r} is not an analysis dataset; see GET /v1/catalogue"
        )
    decision = policy.decide(principal, VIEW, req.dataset, req.purpose, req.agreement)
    if not decision.allow:
        raise Refused(403, "forbidden", decision.reason)
    spec = DATASETS[req.dataset]
    for name in req.fields_used():
        if name not in dataset.fields or name not in spec.table.c:
            raise Refused(400, "unknown_field", f"{req.dataset} has no field {name!r}")
    permitted = set(decision.permitted_fields or ())
    refused = [n for n in req.fields_used() if decision.permitted_fields is not None and n not in permitted]
    if refused:
        raise Refused(
            403,
            "field_not_permitted",
            f"agreement {decision.agreement_id} does not permit {', '.join(refused)} for {req.dataset}",
        )
    if req.field is not None and not (spec.numeric(req.field) and req.field in spec.bounds):
        raise Refused(
            400, "not_numeric", f"{req.field!r} is not a numeric measure, so it has no {req.measure}"
        )
    for name in [*req.group_by, *req.filters]:
        if spec.numeric(name):
            bands = [c for c in spec.table.c.keys() if c.endswith("_band")]
            raise Refused(
                400,
                "not_a_category",
                f"{name!r} is a number: tables group and filter by categories only, so that no range can "
                f"single out one person's amount; use a band ({', '.join(bands) or 'none here'}) or ask for "
                f"a sum or mean of {name}",
            )
    normalised = req.normalised()["filters"]
    for name, f in normalised.items():
        if "range" in f and name not in spec.ordered:
            allowed = ", ".join(sorted(spec.ordered)) or "none in this dataset"
            raise Refused(
                400, "range_not_allowed", f"{name!r} takes values or a list, not a range (ranges: {allowed})"
            )
    try:
        where_clauses(spec, normalised)  # each value of the field's type, before any database is read
    except FilterTypeError as exc:
        raise Refused(400, "bad_filter", str(exc)) from exc
    disclosure = decision.disclosure.model_dump() if decision.disclosure else {}
    return Plan(spec, rules_from(disclosure), decision, normalised)


def _domains(req: AggregateRequest, p: Plan, store: AnalysisStore, build: Any) -> list[tuple[Any, ...]]:
    categories = []
    for name in req.group_by:
        values = store.domain(req.dataset, name, compile_domain(p.spec, name), build)
        categories.append(tuple(sorted(values, key=lambda v: (type(v).__name__, str(v)))))
    for name, f in p.filters.items():
        known = set(store.domain(req.dataset, name, compile_domain(p.spec, name), build))
        given = f["in"] if "in" in f else list(f["range"].values())
        unknown = [v for v in given if v not in known]
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:3])
            raise Refused(400, "unknown_value", f"{name!r} has no value {shown} (see GET /v1/catalogue)")
    cells = math.prod(len(c) + 1 for c in categories)
    if cells > p.rules.max_cells:
        raise Refused(
            400,
            "table_too_large",
            f"this grouping gives {cells:,} cells (limit {p.rules.max_cells:,}); "
            "group by fewer or coarser fields",
        )
    return categories


def _scopes(req: AggregateRequest, p: Plan, principal: Principal) -> list[Scope]:
    agreement = p.decision.agreement_id or "no-agreement"
    return [
        Scope(f"project:{agreement}:{req.budget_project()}", p.rules.project_rho),
        Scope(f"analyst:{agreement}:{principal.sub}", p.rules.analyst_rho),
        Scope(f"agreement:{agreement}", p.rules.agreement_rho),
    ]


def run_aggregate(
    req: AggregateRequest,
    principal: Principal,
    policy: PolicyEngine,
    catalogue: Catalogue,
    store: AnalysisStore,
    ledger: Ledger,
    max_cost: int | None = None,
) -> AggregateReply:
    p = plan(req, principal, policy, catalogue)
    built = store.last_build()
    build = built.get("build_id")
    categories = _domains(req, p, store, build)
    scopes = _scopes(req, p, principal)
    key = answer_key(req.normalised(), p.decision.agreement_id, req.budget_project(), build)
    stored = ledger.stored(key)
    if stored is not None:  # asked before in this project: the same answer, free
        return _reply(
            req,
            p,
            stored["rows"],
            {**stored["disclosure"], **_budget(ledger.states(scopes), 0.0, True)},
            True,
        )
    _guard_cost(req, p, store, built, max_cost)
    reach = cells_within_reach(p.spec, req.group_by, categories, p.filters)
    statement = compile_aggregate(p.spec, req.group_by, p.filters, req.operation, req.field, reach)
    with step("fetch", dataset=req.dataset, dimensions=len(req.group_by)) as span:
        rows = store.execute(statement)
        span.set_attribute("rows", len(rows))
    with step("transform", dataset=req.dataset, measure=req.measure):
        out_rows, disclosure = _released(req, p, categories, rows)
    try:  # paid for and kept in one transaction: nothing is released unless the spend commits
        states, reply = ledger.spend(
            scopes, p.rules.query_rho, principal.sub, key, {"rows": out_rows, "disclosure": disclosure}
        )
    except BudgetExhausted as exc:
        raise Refused(
            403, "budget_exhausted", f"{exc}; ask your IG officer about the project's budget"
        ) from exc
    assert reply is not None
    return _reply(
        req, p, reply["rows"], {**reply["disclosure"], **_budget(states, p.rules.query_rho, False)}, False
    )


def _guard_cost(
    req: AggregateRequest, p: Plan, store: AnalysisStore, built: dict[str, Any], max_cost: int | None
) -> None:
    """Refuse, before any SQL runs or budget is spent, a table estimated to cost more than the bound."""
    rows = json.loads(built.get("summary") or "{}").get(req.dataset)
    if rows is None or max_cost is None:  # no bound, or a store built before row counts were kept
        return
    share = 1.0
    for name, f in p.filters.items():
        if "in" in f:  # a range is not credited: its share is unknown without the data
            domain = store.domain(req.dataset, name, compile_domain(p.spec, name), built.get("build_id"))
            share *= selectivity(len(set(f["in"])), len(domain))
    passes = PASSES_ONE_ROW_PER_UNIT if p.spec.unit is None else PASSES_PER_UNIT_BOUND
    cost = estimated_cost(int(rows), share, passes)
    if over_bound(cost, max_cost):
        raise Refused(
            400,
            "table_too_costly",
            f"this table would touch about {cost:,} rows ({int(rows):,} rows of {req.dataset}, "
            f"{share:.0%} of them selected by its filters, {passes} pass(es)); the bound is {max_cost:,} "
            "(tables.max_cost in policies/limits.yaml): filter to a smaller part of the dataset",
        )


def _budget(states: Sequence[BudgetState], spent: float, repeat: bool) -> dict[str, Any]:
    return {
        "budget": {
            "spent_by_this_table_rho": spent,
            "repeat_of_an_earlier_table": repeat,
            "scopes": [s.as_dict() for s in states],
        }
    }


def _released(
    req: AggregateRequest, p: Plan, categories: list[tuple[Any, ...]], rows: list[Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    k = len(req.group_by)
    units: dict[Key, float] = {}
    totals: dict[Key, float] = {}
    for row in rows:
        m = row._mapping
        key = tuple(m[DIM.format(i)] for i in range(k))
        units[key] = float(m["units"] or 0)
        if req.measure != "count":
            totals[key] = float(m["total"] or 0.0)
    cap = p.spec.max_cells_per_unit
    rho = p.rules.query_rho if req.measure == "count" else p.rules.query_rho / 2
    count_sensitivity = math.sqrt(cap)
    counts = noisy_table(categories, units, lambda v: add_count_noise(v, count_sensitivity, rho))
    sums = None
    if req.measure != "count":
        assert req.field is not None
        sum_sensitivity = p.spec.bound(req.field) * math.sqrt(cap)
        sums = noisy_table(categories, totals, lambda v: add_noise(v, sum_sensitivity, rho))
    keys = list(all_keys(categories))
    finest = next((key for key in keys if None not in key), keys[-1])  # any finest cell: all share one sd
    per_cell = {"count": round(counts[finest].sd, 2), **({"sum": round(sums[finest].sd, 2)} if sums else {})}
    released = release_cells(
        keys, req.operation, counts, sums, ReleaseRules(p.rules.threshold, p.rules.rounding_base)
    )
    out_rows = []
    for r in released:
        row = {name: value for name, value in zip(req.group_by, r.key, strict=True)}
        row.update(
            value=r.value,
            status=r.status,
            noise_sd=r.noise_sd,
            interval_95=list(r.interval) if r.interval else None,
        )
        out_rows.append(row)
    disclosure = {
        "agreement_id": p.decision.agreement_id,
        "measure": req.measure if req.field is None else f"{req.measure}({req.field})",
        "mechanism": "differential privacy: Gaussian noise (OpenDP) under zero-concentrated DP",
        "units": "distinct people" if p.spec.unit is None and req.dataset == "persons" else "distinct units",
        "rules": {
            "query_rho": p.rules.query_rho,
            "threshold": p.rules.threshold,
            "rounding_base": p.rules.rounding_base if req.measure == "count" else None,
            "max_cells_per_unit": cap,
            **({"contribution_bound": p.spec.bound(req.field)} if req.field else {}),
        },
        "noise_sd_per_cell": per_cell,
        "suppressed": sum(1 for r in released if r.status == "suppressed"),
        "margins": "a null group value is the total over that field; each margin is the sum of the noisy "
        "cells it totals, so published cells and margins add up before rounding and suppression",
        "interval_95": "each published cell's 95% interval for the true value, from its noise alone",
    }
    return out_rows, disclosure


def _reply(
    req: AggregateRequest, p: Plan, rows: list[dict[str, Any]], disclosure: dict[str, Any], repeat: bool
) -> AggregateReply:
    published = sum(1 for r in rows if r["status"] != "suppressed")
    cells = [[*(r.get(g) for g in req.group_by), r["value"], r["status"]] for r in rows]
    released_fields = list(dict.fromkeys([*req.group_by, *([req.field] if req.field else [])]))
    return AggregateReply(rows, disclosure, p.decision, released_fields, published, cells, repeat)
