"""Rendering: the Jinja2 environment, the navigation each role sees, and error pages that say what to do.

Navigation is a convenience built from the token's roles; what a user may actually see is decided by
the policy engine on every API call behind the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from gateway.web.session import SignedIn, SignInNeeded, signed_in
from gateway.web.wording import FILTERS

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters.update(FILTERS)


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


NAV: tuple[tuple[tuple[str, ...], NavItem], ...] = (
    (("caseworker", "senior_practitioner"), NavItem("/ui/caseload", "My caseload")),
    (("analyst",), NavItem("/ui/tables", "Tables")),
    (("analyst",), NavItem("/ui/extracts", "Extracts")),
    (("analyst", "reidentification_approver"), NavItem("/ui/reidentifications", "Re-identifications")),
    (("ig_officer",), NavItem("/ui/audit", "Audit log")),
    (("ig_officer",), NavItem("/ui/alerts", "Alerts")),
    (("ig_officer",), NavItem("/ui/approvals", "Approvals")),
    (("ig_officer",), NavItem("/ui/chain", "Chain")),
    ((), NavItem("/ui/agreements", "Agreements")),
    (("ig_officer", "dpo", "information_asset_owner"), NavItem("/ui/agreements/drafts", "Drafts")),
    (("ig_officer", "dpo"), NavItem("/ui/what-if", "Try a change")),
    (("ig_officer",), NavItem("/ui/ropa", "Article 30")),
    (("partner",), NavItem("/ui/exchanges", "Send a file")),
)


def nav_for(user: SignedIn | None) -> list[NavItem]:
    if user is None:
        return []
    return [item for roles, item in NAV if not roles or user.has(*roles)]


def render(
    request: Request,
    template: str,
    user: SignedIn | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "nav": nav_for(user),
            "path": request.url.path,
            # The audit events behind this page, so a user can quote them and a reviewer find them.
            "audit_ids": getattr(request.state, "audit_ids", []),
            **context,
        },
        status_code=status_code,
    )


# What a person can do next, by status: the API's own sentence says why.
NEXT_STEPS = {
    400: "Go back, correct what was entered and try again.",
    403: (
        "Access to other services' data is granted through data-sharing agreements. If you need this for "
        "your work, ask your manager or your information-governance officer."
    ),
    404: "Check the link, or start again from your home page.",
    409: "Someone else changed this at the same time. Reload the page to see where it stands now.",
    410: "This has expired and its data has been deleted. Request it again if you still need it.",
    413: "What was sent is too large. Send less at a time.",
    422: "Go back, correct what was entered and try again.",
    500: "Something went wrong inside the gateway and nothing was shown. Try again; if it happens again, "
    "contact the service desk with the reference below.",
    503: (
        "A system the gateway depends on is not answering, so nothing was shown: the gateway shows "
        "nothing rather than something it could not check or record. Try again in a few minutes; if it "
        "persists, contact the service desk with the reference below."
    ),
}
TITLES = {
    400: "The request could not be used",
    401: "You need to sign in",
    403: "You do not have access to this",
    404: "Page not found",
    409: "This changed while you were working",
    410: "This is no longer available",
    413: "Too much was sent",
    422: "The request could not be used",
    500: "Something went wrong",
    503: "A service is unavailable",
}


def error_page(request: Request, status: int, code: str, detail: str) -> Any:
    """The page for a refusal; 401 goes to sign-in, since signing in again is the only next step.

    The reference is the trace id the page's API calls carried: it finds them in the gateway's logs
    even when no audit event could be written (an audit outage).
    """
    if status == 401:
        return to_sign_in(request, "Your session has ended. Sign in again to continue.")
    try:
        user: SignedIn | None = signed_in(request)
    except SignInNeeded:
        user = None
    return render(
        request,
        "error.html",
        user,
        status_code=status,
        status=status,
        title=TITLES.get(status, "The request could not be completed"),
        code=code,
        detail=detail[:1].upper() + detail[1:],
        next_step=NEXT_STEPS.get(status, NEXT_STEPS[400] if status < 500 else NEXT_STEPS[503]),
        reference=getattr(request.state, "trace_id", None),
        now=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def to_sign_in(request: Request, message: str) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = urlencode({"next": target if request.method == "GET" else "/ui/", "message": message})
    return RedirectResponse(f"/ui/sign-in?{query}", status_code=303)
