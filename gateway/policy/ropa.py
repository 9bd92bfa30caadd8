"""The UK GDPR Article 30 record of processing activities, generated from the agreement registry."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from gateway.catalogue import Catalogue, Classification, load_catalogue
from gateway.policy.agreements import Agreement, load_registry
from gateway.policy.processing_record import load_processing_record
from gateway.spreadsheet import neutralise

COLUMNS = (
    "agreement",
    "title",
    "status",
    "controller",
    "dpo_contact",
    "controller_contact",
    "purposes",
    "legal_basis",
    "data_subjects",
    "personal_data_categories",
    "special_category_data",
    "sources",
    "recipients",
    "form_of_disclosure",
    "international_transfers",
    "retention",
    "security_measures",
    "in_force",
    "review_due",
)
# The same for every entry: printed once at the top of the Markdown record, kept per row in the CSV.
SHARED_COLUMNS = ("controller", "dpo_contact", "security_measures")
VIEW_FORMS = {
    "flags": "flags shown to named practitioners for people on their caseload; nothing copied",
    "records": "records of the requester's own service",
    "aggregate": "aggregate tables with small-number suppression and rounding",
    "extract": "pseudonymised, de-identified extract after IG approval",
    "exchange": "files the partner sends in, validated against the published schema and matched to the "
    "person index",
}


def _categories(a: Agreement, catalogue: Catalogue) -> tuple[str, str]:
    ordinary: set[str] = set()
    special: set[str] = set()
    for name, fields in a.datasets.items():
        dataset = catalogue.dataset(name)
        label = dataset.description.rstrip(".") if dataset else name
        for f in fields:
            cls = dataset.fields.get(f) if dataset else None
            (special if cls == Classification.special_category else ordinary).add(f"{label}: {f}")
    return "; ".join(sorted(ordinary)) or "none", "; ".join(sorted(special)) or "none"


def ropa_rows(policies_dir: Path, today: dt.date | None = None) -> list[dict[str, str]]:
    """One entry per agreement, then one per processing activity of the gateway's own (the person index,
    the analysis store), each with the controller, the DPO and the security measures."""
    today = today or dt.date.today()
    catalogue = load_catalogue(policies_dir)
    record = load_processing_record(policies_dir)
    common = {
        "controller": f"{record.controller.name} <{record.controller.contact}>",
        "dpo_contact": f"{record.dpo.name} <{record.dpo.contact}>",
        "security_measures": "; ".join(record.security_measures),
    }
    rows = []
    for a in sorted(load_registry(policies_dir).values(), key=lambda a: a.id):
        ordinary, special = _categories(a, catalogue)
        rows.append(
            {
                **common,
                "agreement": a.id,
                "title": a.title,
                "status": a.status(today),
                "controller_contact": f"{a.owner.name} <{a.owner.contact}>",
                "purposes": "; ".join(f"{k}: {v}" for k, v in sorted(a.purposes.items())),
                "legal_basis": "; ".join(a.legal_basis),
                "data_subjects": a.data_subjects,
                "personal_data_categories": ordinary,
                "special_category_data": special,
                "sources": ", ".join(a.providers),
                "recipients": ", ".join(f"{r.role} ({r.department})" for r in a.recipients),
                "form_of_disclosure": VIEW_FORMS[a.view],
                "international_transfers": a.international_transfers,
                "retention": a.retention,
                "in_force": f"{a.start.isoformat()} to {a.end.isoformat()}",
                "review_due": a.review.isoformat(),
            }
        )
    for activity in record.activities:
        rows.append(
            {
                **common,
                "agreement": activity.id,
                "title": activity.title,
                "status": "in_force",
                "controller_contact": common["controller"],
                "purposes": "; ".join(f"{k}: {v}" for k, v in sorted(activity.purposes.items())),
                "legal_basis": "; ".join(activity.legal_basis),
                "data_subjects": activity.data_subjects,
                "personal_data_categories": activity.categories,
                "special_category_data": activity.special_categories,
                "sources": ", ".join(activity.sources),
                "recipients": activity.recipients,
                "form_of_disclosure": f"processing by the gateway under rules {', '.join(activity.rules)}; "
                "every run audited",
                "international_transfers": activity.international_transfers,
                "retention": activity.retention,
                "in_force": "continuing",
                "review_due": "with the agreements it serves",
            }
        )
    return rows


def render_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({k: neutralise(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def render_markdown(rows: list[dict[str, str]]) -> str:
    out = ["# Record of processing activities (UK GDPR Article 30)", ""]
    out.append(
        "Generated from `policies/agreements/` and `policies/processing.yaml` by `gateway policy ropa`; "
        "do not edit by hand."
    )
    if rows:
        first = rows[0]
        out += [
            "",
            f"- Controller: {first['controller']}",
            f"- Data protection officer: {first['dpo_contact']}",
        ]
        out += ["", "Security measures (Art 30(1)(g)), for every entry below:", ""]
        out += [f"- {m}" for m in first["security_measures"].split("; ")]
    for row in rows:
        out += ["", f"## {row['agreement']}: {row['title']}", "", "| | |", "| --- | --- |"]
        for col in COLUMNS[2:]:
            if col in SHARED_COLUMNS:
                continue
            value = row[col].replace("|", "\\|")
            out.append(f"| {col.replace('_', ' ')} | {value} |")
    return "\n".join(out) + "\n"
