"""The extract and re-identification workflow, without HTTP: who may do what, in which state.

Extract states: pending_approval -> approved -> building -> ready -> expired, or rejected / failed.
Re-identification: pending -> approved (after two distinct approvers, neither the requester).
Each refusal is a `Refused` with an HTTP status, a machine code and a sentence.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from audit.record import AuditRecord
from gateway.analysis.people import read_people
from gateway.catalogue import Catalogue, Classification
from gateway.datadir import DataDir
from gateway.extracts.build import (
    DEFAULT_LEVEL,
    FILES,
    ExtractFailed,
    build_extract,
    extract_dir,
    principal_of,
    protected_among,
    protected_people,
    remove_files,
    selected_rows,
)
from gateway.extracts.request import (
    ExtractRequest,
    ReidentificationRequest,
    filter_problem,
    granularity_problem,
)
from gateway.extracts.store import ExtractStore, iso, now
from gateway.identity.principal import Principal
from gateway.policy.decision import Decision, PolicyEngine
from gateway.privacy.kanonymity import DEFAULT_K, NotAnonymisable
from gateway.privacy.keys import KeyProvider, KeyUnavailable
from gateway.privacy.ner_model import ModelNotFound
from gateway.privacy.pseudonyms import ONE_WAY, ProjectKey, PseudonymError, parse
from gateway.refusal import Refused

log = logging.getLogger("gateway.extracts")
REID_APPROVERS = 2
APPROVE_EXTRACTS = ("approve", "extracts", "extract_approval")
REQUEST_REID = ("request", "reidentifications", "reidentification")
APPROVE_REID = ("approve", "reidentifications", "reidentification")


PROTECTED_PEOPLE = "protected_people"
PROTECTED_WARNING = (
    "Agreement {a} releases people the stores mark as not to be located (refuge addresses, adoptions), "
    "with their postcode district and ward: approve only if the project truly needs them and the "
    "recipient's security is adequate for that risk."
)


@dataclass
class ExtractService:
    dd: DataDir
    store: ExtractStore
    policy: PolicyEngine
    catalogue: Catalogue
    keys: KeyProvider
    audit: Any  # audit.store.AuditStore (append)
    notes_model: str | None = None  # spaCy pipeline for free-text names; see `privacy/ner_model.py`

    # --- requesting and approving ------------------------------------------------------------
    def submit(self, req: ExtractRequest, principal: Principal) -> tuple[dict[str, Any], Decision]:
        dataset = self.catalogue.dataset(req.dataset)
        if dataset is None or dataset.kind != "extract":
            raise Refused(
                400, "unknown_dataset", f"{req.dataset!r} is not an extract dataset; see GET /v1/catalogue"
            )
        decision = self.policy.decide(principal, "extract", req.dataset, req.purpose, req.agreement)
        if not decision.allow:
            raise Refused(403, "forbidden", decision.reason, decision)
        for name in [*req.fields, *req.filters]:
            if name not in dataset.fields:
                raise Refused(400, "unknown_field", f"{req.dataset} has no field {name!r}", decision)
            if dataset.fields[name] == Classification.direct_identifier:
                raise Refused(
                    403, "direct_identifier", f"{name!r} identifies people directly and is never extracted"
                )
        for name, wanted in req.filters.items():
            if problem := filter_problem(dataset.hierarchies.get(name), wanted):
                raise Refused(422, "invalid_filter", f"filter {name}: {problem}", decision)
        permitted = set(decision.permitted_fields or ())
        refused = [n for n in dict.fromkeys([*req.fields, *req.filters]) if n not in permitted]
        if refused:
            raise Refused(
                403,
                "field_not_permitted",
                f"agreement {decision.agreement_id} does not permit {', '.join(refused)} for {req.dataset}",
                decision,
            )
        assert decision.agreement is not None
        agreement = decision.agreement
        for name, wanted in req.filters.items():
            ladder = dataset.hierarchies.get(name)
            if ladder is None:
                continue
            level = agreement.disclosure.generalise.get(name) or DEFAULT_LEVEL[ladder]
            if problem := granularity_problem(ladder, level, wanted):
                raise Refused(422, "finer_than_released", f"filter {name}: {problem}", decision)
        for name in req.sensitive:
            if (
                name not in req.fields
                or name in dataset.hierarchies
                or dataset.fields.get(name)
                in (
                    Classification.quasi_identifier,
                    Classification.free_text,
                )
            ):
                raise Refused(
                    422,
                    "unknown_sensitive_field",
                    f"sensitive field {name!r} is not one of the requested fields that can be held "
                    f"l-diverse (a requested flag or category, not a quasi-identifier or free text)",
                    decision,
                )
        self._no_small_differences(req, agreement.disclosure.k or DEFAULT_K, decision)
        row = {
            "extract_id": uuid.uuid4().hex,
            "requester": principal.sub,
            "requester_json": json.dumps(principal.as_dict()),
            "purpose": req.purpose,
            "project": req.project,
            "agreement_id": decision.agreement.id,
            "dataset": req.dataset,
            "fields_json": json.dumps(list(dict.fromkeys(req.fields))),
            "filters_json": json.dumps({k: _plain(v) for k, v in req.filters.items()}),
            "sensitive_json": json.dumps(req.sensitive),
            "pseudonyms": decision.agreement.pseudonyms,
            "status": "pending_approval",
            "progress": 0,
            "stage": "waiting for an information-governance officer to approve",
            "created_at": iso(now()),
        }
        self.store.add(row)
        found = self.store.get(str(row["extract_id"]))
        assert found is not None
        return found, decision

    def _no_small_differences(self, req: ExtractRequest, k: int, decision: Decision) -> None:
        """A project's extracts are checked against each other: two selections of the same people by
        different filters must not differ by fewer than k people (the difference would single them
        out, each extract k-anonymous on its own). Checked on the people each selects now."""
        earlier = [
            e
            for e in self.store.listing()
            if e["project"] == req.project and e["status"] not in ("rejected", "failed")
        ]
        if not earlier:
            return
        people = read_people(self.dd)
        protected = protected_people(self.dd, people)

        def chosen(dataset: str, filters: dict[str, Any]) -> set[str]:
            return {r["person_id"] for r in selected_rows(self.dd, people, dataset, filters)} - protected

        mine = chosen(req.dataset, {name: _plain(v) for name, v in req.filters.items()})
        for e in earlier:
            theirs = chosen(e["dataset"], e["filters"] or {})
            for n in (len(mine - theirs), len(theirs - mine)):
                if 0 < n < k:
                    raise Refused(
                        409,
                        "overlapping_extract",
                        f"this selection and extract {e['extract_id']} of project {req.project} differ by "
                        f"{n} people, fewer than k = {k}: the difference would single them out; "
                        "widen or narrow the filters so they differ by at least k, or not at all",
                        decision,
                    )

    def visible(
        self, extract_id: str, principal: Principal, *, requester_only: bool = False
    ) -> dict[str, Any]:
        """The extract if the caller asked for it (or, for status, is an IG officer); 404 otherwise, so
        that nobody learns which extracts exist."""
        self.expire_due()
        found = self.store.get(extract_id) if _well_formed(extract_id) else None
        if found is None:
            raise Refused(404, "not_found", f"there is no extract {extract_id} of yours")
        if found["requester"] == principal.sub:
            return found
        if not requester_only and self.may_approve(principal):
            return found
        raise Refused(404, "not_found", f"there is no extract {extract_id} of yours")

    def warnings(self, extract: dict[str, Any]) -> list[dict[str, str]]:
        """What an approver must read and acknowledge before approving (shown with the request)."""
        if self._releases_protected(extract):
            return [{"code": PROTECTED_PEOPLE, "text": PROTECTED_WARNING.format(a=extract["agreement_id"])}]
        return []

    def approve(
        self, extract_id: str, principal: Principal, acknowledged: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        found = self.store.get(extract_id) if _well_formed(extract_id) else None
        if found is not None and found["status"] == "pending_approval" and self.may_approve(principal):
            unread = [w for w in self.warnings(found) if w["code"] not in acknowledged]
            if unread:
                raise Refused(
                    409,
                    "acknowledgement_needed",
                    " ".join(w["text"] for w in unread)
                    + f" To approve, acknowledge: {', '.join(w['code'] for w in unread)}.",
                )
        return self._decide_on(extract_id, principal, approve=True)

    def reject(self, extract_id: str, principal: Principal, reason: str) -> dict[str, Any]:
        return self._decide_on(extract_id, principal, approve=False, reason=reason)

    def _decide_on(
        self, extract_id: str, principal: Principal, *, approve: bool, reason: str | None = None
    ) -> dict[str, Any]:
        decision = self._may(principal, APPROVE_EXTRACTS)
        if not decision.allow:
            raise Refused(403, "forbidden", decision.reason, decision)
        found = self.store.get(extract_id) if _well_formed(extract_id) else None
        if found is None:
            raise Refused(404, "not_found", f"there is no extract {extract_id}")
        if found["requester"] == principal.sub:
            raise Refused(
                403, "self_approval", "nobody may approve their own extract request (self-approval)"
            )
        values: dict[str, str | None] = {"decided_by": principal.sub, "decided_at": iso(now())}
        if approve:
            values.update(status="approved", stage="approved; waiting to be built")
        else:
            values.update(status="rejected", stage=f"rejected by {principal.sub}", decision_reason=reason)
        if not self.store.transition(extract_id, "pending_approval", **values):
            raise Refused(409, "not_pending", f"extract {extract_id} is {found['status']}, not pending")
        updated = self.store.get(extract_id)
        assert updated is not None
        return updated

    # --- building ------------------------------------------------------------------------------
    def run(self, extract_id: str) -> None:
        """Build one approved extract, if this process is the one that claims it."""
        if not self.store.transition(extract_id, "approved", status="building", progress=1, stage="starting"):
            return
        extract = self.store.get(extract_id)
        assert extract is not None
        try:
            version = self.store.key_version(extract["project"])
            built = build_extract(
                self.dd,
                extract,
                policy=self.policy,
                catalogue=self.catalogue,
                keys=self.keys,
                key_version=version,
                step=lambda p, s: self.store.progress(extract_id, p, s),
                notes_model=self.notes_model,
            )
            self.store.set_subjects(extract_id, built.subjects)
            self._audit_build(extract, built.rows, built.report, len(built.subjects))
        except (ExtractFailed, NotAnonymisable, KeyUnavailable, ModelNotFound) as exc:
            self._fail(extract, str(exc))
            return
        except Exception as exc:  # fail closed: no files, a failed status and a reason
            log.exception("extract %s failed", extract_id)
            self._fail(extract, f"the build failed: {type(exc).__name__}")
            return
        self.store.transition(
            extract_id,
            "building",
            status="ready",
            progress=100,
            stage="ready to download",
            finished_at=iso(now()),
            expires_at=iso(now() + dt.timedelta(days=built.extract_days)),
            rows=built.rows,
            key_version=built.key_version,
            report_json=json.dumps(built.report, default=str),
        )

    def _fail(self, extract: dict[str, Any], reason: str) -> None:
        remove_files(self.dd, extract["extract_id"])
        self.store.transition(
            extract["extract_id"], "building", status="failed", stage="failed", error=reason
        )
        try:
            self._audit(extract, "extracts.build", "deny", reason, 0, {})
        except Exception:  # the failure is already recorded on the extract itself
            log.exception("could not audit the failure of extract %s", extract["extract_id"])

    def _audit_build(self, extract: dict[str, Any], rows: int, report: dict[str, Any], subjects: int) -> None:
        """The build is a processing step with no HTTP request: it is audited here, and if the audit
        store refuses, the files are removed and the extract fails (nothing unaudited is kept)."""
        self._audit(extract, "extracts.build", "allow", "built", rows, {**report, "subjects": subjects})

    def _audit(
        self, extract: dict[str, Any], action: str, decision: str, reason: str, rows: int, disclosure: dict
    ) -> None:
        allowed = decision == "allow"
        record = AuditRecord(
            action=action,
            resource=f"extracts/{extract['extract_id']}",
            purpose=extract["purpose"],
            agreement_id=extract["agreement_id"],
            reason=reason,
            fields_released=list(extract["fields"]),
            rows_released=rows,
            disclosure_applied=disclosure,
            request={"extract_id": extract["extract_id"], "requester": extract["requester"]},
        )
        self.audit.append(
            record.event(
                id=str(uuid.uuid4()),
                actor="gateway:extract-job",
                roles=[],
                allowed=allowed,
                trace_id=uuid.uuid4().hex,
                status=200 if allowed else 500,
            )
        )

    # --- downloading and expiry ----------------------------------------------------------------
    def data_file(self, extract_id: str, principal: Principal, fmt: str) -> tuple[Path, dict[str, Any]]:
        found = self.visible(extract_id, principal, requester_only=True)
        self._still_allowed(found, principal)
        if found["status"] == "expired":
            raise Refused(410, "extract_expired", f"extract {extract_id} expired on {found['expires_at']}")
        if found["status"] != "ready":
            raise Refused(409, "not_ready", f"extract {extract_id} is {found['status']}")
        path = extract_dir(self.dd, extract_id) / FILES[fmt]
        if not path.is_file():
            raise Refused(410, "extract_expired", f"the files of extract {extract_id} are gone")
        return path, found

    def expire_due(self, at: dt.datetime | None = None) -> list[str]:
        return expire_due(self.dd, self.store, at)

    def rotation(self, extract_id: str, principal: Principal) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """Old -> new pseudonyms of this extract's people, for its requester only, after a rotation."""
        found = self.visible(extract_id, principal, requester_only=True)
        self._still_allowed(found, principal)
        if found["key_version"] is None:
            raise Refused(409, "not_ready", f"extract {extract_id} has not been built")
        current = self.store.key_version(found["project"])
        if current == found["key_version"]:
            raise Refused(409, "not_rotated", f"project {found['project']} still uses key version {current}")
        master = self.keys.master_key()
        old = ProjectKey.derive(master, found["project"], found["key_version"], found["pseudonyms"])
        new = ProjectKey.derive(master, found["project"], current, found["pseudonyms"])
        # The checks run again: someone the stores have marked not to be located since the build is
        # left out of the mapping, unless the agreement releases protected people.
        people = self.store.subjects(extract_id)
        if not self._releases_protected(found):
            protected = protected_among(self.dd, people)
            people = [p for p in people if p not in protected]
        return list(zip(old.many(people), new.many(people), strict=True)), found

    # --- re-identification ---------------------------------------------------------------------
    def request_reid(
        self, req: ReidentificationRequest, principal: Principal
    ) -> tuple[dict[str, Any], Decision]:
        decision = self._may(principal, REQUEST_REID)
        if not decision.allow:
            raise Refused(403, "forbidden", decision.reason, decision)
        try:
            kind, _version = parse(req.pseudonym)
        except PseudonymError as exc:
            raise Refused(400, "bad_pseudonym", str(exc)) from exc
        if kind == ONE_WAY:
            raise Refused(
                422, "one_way_pseudonym", "one-way pseudonyms cannot be reversed, by anyone, by design"
            )
        holds = [e for e in self.store.listing(requester=principal.sub) if e["project"] == req.project]
        if not any(e["status"] in {"ready", "expired"} for e in holds):
            raise Refused(403, "not_a_holder", f"only holders of an extract of project {req.project} may ask")
        self._agreement_still_allows(req.project, principal)
        self._reverse(req.project, req.pseudonym)  # refuse now, not after two people approved nonsense
        row = {
            "reid_id": uuid.uuid4().hex,
            "requester": principal.sub,
            "project": req.project,
            "pseudonym": req.pseudonym,
            "reason": req.reason,
            "status": "pending",
            "created_at": iso(now()),
        }
        self.store.add_reid(row)
        found = self.store.get_reid(row["reid_id"])
        assert found is not None
        return found, decision

    def approve_reid(self, reid_id: str, principal: Principal) -> tuple[dict[str, Any], Decision]:
        decision = self._may(principal, APPROVE_REID)
        if not decision.allow:
            raise Refused(403, "forbidden", decision.reason, decision)
        found = self.store.get_reid(reid_id) if _well_formed(reid_id) else None
        if found is None:
            raise Refused(404, "not_found", f"there is no re-identification request {reid_id}")
        if found["requester"] == principal.sub:
            raise Refused(
                403, "self_approval", "nobody may approve their own re-identification request (self-approval)"
            )
        if principal.sub in found["approvers"]:
            raise Refused(409, "already_approved", "each approver counts once; a second approver is needed")
        if found["status"] != "pending":
            raise Refused(409, "not_pending", f"request {reid_id} is {found['status']}")
        allowed = self._agreement_still_allows(
            found["project"], self._requester(found["project"], found["requester"])
        )
        person = self._reverse(found["project"], found["pseudonym"])
        if person in protected_among(self.dd, [person]) and not (
            allowed.agreement and allowed.agreement.disclosure.include_protected
        ):
            raise Refused(
                403,
                "protected_person",
                "this person is marked in the stores as not to be located (a refuge address or an "
                "adoption); their identity is not revealed under this agreement",
                allowed,
            )
        try:
            return self.store.approve_reid(reid_id, principal.sub, REID_APPROVERS, person), decision
        except IntegrityError as exc:  # the same approver, twice, at the same moment
            raise Refused(409, "already_approved", "each approver counts once") from exc

    def reid_requests(self, principal: Principal) -> list[dict[str, Any]]:
        """An approver's queue (everyone's requests but their own) or a requester's own requests.

        A listing never carries the answer: the person id leaves only through `reid_status`, which
        is audited as a reveal naming the person.
        """
        if self._may(principal, APPROVE_REID).allow:
            found = [r for r in self.store.reid_listing() if r["requester"] != principal.sub]
        else:
            decision = self._may(principal, REQUEST_REID)
            if not decision.allow:
                raise Refused(403, "forbidden", decision.reason, decision)
            found = self.store.reid_listing(requester=principal.sub)
        return [{**r, "person_id": None} for r in found]

    def reid_status(self, reid_id: str, principal: Principal) -> dict[str, Any]:
        found = self.store.get_reid(reid_id) if _well_formed(reid_id) else None
        if found is None or (
            found["requester"] != principal.sub and not self._may(principal, APPROVE_REID).allow
        ):
            raise Refused(404, "not_found", f"there is no re-identification request {reid_id} of yours")
        if found["requester"] != principal.sub:
            return {**found, "person_id": None}  # approvers see the request, never the answer
        if found["person_id"] and not self._may(principal, REQUEST_REID).allow:
            return {**found, "person_id": None}  # a requester who has since lost the role sees no answer
        if found["person_id"]:
            self._agreement_still_allows(found["project"], principal)  # the answer leaves only under it
        return found

    def _requester(self, project: str, requester: str) -> Principal:
        """The requester as they were when they asked for the project's extract (their claims are kept
        with it), so approvers' decisions are taken on the requester's agreement, not their own."""
        for e in self.store.listing(requester=requester):
            if e["project"] == project and e.get("requester_claims"):
                return principal_of(e["requester_claims"])
        raise Refused(403, "not_a_holder", f"{requester} holds no extract of project {project}")

    def _agreement_still_allows(self, project: str, principal: Principal) -> Decision:
        """Re-identification is processing under the extract's agreement: when every agreement that the
        project's extracts were released under has ended (or no longer covers the requester), no
        request is accepted, approved or revealed."""
        refusals = []
        for e in self.store.listing(requester=principal.sub):
            if e["project"] != project or e["status"] not in {"ready", "expired"}:
                continue
            decision = self.policy.decide(principal, "extract", e["dataset"], e["purpose"], e["agreement_id"])
            if decision.allow:
                return decision
            refusals.append(decision)
        reason = refusals[0].reason if refusals else f"no extract of project {project} is held"
        raise Refused(
            403,
            "forbidden",
            f"re-identification needs the extract's agreement to be in force: {reason}",
            refusals[0] if refusals else None,
        )

    def _reverse(self, project: str, pseudonym: str) -> str:
        if not self.store.known_project(project):
            raise Refused(404, "unknown_project", f"there is no project {project}")
        _kind, version = parse(pseudonym)
        key = ProjectKey.derive(self.keys.master_key(), project, version, "reversible")
        try:
            return key.reverse(pseudonym)
        except PseudonymError as exc:
            raise Refused(422, "unknown_pseudonym", str(exc)) from exc

    def _still_allowed(self, extract: dict[str, Any], principal: Principal) -> None:
        """Data leaves only under a decision taken now: an agreement that ended since the build, or a
        requester who lost the role, stops the download."""
        decision = self.policy.decide(
            principal, "extract", extract["dataset"], extract["purpose"], extract["agreement_id"]
        )
        if not decision.allow:
            raise Refused(403, "forbidden", decision.reason, decision)

    def _releases_protected(self, extract: dict[str, Any]) -> bool:
        agreement = self.policy.registry.get(extract["agreement_id"] or "")
        return bool(agreement and agreement.disclosure.include_protected)

    def may_approve(self, principal: Principal) -> bool:
        return self._may(principal, APPROVE_EXTRACTS).allow

    def _may(self, principal: Principal, what: tuple[str, str, str]) -> Decision:
        view, dataset, purpose = what
        return self.policy.decide(principal, view, dataset, purpose)


def expire_due(dd: DataDir, store: ExtractStore, at: dt.datetime | None = None) -> list[str]:
    """Delete the files of every extract past its expiry date; their status becomes `expired`."""
    gone = store.expired(at or now())
    for extract_id in gone:
        remove_files(dd, extract_id)
        store.transition(extract_id, "ready", status="expired", stage="expired; files deleted")
    return gone


def _well_formed(identifier: str) -> bool:
    return len(identifier) == 32 and all(c in "0123456789abcdef" for c in identifier)


def _plain(value: Any) -> Any:
    if hasattr(value, "bounds"):
        return value.bounds()
    return value
