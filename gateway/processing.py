"""Processing that is not an HTTP request, governed and audited like one: building the person index
(`gateway link`), rebuilding the analysis store (`refresh`), matching a partner's file (`match`) and
exporting the index (`index export`).

Each is a policy decision (a rule in `policies/rules.csv` for the data steward role, so an IG officer
reads who may do it and why) and two audit events in the same tamper-evident chain as the API's: one
committed *before* the job starts, naming the operator, the rule and the purpose, and one when it ends,
with what it produced (people matched, rows written) or why it failed. Write-ahead as for requests:
if the policy refuses or the first event cannot be committed, the job does not run; a job whose output
leaves the gateway (a matched file, an export) writes to a temporary file that is put in place only
after the closing event is durable.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from audit.open import open_audit
from audit.record import AuditRecord
from audit.store import AuditStore, AuditUnavailable
from gateway.config import Settings
from gateway.identity.principal import Principal
from gateway.migrations import runner as migrations
from gateway.policy.decision import PolicyEngine

OPERATOR_ROLE = "data_steward"
OPERATOR_ENV = "GATEWAY_OPERATOR"


@dataclass(frozen=True)
class Activity:
    """What a job is, in the policy's terms: the view (verb) of a dataset (the processing) it uses."""

    action: str
    view: str
    dataset: str
    purpose: str


ACTIVITIES = {
    a.action: a
    for a in (
        Activity("index.link", "link", "person_index", "identity_resolution"),
        Activity("analysis.refresh", "refresh", "analysis_store", "statistics_preparation"),
        Activity("index.match", "match", "person_index", "partner_matching"),
        Activity("index.export", "export", "person_index", "index_quality_assurance"),
    )
}


class ProcessingRefused(RuntimeError):
    """The job may not run (policy refused, or the audit log could not record it): nothing was done."""


def operator(name: str | None = None) -> Principal:
    """Who runs the job: `--operator`, else $GATEWAY_OPERATOR, else the login name, in the data steward
    role (the rules say what that role may do; the audit names the person)."""
    who = name or os.environ.get(OPERATOR_ENV) or _login()
    return Principal(sub=f"operator:{who}", name=who, roles=(OPERATOR_ROLE,))


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid{os.getuid()}"


def _commit(
    store: AuditStore,
    record: AuditRecord,
    who: Principal,
    allowed: bool,
    status: int,
    refusal: str | None = None,
) -> None:
    store.append(
        record.event(
            id=str(uuid.uuid4()),
            actor=who.sub,
            roles=list(who.roles),
            allowed=allowed,
            trace_id=uuid.uuid4().hex,
            status=status,
            refusal=refusal,
        )
    )


@contextmanager
def governed(settings: Settings, action: str, who: Principal | None = None) -> Iterator[AuditRecord]:
    """Decide, record the start, run the body, record the end. The body fills the record's
    `rows_released`, `subject_ids` and `disclosure_applied` with what it produced."""
    activity = ACTIVITIES[action]
    who = who or operator()
    decision = PolicyEngine(Path(settings.policies_dir)).decide(
        who, activity.view, activity.dataset, activity.purpose
    )
    start = AuditRecord(
        action=f"{action}.start",
        resource=activity.dataset,
        purpose=activity.purpose,
        agreement_id=decision.agreement_id,
        reason=decision.reason,
    )
    store: AuditStore | None = None
    try:
        store = open_audit(settings)
        # As the service does at start: demo mode brings the audit schema up to date; production expects
        # the deployment's migration job to have done it.
        if settings.mode == "production":
            migrations.require_head(settings.audit_db_url(), "audit")
        else:
            store.create()
    except Exception as exc:
        if store is not None:
            store.close()
        raise ProcessingRefused(
            f"not run: the audit log cannot be opened ({' '.join(str(exc).split())[:200]})"
        ) from exc
    try:
        try:
            _commit(
                store,
                start,
                who,
                decision.allow,
                200 if decision.allow else 403,
                None if decision.allow else decision.reason,
            )
        except AuditUnavailable as exc:
            raise ProcessingRefused(f"not run: the audit log could not record it ({exc})") from exc
        if not decision.allow:
            raise ProcessingRefused(f"not run: {decision.reason}")
        record = AuditRecord(
            action=action,
            resource=activity.dataset,
            purpose=activity.purpose,
            agreement_id=decision.agreement_id,
            reason=decision.reason,
        )
        try:
            yield record
        except BaseException as exc:
            record.reason = f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            try:
                _commit(store, record, who, False, 500, record.reason)
            except AuditUnavailable:
                pass  # the job failed anyway and released nothing; the start event stands
            raise
        try:
            _commit(store, record, who, True, 200)
        except AuditUnavailable as exc:
            raise ProcessingRefused(
                f"the job ran but the audit log could not record its outcome ({exc}), so its output is "
                "withheld"
            ) from exc
    finally:
        store.close()


@contextmanager
def released_after_audit(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` for a job's output; the caller moves it into place (`replace`) only
    after the audited block has closed, and it is removed if anything failed."""
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
