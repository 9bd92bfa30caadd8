"""What each `/v1` route answers, as Pydantic models: `/openapi.json` describes every response, so a
client can be generated, and a route cannot drift from what it promises without a test noticing.

Models allow extra keys (`extra="allow"`): a field added to an answer reaches clients before its model
is updated, never a 500. Nested records that the stores shape (audit events, flags, disclosure reports)
are typed as objects here and documented in `docs/`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.policy.agreements import Disclosure, Owner, Recipient

Json = dict[str, Any]


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class AgreementOpenToYou(Answer):
    id: str
    title: str
    view: str
    purposes: list[str]


class Me(Answer):
    sub: str
    name: str
    roles: list[str]
    department: str | None = None
    team: str | None = None
    worker_id: str | None = None
    agreements: list[AgreementOpenToYou]
    purposes: list[str]


class PublicAgreement(Answer):
    """An agreement file as the registry holds it (`policies/agreements/*.yaml`), with its status today."""

    id: str
    title: str
    owner: Owner
    providers: list[str]
    recipients: list[Recipient]
    purposes: dict[str, str]
    legal_basis: list[str]
    data_subjects: str
    view: str
    datasets: dict[str, list[str]]
    disclosure: Disclosure
    pseudonyms: Literal["one_way", "reversible"]
    extract_days: int
    international_transfers: str = "none"
    retention: str
    start: dt.date
    end: dt.date
    review: dt.date
    status: str = Field(description="in_force, expired, not_started or held_back (lifecycle not complete)")
    lifecycle: dict[str, Any] | None = Field(
        default=None,
        description="adopted_before_lifecycle, signed_off (with each step) or held_back (with the reason)",
    )


class Agreements(Answer):
    agreements: list[PublicAgreement]


class ArticleThirty(Answer):
    columns: list[str]
    rows: list[Any]


class AggregateTable(Answer):
    rows: list[Json] = Field(description="one per cell: the group-by values, value, status")
    disclosure: Json = Field(description="noise, thresholds, rounding and budget spent (see docs)")
    data: Json | None = Field(default=None, description="when the analysis store was built; stale if old")
    audit_id: str | None = None


class Budgets(Answer):
    budgets: list[Json]
    scope: Literal["all", "yours"]


class AuditEvents(Answer):
    events: list[Json]
    next_cursor: int | None = None


class SubjectCandidates(Answer):
    candidates: list[Json] = Field(
        description="person_id, match_probability and match_weight of each candidate, best first"
    )


class SubjectAccesses(Answer):
    person_id: str
    accesses: list[Json]


class ChainStatus(Answer):
    ok: bool
    entries: int
    head_hash: str | None = None
    first_bad: int | None = None
    problem: str | None = None
    warnings: list[str] = Field(default_factory=list)
    checkpoints: int | None = None
    unsealed: int | None = None
    latest_checkpoint: Json | None = None


class Alerts(Answer):
    alerts: list[Json]
    total: int = Field(description="every alert that matches, across pages")
    kinds: dict[str, int] = Field(description="matches per kind, before `kind` narrows them")


class AlertReviewed(Answer):
    audit_id: str
    kind: str
    reviewed_by: str
    note: str


class CaseloadEntry(Answer):
    person_id: str
    family_id: str | None = None
    name: str | None = None
    date_of_birth: str | None = None
    relationship: str


class PersonCandidate(Answer):
    person_id: str
    match_probability: float
    relationship: str = Field(description="allocated, family member, or break_glass (outside the caseload)")
    family_id: str | None = None
    name: str | None = None
    date_of_birth: str | None = None


class PersonSearch(Answer):
    candidates: list[PersonCandidate]
    searched: str


class PersonFlags(Answer):
    person_id: str
    relationship: str
    flags: list[Json]
    services: dict[str, str]
    protected: bool
    break_glass: bool
    agreements: list[Any]
    linked: Json | None = Field(default=None, description="when the person index was built; stale if old")
    audit_id: str | None = None


class FamilyMember(Answer):
    person_id: str
    name: str | None = None
    date_of_birth: str | None = None
    relationship: str
    flags: list[Json]
    services: dict[str, str]
    protected: bool


class FamilyContext(Answer):
    family_id: str
    members: list[FamilyMember]
    professionals: list[Json] = Field(description="each involved professional once, with their service")
    break_glass: bool
    agreements: list[Any]
    linked: Json | None = Field(default=None, description="when the person index was built; stale if old")
    audit_id: str | None = None


class ExtractWarning(Answer):
    code: str
    text: str


class ExtractStatus(Answer):
    extract_id: str
    status: str
    progress: int | None = None
    stage: str | None = None
    requester: str
    purpose: str
    project: str
    agreement_id: str | None = None
    dataset: str
    fields: list[str]
    filters: Json | None = None
    sensitive: list[str] = Field(default_factory=list)
    pseudonyms: str | None = None
    created_at: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = Field(default=None, description="why an approver rejected the request")
    finished_at: str | None = None
    expires_at: str | None = None
    rows: int | None = None
    disclosure: Json | None = Field(default=None, description="the disclosure report (docs/extracts.md)")
    error: str | None = None
    warnings: list[ExtractWarning] = Field(default_factory=list)


class Extracts(Answer):
    extracts: list[ExtractStatus]


class Accepted(Answer):
    """A request taken on (202): its id, status, and the audit event that recorded it."""

    status: str
    audit_id: str | None = None


class ExtractAccepted(Accepted):
    extract_id: str


class ExtractDecided(Answer):
    extract_id: str
    status: str


class Reidentification(Answer):
    reidentification_id: str
    status: str
    project: str
    pseudonym: str
    reason: str
    requester: str
    approvers: list[str]
    created_at: str | None = None
    approved_at: str | None = None
    person_id: str | None = Field(default=None, description="only to the requester, once approved")


class Reidentifications(Answer):
    reidentifications: list[Reidentification]


class ReidentificationAccepted(Accepted):
    reidentification_id: str


FILE = {"schema": {"type": "string", "format": "binary"}}
TEXT = {"schema": {"type": "string"}}


class WhatIf(Answer):
    day: dt.date
    summary: dict[str, int] = Field(
        description="changes by kind: gained, lost, fields_changed, basis_changed"
    )
    access: list[Json] = Field(description="each (role, department, dataset, view, purpose) that changes")
    past_requests: Json = Field(description="replayed, not_replayable, decided_differently")


class SubjectPack(Answer):
    person_id: str
    generated: str
    earlier_ids: list[str]
    records: list[Json]
    accesses: list[Json]
    data_held: list[Json]
    redactions: dict[str, int]
    notes: list[str]


class Drafts(Answer):
    drafts: list[Json] = Field(description="each draft with its state, steps taken and steps missing")
    dpia_questions: list[Json]


class DraftProposed(Answer):
    agreement_id: str
    digest: str
    state: str
    missing: list[str]


class LifecycleStep(Answer):
    agreement_id: str


class ExchangeSchemas(Answer):
    schemas: list[Json]


class ExchangeAccepted(Answer):
    exchange_id: str
    status: str
    rows: int
    matched: int
    possible_matches: int
    unmatched: int


class ExchangeStatus(Answer):
    exchange_id: str
    agreement_id: str
    schema_name: str
    schema_version: str
    uploader: str
    received_at: str
    filename: str
    rows: int
    matched: int
    possible: int
    status: str
