"""The caller edge vouches for, and what edge learned of the request, signed for the
inner tiers.

Edge authenticates the client's key, checks the body, and signs an :class:`Identity`
(with the :class:`RequestSummary` of an inference request) with the internal secret
(HMAC-SHA256). Policy and router accept a request only with a valid, unexpired
signature, so a client that reaches them directly, or sends its own identity header
through edge, gets nowhere. The token is ``base64url(json).base64url(mac)``.

Rotating the secret loses no request: a signer signs with the current secret, and a
verifier also accepts the previous one while it is set (``GATEWAY_INTERNAL_SECRET_PREVIOUS``),
so tiers restarted one by one onto a new secret keep accepting each other
(docs/security.md gives the steps).
"""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from gateway_shared.plans import Plan

# Hops take milliseconds; the slack covers clock skew between pods.
DEFAULT_TTL_SECONDS = 60.0
MIN_SECRET_BYTES = 16


class InvalidIdentity(Exception):
    """The identity token is missing, malformed, forged or expired."""


class Api(StrEnum):
    """The public API an inference request speaks (what its path at edge says)."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    MESSAGES = "messages"  # Anthropic's Messages API
    COUNT_TOKENS = "count_tokens"  # its /v1/messages/count_tokens


# The public inference paths; every tier serves them under the same path.
API_BY_PATH = {
    "/v1/chat/completions": Api.CHAT,
    "/v1/completions": Api.COMPLETIONS,
    "/v1/embeddings": Api.EMBEDDINGS,
    "/v1/responses": Api.RESPONSES,
    "/v1/messages": Api.MESSAGES,
    "/v1/messages/count_tokens": Api.COUNT_TOKENS,
}
# The ones that generate (count_tokens is answered without a provider's generation, and
# policy neither admits nor settles it).
GENERATING_PATHS = tuple(path for path, api in API_BY_PATH.items() if api is not Api.COUNT_TOKENS)


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What edge read from an inference request's body, once, for the tiers behind it."""

    api: Api
    model: str  # the alias the client asked for
    stream: bool
    prompt_tokens: int  # the estimate (gateway_shared.tokens)
    # What the client asked for (max_completion_tokens, else max_tokens); None: nothing.
    max_output_tokens: int | None

    def encode(self) -> list[Any]:
        return [self.api.value, self.model, self.stream, self.prompt_tokens, self.max_output_tokens]

    @classmethod
    def decode(cls, raw: Any) -> RequestSummary:
        api, model, stream, prompt, max_output = raw
        if not isinstance(model, str) or not isinstance(prompt, int):
            raise TypeError("bad request summary")
        if max_output is not None and not isinstance(max_output, int):
            raise TypeError("bad request summary")
        return cls(Api(api), model, bool(stream), prompt, max_output)


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str
    key_name: str
    plan: Plan
    request_id: str
    # Inference requests only (None for listing models, reading usage).
    request: RequestSummary | None = None


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


def _checked(secret: bytes) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the internal secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


class IdentitySigner:
    """Signs with ``secret``; verifies with it and, while rotating, ``previous``."""

    def __init__(
        self,
        secret: bytes,
        previous: bytes | None = None,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._secret = _checked(secret)
        self._accepted = (self._secret,) if previous is None else (self._secret, _checked(previous))
        self._ttl = ttl_seconds

    def sign(self, identity: Identity, *, now: float | None = None) -> str:
        claims: dict[str, Any] = {
            "kid": identity.key_id,
            "name": identity.key_name,
            "plan": _plan_json(identity.plan),
            "rid": identity.request_id,
            "exp": (now if now is not None else time.time()) + self._ttl,
        }
        if identity.request is not None:
            claims["req"] = identity.request.encode()
        payload = _b64(orjson.dumps(claims))
        return (payload + b"." + _b64(hmac.digest(self._secret, payload, "sha256"))).decode()

    def _genuine(self, payload: bytes, mac: bytes) -> bool:
        try:
            given = _unb64(mac)
        except ValueError as exc:
            raise InvalidIdentity("malformed identity") from exc
        return any(
            hmac.compare_digest(given, hmac.digest(secret, payload, "sha256"))
            for secret in self._accepted
        )

    def verify(self, token: str | None, *, now: float | None = None) -> Identity:
        if not token:
            raise InvalidIdentity("missing identity")
        payload, _, mac = token.encode().partition(b".")
        if not self._genuine(payload, mac):
            raise InvalidIdentity("bad identity signature")
        try:
            claims = orjson.loads(_unb64(payload))
            expires = float(claims["exp"])
            summary = claims.get("req")
            identity = Identity(
                key_id=str(claims["kid"]),
                key_name=str(claims["name"]),
                plan=_plan(claims["plan"]),
                request_id=str(claims["rid"]),
                request=RequestSummary.decode(summary) if summary is not None else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidIdentity("malformed identity") from exc
        if expires < (now if now is not None else time.time()):
            raise InvalidIdentity("expired identity")
        return identity
