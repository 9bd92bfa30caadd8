"""API fuzzing with schemathesis against the gateway's own OpenAPI document, in process (ASGI), on the
linked 20k borough: every operation, examples generated from the document, each sent once per demo
role with a valid token and once with none.

Each response must not be a 5xx, must carry a status the document declares, and must match the
declared schema and content type. On top of that, a response must never be a success where the policy
says the caller's role may not use that view at all (derived from the loaded policy, not listed here),
and nothing under /v1 succeeds without a token.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.policy.decision import PolicyEngine, _roles
from tests.conftest import bearer

ROLES = ("cw.alice", "an.priya", "ig.olu", "ra.one")
POLICIES = Path(__file__).resolve().parents[1] / "policies"
EXAMPLES = 6  # per operation; each example is sent for every role and without a token

# Which policy view (and, where the view alone is ambiguous, dataset) each operation serves: the API's
# own structure. Whether a role may use a view comes from the policy files.
ROUTE_VIEWS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/v1/caseload"): ("caseload", None),
    ("GET", "/v1/persons/{person_id}/flags"): ("flags", None),
    ("GET", "/v1/families/{family_id}/context"): ("flags", None),
    ("POST", "/v1/aggregates"): ("aggregate", None),
    ("POST", "/v1/extracts"): ("extract", None),
    ("POST", "/v1/extracts/{extract_id}/approve"): ("approve", "extracts"),
    ("POST", "/v1/extracts/{extract_id}/reject"): ("approve", "extracts"),
    ("POST", "/v1/reidentifications/{reid_id}/approve"): ("approve", "reidentifications"),
    ("GET", "/v1/audit/events"): ("review", "audit"),
    ("GET", "/v1/audit/subjects/{person_id}"): ("review", "audit"),
    ("GET", "/v1/audit/verify"): ("review", "audit"),
    ("GET", "/v1/audit/alerts"): ("review", "audit"),
    ("POST", "/v1/audit/alerts/review"): ("review", "audit"),
}


def usable(user_id: str) -> set[tuple[str, str]]:
    """(view, dataset) pairs some allow line of the loaded policy grants this user's roles today."""
    from gateway.identity.users import load_demo_users

    user = load_demo_users(POLICIES).get(user_id)
    from gateway.identity.principal import Principal

    principal = Principal(user.id, user.name, tuple(user.roles), user.department, user.team)
    engine = PolicyEngine(POLICIES)
    loaded = engine.current()
    roles = _roles(loaded, principal)
    today = dt.date.today().isoformat()
    return {
        (line[3], line[2])
        for line in loaded.enforcer.get_policy()
        if line[-1] == "allow"
        and line[0] in roles
        and line[1] in {"*", principal.department}
        and line[6] <= today <= line[7]
    }


def forbidden(user_id: str, method: str, path: str) -> bool:
    view = ROUTE_VIEWS.get((method, path))
    if view is None:
        return False
    grants = usable(user_id)
    name, dataset = view
    return not any(v == name and (dataset is None or d == dataset) for v, d in grants)


@pytest.fixture(scope="module")
def gateway_schema(analysis_borough: Path) -> schemathesis.BaseSchema:
    app = create_app(Settings(data_dir=analysis_borough))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def tokens(analysis_borough: Path) -> dict[str, dict[str, str]]:
    return {user: bearer(analysis_borough, user) for user in ROLES}


@pytest.fixture(scope="module")
def refusals() -> dict[str, set[tuple[str, str]]]:
    """For each role, the operations the policy never lets it use (checked once per module)."""
    return {user: {key for key in ROUTE_VIEWS if forbidden(user, *key)} for user in ROLES}


def test_the_policy_forbids_something_to_every_role(refusals) -> None:
    """The check below is not vacuous: each role has operations it must never get a success from."""
    assert all(refusals[user] for user in ROLES), refusals
    assert ("GET", "/v1/audit/events") in refusals["cw.alice"] and ("POST", "/v1/aggregates") in refusals[
        "ig.olu"
    ]
    assert ("GET", "/v1/audit/events") not in refusals["ig.olu"]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _exercise(case, tokens: dict[str, dict[str, str]], refusals: dict[str, set[tuple[str, str]]]) -> None:
    path, method = case.operation.path, case.method.upper()
    anonymous = case.call_and_validate(headers={"Authorization": ""}, checks=CHECKS)
    if path.startswith("/v1/"):
        assert anonymous.status_code == 401, f"{method} {path}: {anonymous.status_code} without a token"
    for user, headers in tokens.items():
        response = case.call_and_validate(headers=dict(headers), checks=CHECKS)  # it adds to the dict
        if (method, path) in refusals[user]:
            assert response.status_code >= 400, (
                f"{user} got {response.status_code} from {method} {path}, a view the policy never grants"
            )


def test_fuzz_every_operation_as_every_role(gateway_schema, tokens, refusals) -> None:
    """Schema-valid and schema-invalid examples for each operation (schemathesis's pytest plugin does
    not load lazily under pytest 9, so the operations are walked here; a failure names its operation)."""
    operations = [result.ok() for result in gateway_schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
            def run(case) -> None:
                _exercise(case, tokens, refusals)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, f"{operation.path}: no valid example"
                continue  # nothing in this operation can be made invalid (no parameters, no body)
            except Exception as exc:
                raise AssertionError(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"
                ) from exc
