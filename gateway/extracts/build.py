"""Building one approved extract, top to bottom: re-decide -> read -> filter -> generalise and
k-anonymise -> pseudonymise -> scrub free text -> write files and report.

Runs in a background job (gateway.extracts.jobs), never in a request. The decision is taken again at
build time with the requester's claims as they were when they asked, so an agreement that ended or
changed in the meantime stops the build. Direct identifiers never reach the output: the only ids
written are project pseudonyms, and the catalogue refuses direct identifiers at request time.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import TypeAdapter
from sqlalchemy import select

from gateway.aggregates.request import Filter, Name
from gateway.analysis.people import read_people
from gateway.caseworker.flags import protected_ids
from gateway.catalogue import Catalogue, Classification, Dataset
from gateway.datadir import DataDir
from gateway.departments import protection_markers, store_tables
from gateway.extracts.request import matches
from gateway.extracts.sources import READERS, read_names
from gateway.identity.principal import Principal
from gateway.index.store import IndexStore
from gateway.policy.agreements import Agreement
from gateway.policy.decision import PolicyEngine
from gateway.privacy.diversity import DEFAULT_L, l_diverse
from gateway.privacy.families import k_anonymous_families
from gateway.privacy.generalise import hierarchy_for
from gateway.privacy.kanonymity import DEFAULT_K, DEFAULT_MAX_SUPPRESSION, QuasiIdentifier, k_anonymise
from gateway.privacy.keys import KeyProvider
from gateway.privacy.linkable_rows import k_anonymous_rows
from gateway.privacy.ner_model import notes_model
from gateway.privacy.pseudonyms import ONE_WAY, ProjectKey
from gateway.privacy.rare_values import withhold_rare_values
from gateway.privacy.risk import disclosure_risk
from gateway.privacy.scrubbing import Scrubber, known_names
from gateway.stores.engines import store_engine

VIEW = "extract"
FILES = {"csv": "extract.csv", "parquet": "extract.parquet"}
REPORT = "report.json"
# The level a field starts at when the agreement does not say: coarse enough for most research.
DEFAULT_LEVEL = {
    "date_of_birth": "year",
    "postcode": "district",
    "event_date": "month",
    "category": "value",
    "amount": "band_25",
}
_FILTERS = TypeAdapter(dict[Name, Filter])

Step = Callable[[int, str], None]


class ExtractFailed(Exception):
    """The build stopped; the sentence says why (and nothing was written)."""


@dataclass(frozen=True)
class Built:
    rows: int
    report: dict[str, Any]
    subjects: list[str]
    key_version: int
    extract_days: int  # from the agreement the build was decided under


def extract_dir(dd: DataDir, extract_id: str) -> Path:
    return dd.root / "extracts" / extract_id


def principal_of(claims: dict[str, Any]) -> Principal:
    return Principal(
        sub=claims["sub"],
        name=claims.get("name", claims["sub"]),
        roles=tuple(claims.get("roles", ())),
        department=claims.get("department"),
        team=claims.get("team"),
        worker_id=claims.get("worker_id"),
    )


def _qis(
    spec: Dataset, fields: list[str], agreement: Agreement
) -> tuple[list[QuasiIdentifier], list[QuasiIdentifier]]:
    """(quasi-identifiers that k-anonymity may coarsen further, other fields generalised once)."""
    climbing: list[QuasiIdentifier] = []
    fixed: list[QuasiIdentifier] = []
    for f in fields:
        kind = spec.hierarchies.get(f)
        if kind is None:
            continue
        start = agreement.disclosure.generalise.get(f) or DEFAULT_LEVEL[kind]
        hierarchy, level = hierarchy_for(kind, start)
        q = QuasiIdentifier(f, hierarchy, level)
        (climbing if spec.fields[f] == Classification.quasi_identifier else fixed).append(q)
    return climbing, fixed


def protected_people(dd: DataDir, people: Any) -> set[str]:
    """Everyone a store marks as not to be located (refuge addresses, adoption: the same markers the
    caseworker views honour), as person ids."""
    out: set[str] = set()
    urls = dd.store_urls()
    for store, (table_name, id_col, marker) in protection_markers().items():
        if store not in urls:
            continue
        table = store_tables(store)[table_name]
        engine = store_engine(urls[store])
        try:
            with engine.connect() as conn:
                for (local,) in conn.execute(select(table.c[id_col]).where(table.c[marker] == "Y")):
                    person = people.person_of.get(f"{store}:{local}")
                    if person:
                        out.add(person)
        finally:
            engine.dispose()
    return out


def protected_among(dd: DataDir, person_ids: list[str]) -> set[str]:
    """Which of these people a store now marks as not to be located: the same markers as
    `protected_people`, read for their records only (a rotation or re-identification asks about a few)."""
    index = IndexStore(dd.index_url())
    try:
        records = index.records_of(person_ids)
    finally:
        index.dispose()
    local: dict[str, dict[str, str]] = {}
    for pid, recs in records.items():
        for source, local_id in recs:
            local.setdefault(source, {})[local_id] = pid
    out: set[str] = set()
    urls = dd.store_urls()
    for store in protection_markers():
        if store not in urls or not local.get(store):
            continue
        engine = store_engine(urls[store])
        try:
            with engine.connect() as conn:
                out |= {local[store][lid] for lid in protected_ids(conn, store, sorted(local[store]))}
        finally:
            engine.dispose()
    return out


def selected_rows(dd: DataDir, people: Any, dataset: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The records an extract request selects: its filters, on the values as held."""
    wanted = _FILTERS.validate_python(filters or {})
    rows = READERS[dataset](dd, people)
    return [r for r in rows if all(matches(r.get(f), w) for f, w in wanted.items())]


