"""What the web pages share across requests, built once by `install_web`: the session-signing secret,
the in-process client of the gateway's own API, and the OIDC client when a real provider is used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from authlib.integrations.starlette_client import OAuth
from fastapi import FastAPI, Request

from gateway.catalogue import Catalogue
from gateway.config import Settings
from gateway.identity.revocation import Revocations
from gateway.identity.tokens import Verifier
from gateway.policy.decision import PolicyEngine

if TYPE_CHECKING:  # the API client's module needs the session, which reads these services
    from gateway.web.api_client import GatewayApi


@dataclass
class WebServices:
    settings: Settings
    catalogue: Catalogue  # to offer only the datasets and fields that exist
    policy: PolicyEngine  # to offer only the choices the caller's agreements allow
    verifier: Verifier  # the signed-in session is the verified bearer token
    revocations: Revocations
    secret: bytes
    api: GatewayApi
    oidc: OAuth | None


def web_services(where: Request | FastAPI) -> WebServices:
    app = where.app if isinstance(where, Request) else where
    return cast(WebServices, app.state.web)
