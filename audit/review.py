"""What an IG officer asks of the audit log: filtered pages of events, a person's access history, alerts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, or_, select

from audit import schema
from audit.chain import from_row
from audit.store import EVENT_RESOURCE, OUTCOME_ACTION

E = schema.events


@dataclass(frozen=True)
class EventFilter:
    actor: str | None = None
    subject: str | None = None
    purpose: str | None = None
    decision: str | None = None
    since: str | None = None  # ISO time, inclusive
    until: str | None = None  # ISO time, exclusive
    # With `subject`: events on these resources count as about the subject too (the extracts the person
    # is in: a build or download names the extract, not each of its thousands of people).
    resources: tuple[str, ...] = ()
    # With `subject`: the ids the person had before the index merged or split them.
    aliases: tuple[str, ...] = ()


def _query(f: EventFilter, cursor: int | None = None) -> Any:
    q = select(E).order_by(E.c.seq.desc())
    if f.actor:
        q = q.where(E.c.actor == f.actor)
    if f.subject:
        about = [E.c.subject_ids.like(f'%"{s}"%') for s in (f.subject, *f.aliases)]
        if f.resources:
            about.append(E.c.resource.in_(f.resources))
        q = q.where(or_(*about))
    if f.purpose:
        q = q.where(E.c.purpose == f.purpose)
    if f.decision:
        q = q.where(E.c.decision == f.decision)
    if f.since:
        q = q.where(E.c.time >= f.since)
    if f.until:
        q = q.where(E.c.time < f.until)
    if cursor is not None:
        q = q.where(E.c.seq < cursor)
    return q


def page(
    engine: Engine, f: EventFilter, limit: int, cursor: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `next_cursor` is the seq to pass back for the following page (None at the end)."""
    with engine.connect() as conn:
        rows = [from_row(r._mapping) for r in conn.execute(_query(f, cursor).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["seq"] if more and rows else None)


def stream(engine: Engine, f: EventFilter) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=5000).execute(_query(f)):
            yield from_row(r._mapping)


# What an `audit.outcome` event says about the access it follows (written ahead of its fetch).
OUTCOME_FIELDS = ("decision", "reason", "fields_released", "rows_released", "disclosure_applied", "status")


def with_outcomes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each access written ahead of its fetch read as one event, with what its reply carried folded in
    from the `audit.outcome` that follows it (and that outcome left out), so that a person's history
    and the alerts count one access once and see the rows, fields and protection actually released.
    An outcome whose access is not among `events` is kept as it is."""
    ids = {e["id"] for e in events}
    outcomes = {
        e["resource"].removeprefix(EVENT_RESOURCE): e for e in events if e["action"] == OUTCOME_ACTION
    }
    out = []
    for e in events:
        if e["action"] == OUTCOME_ACTION and e["resource"].removeprefix(EVENT_RESOURCE) in ids:
            continue
        outcome = outcomes.get(e["id"])
        out.append({**e, **{k: outcome[k] for k in OUTCOME_FIELDS}} if outcome else e)
    return out


# What an extract's events did with the data of the people in it: built it, handed it out.
EXTRACT_DATA_ACTIONS = frozenset({"extracts.build", "extracts.download"})


def subject_history(
    engine: Engine, person_id: str, extracts: tuple[str, ...] = (), earlier_ids: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Every access to a person: events naming them or an id they had before the index merged or
    split them (`earlier_ids`, each entry saying `as_id`), and the builds and downloads of the extracts
    they are in (`extracts`), each saying which extract it came through (`via`)."""
    resources = tuple(f"extracts/{e}" for e in extracts)
    ids = {person_id, *earlier_ids}
    events = [
        e
        for e in with_outcomes(
            list(stream(engine, EventFilter(subject=person_id, resources=resources, aliases=earlier_ids)))
        )
        if ids & set(e["subject_ids"]) or e["action"] in EXTRACT_DATA_ACTIONS
    ]
    return [
        {
            "who": e["actor"],
            "roles": e["roles"],
            "when": e["time"],
            "action": e["action"],
            "purpose": e["purpose"],
            "agreement_id": e["agreement_id"],
            "decision": e["decision"],
            "fields": e["fields_released"],
            "break_glass": e["break_glass"],
            "reason": e["reason"],
            "audit_id": e["id"],
            "seq": e["seq"],
            "via": e["resource"] if not ids & set(e["subject_ids"]) else None,
            "as_id": None
            if person_id in e["subject_ids"]
            else next((i for i in earlier_ids if i in e["subject_ids"]), None),
        }
        for e in events
    ]


