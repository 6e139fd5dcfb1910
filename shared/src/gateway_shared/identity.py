"""The caller's identity as edge vouches for it to the inner tiers.

Edge authenticates the client's key and then signs an :class:`Identity` with the internal
secret (HMAC-SHA256). Policy and router accept a request only with a valid, unexpired
signature, so a client that reaches them directly, or sends its own identity header
through edge, gets nowhere. The token is ``base64url(json).base64url(mac)``.
"""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache

import orjson

from gateway_shared.plans import Plan

# Hops take milliseconds; the slack covers clock skew between pods.
DEFAULT_TTL_SECONDS = 60.0


class InvalidIdentity(Exception):
    """The identity token is missing, malformed, forged or expired."""


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str
    key_name: str
    plan: Plan
    request_id: str


# Every request carries its key's plan, and keys are few: converting each plan once, not
# per request, was a visible share of each tier's CPU under load. The plan travels as its
# own JSON string inside the claims, so that string is the cache key on the verifying side.
@lru_cache(maxsize=1024)
def _plan_json(plan: Plan) -> str:
    return plan.model_dump_json(exclude_defaults=True)


@lru_cache(maxsize=1024)
def _plan(plan_json: str) -> Plan:
    return Plan.model_validate_json(plan_json)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


class IdentitySigner:
    """Signs and verifies identity tokens with one internal secret."""

    def __init__(self, secret: bytes, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        if len(secret) < 16:
            raise ValueError("the internal secret must be at least 16 bytes")
        self._secret = secret
        self._ttl = ttl_seconds

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret, payload, "sha256")

    def sign(self, identity: Identity, *, now: float | None = None) -> str:
        claims = {
            "kid": identity.key_id,
            "name": identity.key_name,
            "plan": _plan_json(identity.plan),
            "rid": identity.request_id,
            "exp": (now if now is not None else time.time()) + self._ttl,
        }
        payload = _b64(orjson.dumps(claims))
        return (payload + b"." + _b64(self._mac(payload))).decode()

    def verify(self, token: str | None, *, now: float | None = None) -> Identity:
        if not token:
            raise InvalidIdentity("missing identity")
        payload, _, mac = token.encode().partition(b".")
        try:
            valid = hmac.compare_digest(_unb64(mac), self._mac(payload))
        except ValueError as exc:
            raise InvalidIdentity("malformed identity") from exc
        if not valid:
            raise InvalidIdentity("bad identity signature")
        try:
            claims = orjson.loads(_unb64(payload))
            expires = float(claims["exp"])
            identity = Identity(
                key_id=str(claims["kid"]),
                key_name=str(claims["name"]),
                plan=_plan(claims["plan"]),
                request_id=str(claims["rid"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidIdentity("malformed identity") from exc
        if expires < (now if now is not None else time.time()):
            raise InvalidIdentity("expired identity")
        return identity
