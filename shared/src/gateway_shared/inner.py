"""What the inner tiers (policy, router) share: only edge-vouched requests get in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gateway_shared.errors import GatewayError
from gateway_shared.headers import IDENTITY
from gateway_shared.identity import Identity, IdentitySigner, InvalidIdentity
from gateway_shared.observability.context import current_request


@dataclass(frozen=True, slots=True)
class Caller[P]:
    """The verified caller and what the tier's lifespan built (``app.state.parts``).

    One dependency per route: FastAPI solves each dependency on every request, and that
    was a measurable share of the inner tiers' CPU (docs/decisions.md).
    """

    identity: Identity
    parts: P


async def verified_caller(request: Request) -> Caller[Any]:
    signer: IdentitySigner = request.app.state.signer
    try:
        identity = signer.verify(request.headers.get(IDENTITY))
    except InvalidIdentity as exc:
        # Same answer whatever was wrong: a prober learns nothing about the token format.
        raise GatewayError(
            "This service only accepts requests forwarded by the gateway edge.",
            status=401,
            code="invalid_identity",
        ) from exc
    # The key name is a metric label here: it comes from the registry, through edge.
    ctx = current_request()
    if ctx is not None:
        ctx.key_name = identity.key_name
        ctx.request_id = identity.request_id
    return Caller(identity, request.app.state.parts)
