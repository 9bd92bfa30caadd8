"""Bearer-token verification (JWT, via joserfc, authlib's JOSE implementation).

Every check is explicit: the signature against the issuer's JWKS, an allow-list of asymmetric
algorithms (never `none`, never HS* — a public key must not double as an HMAC secret), `iss`, `aud`,
`exp` and `nbf` with a small clock skew, and the claims the gateway uses. Any failure is one
`InvalidToken` whose message says what was wrong; the API turns it into 401.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.identity.claims import NO_ROLE_CLAIM, ClaimMapping
from gateway.identity.principal import Principal

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
CLOCK_SKEW_SECONDS = 30
MAX_LIFETIME_SECONDS = 24 * 3600  # a token that lives longer than a day is refused, whoever signed it
MAX_TOKEN_BYTES = 8192
# A token verified once is taken as verified for this long when it comes again, byte for byte (its
# `exp` is still checked on every use, and a change of the key set forgets every such token): the
# signature check is the costliest part of a small request, and a caseworker sends the same token
# with every click. Bounded, so a flood of distinct tokens cannot grow it without limit.
VERIFIED_SECONDS = 60.0
VERIFIED_MAX = 10_000


class InvalidToken(Exception):
    """The token is not acceptable; the message is safe to return to the caller."""


@dataclass
class Verifier:
    issuer: str
    audience: str
    keys: KeySet
    algorithms: Sequence[str] = ALLOWED_ALGORITHMS
    leeway: int = CLOCK_SKEW_SECONDS
    max_lifetime: int = MAX_LIFETIME_SECONDS
    # Re-reads the provider's JWKS when a token names a key id not yet known (the provider rotated its
    # signing key); at most once per `refresh_every` seconds, so unknown ids cannot flood the provider.
    refresh: Callable[[], KeySet] | None = None
    refresh_every: float = 60.0
    # A directory's tokens: roles and department from its groups (policies/identity-claims.yaml).
    # Without one, the token names them itself (the development issuer's tokens).
    mapping: ClaimMapping | None = None
    _options: dict[str, Any] = field(init=False, repr=False)
    _refreshed_at: float = field(default=float("-inf"), init=False, repr=False)
    # token -> (monotonic time it may be reused until, the key set that verified it, exp, principal)
    _verified: dict[str, tuple[float, KeySet, float, Principal]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in ALLOWED_ALGORITHMS]
        if bad:
            raise ValueError(f"algorithms not allowed for bearer tokens: {', '.join(bad)}")
        self._options = dict(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
            nbf={"essential": False},
        )

    def verified(self, token: str, now: float | None = None) -> Principal | None:
        """The principal of a token this verifier accepted within the last `VERIFIED_SECONDS`, if it has
        not expired since and the key set is the one that verified it; else None (call `verify`)."""
        found = self._verified.get(token)
        if found is None:
            return None
        until, keys, exp, principal = found
        wall = now if now is not None else time.time()
        if keys is not self.keys or time.monotonic() >= until or wall > exp + self.leeway:
            self._verified.pop(token, None)
            return None
        return principal

    def verify(self, token: str, now: float | None = None) -> Principal:
        principal = self._verify(token, now)
        if now is not None:  # verified at a time given, not now: nothing to remember for later requests
            return principal
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        exp = float(principal.claims["exp"])
        self._verified[token] = (time.monotonic() + VERIFIED_SECONDS, self.keys, exp, principal)
        return principal

    def _verify(self, token: str, now: float | None = None) -> Principal:
        if not token or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise InvalidToken("malformed bearer token")
        self._refresh_for(token)
        try:
            decoded = jwt.decode(token, self.keys, algorithms=list(self.algorithms))
        except JoseError as exc:
            raise InvalidToken(f"token rejected: {exc.error or type(exc).__name__}") from exc
        except (ValueError, TypeError, KeyError) as exc:  # undecodable segments
            raise InvalidToken("malformed bearer token") from exc
        if decoded.header.get("alg") not in self.algorithms:
            raise InvalidToken("token rejected: algorithm not allowed")
        claims = decoded.claims
        try:
            registry = jwt.JWTClaimsRegistry(
                now=int(now if now is not None else time.time()), leeway=self.leeway, **self._options
            )
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(f"token rejected: {exc.description or exc.error}") from exc
        self._check_lifetime(claims, int(now if now is not None else time.time()))
        if self.mapping is not None:
            found = self.mapping.identity(claims)
            why = found.pop("why_no_role")
            return Principal(
                sub=str(claims["sub"]),
                **found,
                claims={**claims, NO_ROLE_CLAIM: why} if why else dict(claims),
            )
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("token rejected: 'roles' must be a list of strings")
        return Principal(
            sub=str(claims["sub"]),
            name=str(claims.get("name", claims["sub"])),
            roles=tuple(sorted(roles)),
            department=claims.get("department"),
            team=claims.get("team"),
            worker_id=claims.get("worker_id"),
            claims=dict(claims),
        )

    def _check_lifetime(self, claims: dict[str, Any], now: int) -> None:
        """A stolen token must not be good for years: `exp` may lie at most `max_lifetime` after the
        token was issued (`iat`, else now)."""
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float):
            raise InvalidToken("token rejected: exp must be a number")
        issued = iat if isinstance(iat, int | float) and iat <= now + self.leeway else now
        if exp - issued > self.max_lifetime + self.leeway:
            raise InvalidToken(
                f"token rejected: it lives longer than the {self.max_lifetime // 3600} hours a token may"
            )

    def _refresh_for(self, token: str) -> None:
        if self.refresh is None:
            return
        try:
            segment = token.split(".", 1)[0]
            header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
            kid = header.get("kid") if isinstance(header, dict) else None
        except (ValueError, TypeError):
            return  # decode() below says what is wrong with it
        if not isinstance(kid, str) or any(k.kid == kid for k in self.keys.keys):
            return
        now = time.monotonic()
        if now - self._refreshed_at < self.refresh_every:
            return
        self._refreshed_at = now
        try:
            self.keys = self.refresh()
        except (OSError, ValueError):
            pass  # the provider is unreachable: keep the keys we have; the token is refused below


def load_key_set(jwks_file: Path | None = None, jwks_url: str | None = None) -> KeySet:
    """Public keys from a JWKS file or URL; private key material in a JWKS is refused."""
    if jwks_file:
        data = json.loads(Path(jwks_file).read_text())
    elif jwks_url:
        with urllib.request.urlopen(jwks_url, timeout=10) as resp:
            data = json.loads(resp.read())
    else:
        raise ValueError("configure the token issuer's keys: jwks_file or jwks_url")
    if any("d" in k for k in data.get("keys", [])):
        raise ValueError("the JWKS holds private key material; publish public keys only")
    return KeySet.import_key_set(data)
