"""What a form offers a user: the purposes and agreements open to them, from the policy registry.

These are the caller's own entitlements (policy metadata, no personal data), so the pages read them
from the policy engine directly; every data request made with a chosen purpose is still decided anew.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gateway.web.services import web_services
from gateway.web.session import SignedIn


@dataclass(frozen=True)
class Purpose:
    name: str
    description: str
    agreement_id: str


def purposes(request: Request, user: SignedIn, view: str) -> list[Purpose]:
    policy = web_services(request).policy
    registry = policy.registry
    out: list[Purpose] = []
    for a in policy.open_to(user.principal):
        if a["view"] != view:
            continue
        for name in a["purposes"]:
            out.append(Purpose(name, registry[a["id"]].purposes.get(name, name), a["id"]))
    return out


def chosen(options: list[Purpose], wanted: str | None) -> Purpose | None:
    """The purpose asked for if it is offered, else the first one: a page never guesses a foreign one."""
    for p in options:
        if p.name == wanted:
            return p
    return options[0] if options else None