def build_extract(
    dd: DataDir,
    extract: dict[str, Any],
    *,
    policy: PolicyEngine,
    catalogue: Catalogue,
    keys: KeyProvider,
    key_version: int,
    step: Step = lambda _p, _s: None,
    notes_model: str | None = None,
) -> Built:
    decision = policy.decide(
        principal_of(extract["requester_claims"]),
        VIEW,
        extract["dataset"],
        extract["purpose"],
        extract["agreement_id"],
    )
    if not decision.allow or decision.agreement is None:
        raise ExtractFailed(f"the request is no longer allowed: {decision.reason}")
    agreement = decision.agreement
    spec = catalogue.dataset(extract["dataset"])
    if spec is None or spec.kind != "extract":
        raise ExtractFailed(f"{extract['dataset']!r} is no longer an extract dataset in the catalogue")
    fields: list[str] = extract["fields"]
    step(5, "reading the departmental stores and the person index")
    people = read_people(dd)
    protected = protected_people(dd, people)
    include_protected = bool(agreement.disclosure.include_protected)
    everyone = selected_rows(dd, people, extract["dataset"], extract["filters"])
    rows = everyone if include_protected else [r for r in everyone if r["person_id"] not in protected]

    step(35, f"generalising {len(rows):,} records to k = {agreement.disclosure.k or DEFAULT_K}")
    climbing, fixed = _qis(spec, fields, agreement)
    max_suppression = agreement.disclosure.max_suppression
    result = k_anonymise(
        rows,
        climbing,
        k=agreement.disclosure.k or DEFAULT_K,
        max_suppression=DEFAULT_MAX_SUPPRESSION if max_suppression is None else max_suppression,
        subject="person_id",
        on=people.as_of,
    )
    kept = [rows[i] for i in result.kept]

    step(55, f"pseudonymising {len(kept):,} records")
    master = keys.master_key()
    key = ProjectKey.derive(master, extract["project"], key_version, agreement.pseudonyms)
    family_key = ProjectKey.derive(master, f"{extract['project']}/families", key_version, ONE_WAY)
    subjects = sorted({r["person_id"] for r in kept})
    pseudonym = dict(zip(subjects, key.many(subjects), strict=True))
    families = sorted({r["family_id"] for r in kept})
    family_pseudonym = dict(zip(families, family_key.many(families), strict=True))

    out: list[dict[str, Any]] = []
    for r, generalised in zip(kept, result.values, strict=True):
        row: dict[str, Any] = {"pseudonym": pseudonym[r["person_id"]]}
        if extract["dataset"] == "person_records":
            row["family_pseudonym"] = family_pseudonym[r["family_id"]]
        for f in fields:
            row[f] = generalised[f] if f in generalised else r.get(f)
        for q in fixed:
            row[q.field] = q.hierarchy.apply(r.get(q.field), q.hierarchy.levels[q.start], people.as_of)
        out.append(row)

    qi_fields = [q.field for q in (*climbing, *fixed)]
    sensitive = [
        *(
            agreement.disclosure.sensitive
            or [f for f in fields if spec.fields[f] == Classification.special_category]
        ),
        *(extract.get("sensitive") or []),
    ]
    sensitive = list(dict.fromkeys(sensitive))
    diversity = l_diverse(
        out, qi_fields, [f for f in sensitive if f in fields], agreement.disclosure.l_diversity or DEFAULT_L
    )
    family_report = (
        k_anonymous_families(out, qi_fields, agreement.disclosure.k or DEFAULT_K)
        if extract["dataset"] == "person_records"
        else None
    )
    free_text = [f for f in fields if spec.fields[f] == Classification.free_text]
    flags = [
        f
        for f in fields
        if f not in qi_fields and all(isinstance(r.get(f), bool) for r in kept if r.get(f) is not None)
    ]
    rare_flags = withhold_rare_values(
        out, [f for f in flags if f not in free_text], agreement.disclosure.k or DEFAULT_K
    )
    linkable = (
        k_anonymous_rows(
            out,
            qi_fields,
            [f for f in fields if f not in qi_fields and f not in free_text],
            agreement.disclosure.k or DEFAULT_K,
        )
        if not free_text
        else None
    )
    scrub_report: dict[str, Any] = {}
    if free_text and out:
        scrub_report = _scrub(dd, people, kept, out, free_text, pseudonym, step, notes_model)

    # Rows in a fresh random order: nothing in the file follows an internal order, so two projects'
    # extracts of the same people cannot be joined row by row.
    secrets.SystemRandom().shuffle(out)
    step(85, "writing the extract")
    report = {
        "agreement_id": agreement.id,
        "project": extract["project"],
        "dataset": extract["dataset"],
        "pseudonyms": {"kind": agreement.pseudonyms, "key_version": key_version},
        "k_anonymity": result.report,
        "generalised": {
            **{q.field: result.levels[q.field] for q in climbing},
            **{q.field: q.hierarchy.levels[q.start] for q in fixed},
        },
        "direct_identifiers": "dropped; each person is a project pseudonym",
        "free_text": scrub_report or None,
        "risk": disclosure_risk(out, qi_fields),
        "l_diversity": diversity,
        "rare_flags": rare_flags,
        "whole_rows": linkable,
        "family_link": family_report,
        "protected_people": {
            "excluded": 0 if include_protected else len({r["person_id"] for r in everyone} & protected),
            "included": include_protected,
            "rule": "people the stores mark as not to be located are left out unless the agreement says so",
        },
        "row_order": "random, drawn afresh for this extract",
        "as_of": people.as_of.isoformat(),
        "rows": len(out),
    }
    write_extract(
        extract_dir(dd, extract["extract_id"]), out, ["pseudonym", *out[0].keys()] if out else fields, report
    )
    return Built(len(out), report, subjects, key_version, agreement.extract_days)