@dataclass(frozen=True)
class AlertRules:
    subjects_per_hour: int = 40
    working_hours: tuple[int, int] = (7, 19)
    timezone: str = "Europe/London"
    denials_in_ten_minutes: int = 5
    # Overseers (IG officers, approvers, the DPO) are watched too: their actions per hour.
    overseer_actions_per_hour: int = 60
    overseer_roles: frozenset[str] = frozenset()


def _local(time: str, tz: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(time.replace("Z", "+00:00"))
    try:
        return moment.astimezone(ZoneInfo(tz))
    except ZoneInfoNotFoundError:
        return moment


REIDENTIFICATION_STEPS = {
    "reidentifications.request",
    "reidentifications.approve",
    "reidentifications.reveal",
}


def alerts(engine: Engine, rules: AlertRules, since: str | None = None) -> list[dict[str, Any]]:
    """Accesses that need a person to look at them, oldest first within each kind."""
    events = with_outcomes(list(reversed(list(stream(engine, EventFilter(since=since))))))
    out: list[dict[str, Any]] = []
    for e in events:
        if e["break_glass"]:
            out.append(_alert("break_glass", e, f"{e['actor']} used break-glass: {e['reason']}"))
            if e["subject_ids"]:
                out.append(
                    _alert("outside_caseload", e, f"{e['actor']} reached people not on their caseload")
                )
        if e["action"] in REIDENTIFICATION_STEPS and e["decision"] == "allow":
            # Every step of a re-identification (asked, approved, revealed) is for a person to review.
            out.append(_alert("reidentification", e, f"{e['actor']}: {e['action']} ({e['reason']})"))
        if e["decision"] == "deny" and "self-approval" in (e["reason"] or ""):
            out.append(_alert("self_approval", e, f"{e['actor']} tried to approve their own request"))
        if (e.get("disclosure_applied") or {}).get("protected"):
            out.append(_alert("protected_access", e, f"{e['actor']} reached a protected person's services"))
    out.extend(_out_of_hours(events, rules))
    per_hour: dict[tuple[str, str], set[str]] = defaultdict(set)
    first_of: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        key = (e["actor"], e["time"][:13])
        per_hour[key].update(e["subject_ids"])
        first_of.setdefault(key, e)
    for key, subjects in per_hour.items():
        if len(subjects) > rules.subjects_per_hour:
            out.append(
                _alert(
                    "unusual_volume",
                    first_of[key],
                    f"{key[0]} touched {len(subjects)} people in the hour from {key[1]}:00 "
                    f"(limit {rules.subjects_per_hour})",
                )
            )
    overseen: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if rules.overseer_roles & set(e["roles"]):
            overseen[(e["actor"], e["time"][:13])].append(e)
    for (actor, hour), done in overseen.items():
        if len(done) > rules.overseer_actions_per_hour:
            out.append(
                _alert(
                    "overseer_volume",
                    done[0],
                    f"{actor} made {len(done)} requests in the hour from {hour}:00 "
                    f"(limit {rules.overseer_actions_per_hour} for overseers)",
                )
            )
    denials: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["decision"] == "deny" and not mistyped(e):
            denials[e["actor"]].append(e)
    for actor, ds in denials.items():
        window: list[dt.datetime] = []
        for e in ds:
            t = dt.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
            window = [w for w in window if t - w < dt.timedelta(minutes=10)] + [t]
            if len(window) == rules.denials_in_ten_minutes:
                out.append(
                    _alert("denied_burst", e, f"{actor} was refused {len(window)} times within ten minutes")
                )
    return out


def mistyped(e: dict[str, Any]) -> bool:
    """A malformed request that named nobody (a search typo, a bad date): refused before any data was
    reached, so it is not the probing that "repeated refusals" watches for."""
    return e.get("status") in (400, 422) and not e["subject_ids"]


def _out_of_hours(events: list[dict[str, Any]], rules: AlertRules) -> list[dict[str, Any]]:
    """One alert per person per local day on which they reached personal data out of hours, on the
    first such access and counting the rest: a late evening's work is one thing to review, not twenty."""
    start, end = rules.working_hours
    days: dict[tuple[str, dt.date], list[tuple[dict[str, Any], dt.datetime]]] = defaultdict(list)
    for e in events:
        local = _local(e["time"], rules.timezone)
        if (
            e["actor"] != "anonymous"
            and e["subject_ids"]
            and (local.weekday() >= 5 or not start <= local.hour < end)
        ):
            days[(e["actor"], local.date())].append((e, local))
    out = []
    for (actor, _day), accesses in days.items():
        first, local = accesses[0]
        more = f", and {len(accesses) - 1} more times that day" if len(accesses) > 1 else ""
        out.append(_alert("out_of_hours", first, f"{actor} accessed personal data at {local:%a %H:%M}{more}"))
    return out


ALERT_KINDS = frozenset(
    {
        "break_glass",
        "outside_caseload",
        "reidentification",
        "protected_access",
        "out_of_hours",
        "unusual_volume",
        "denied_burst",
        "self_approval",
        "overseer_volume",
    }
)
REVIEW_ACTION = "audit.alert_review"


def alert_resource(audit_id: str, kind: str) -> str:
    """The resource a review event names: one alert is one (event, kind) pair."""
    return f"alert/{audit_id}/{kind}"


def reviews(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    """Who marked which alert reviewed, read back from the audit log itself.

    A review is an allowed `audit.alert_review` event, so the marking is as tamper-evident as the
    accesses it reviews and needs no table of its own. The latest review of an alert wins.
    """
    q = (
        select(E.c.resource, E.c.actor, E.c.time, E.c.reason)
        .where(E.c.action == REVIEW_ACTION, E.c.decision == "allow")
        .order_by(E.c.seq)
    )
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for resource, actor, time, note in conn.execute(q):
            _, audit_id, kind = resource.split("/", 2)
            out[(audit_id, kind)] = {"by": actor, "time": time, "note": note}
    return out


def event_exists(engine: Engine, audit_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(E.c.seq).where(E.c.id == audit_id).limit(1)).first() is not None


def event_time(engine: Engine, audit_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(E.c.time).where(E.c.id == audit_id).limit(1)).scalar_one_or_none()


def alert_for(engine: Engine, rules: AlertRules, audit_id: str, kind: str) -> dict[str, Any] | None:
    """The alert of `kind` raised by event `audit_id`, if it raised one: a review must name a real
    alert, so an ordinary event cannot be marked as a reviewed break-glass alert. Alerts that count
    events (volume, denial bursts) look back at most an hour, so the hour before the event is read."""
    at = event_time(engine, audit_id)
    if at is None:
        return None
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00")) - dt.timedelta(hours=1)
    since = moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return next(
        (a for a in alerts(engine, rules, since) if a["audit_id"] == audit_id and a["kind"] == kind), None
    )


def _alert(kind: str, e: dict[str, Any], detail: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "detail": detail,
        "actor": e["actor"],
        "roles": e["roles"],
        "time": e["time"],
        "audit_id": e["id"],
        "seq": e["seq"],
        "subject_ids": e["subject_ids"],
        "purpose": e["purpose"],
    }