def _scrub(
    dd: DataDir,
    people: Any,
    kept: list[dict[str, Any]],
    out: list[dict[str, Any]],
    columns: list[str],
    pseudonym: dict[str, str],
    step: Step,
    configured_model: str | None,
) -> dict[str, Any]:
    step(60, "reading names and addresses for the free-text deny list")
    names = read_names(dd, people)
    model = notes_model(dd.root, configured_model)
    scrubber = Scrubber(names.deny, model=model)
    members: dict[str, list[str]] = {}
    for pid, fam in people.family_of.items():
        members.setdefault(fam, []).append(pid)
    found: Counter[str] = Counter()
    total = len(out)
    for n, (r, row) in enumerate(zip(kept, out, strict=True)):
        if n % 200 == 0:
            step(60 + int(25 * n / total), f"scrubbing free text ({n:,} of {total:,})")
        family = members.get(r["family_id"], [r["person_id"]])
        known = known_names(
            (pseudonym.get(p, ""), names.of_person.get(p, ()))
            for p in family
            if p in pseudonym or p == r["person_id"]
        )
        for c in columns:
            scrubbed = scrubber.scrub(row[c] or "", {k: v for k, v in known.items() if v})
            row[c] = scrubbed.text
            found.update(scrubbed.replaced)
    return {
        "columns": columns,
        "identifiers_replaced": dict(sorted(found.items())),
        "method": (
            "presidio: pattern recognizers, the stores' names, addresses and schools, a name lexicon "
            "read in context" + (f", and the NER model {model}" if model else "")
        ),
        "ner_model": model,
        "deny_list_entries": len(names.deny),
    }


def write_extract(
    folder: Path, rows: list[dict[str, Any]], columns: list[str], report: dict[str, Any]
) -> None:
    """Write beside, then rename: a reader sees the whole extract or none of it."""
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = list(dict.fromkeys(columns))
    table = (
        pa.Table.from_pylist(rows, schema=_schema(rows, names)) if rows else pa.table({n: [] for n in names})
    )
    pq.write_table(table, tmp / FILES["parquet"])
    pacsv.write_csv(table, tmp / FILES["csv"])
    (tmp / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def _schema(rows: list[dict[str, Any]], names: list[str]) -> pa.Schema:
    def kind(name: str) -> pa.DataType:
        sample = next((r[name] for r in rows if r.get(name) is not None), None)
        if isinstance(sample, bool):
            return pa.bool_()
        if isinstance(sample, int | float):
            return pa.float64()
        return pa.string()

    return pa.schema([(n, kind(n)) for n in names])


def remove_files(dd: DataDir, extract_id: str) -> None:
    shutil.rmtree(extract_dir(dd, extract_id), ignore_errors=True)
