"""The inner tiers' (policy's, router's) door: only requests edge vouched for get in.

A route takes one dependency, :func:`vouched`: it verifies the signed identity
(``wire.identity``) and hands the route the caller together with the tier's services
(``app.state.services``, built by its lifespan). One dependency per route: FastAPI solves
each dependency on every request, and that was a measurable share of the inner tiers' CPU
(docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gateway_shared.errors import GatewayError
from gateway_shared.observability.context import current_request
from gateway_shared.wire.headers import IDENTITY
from gateway_shared.wire.identity import Identity, IdentitySigner, InvalidIdentity, RequestSummary


@dataclass(frozen=True, slots=True)
class Vouched[S]:
    """A verified caller, and the services of the tier it calls."""

    identity: Identity
    services: S

    @property
    def summary(self) -> RequestSummary:
        """The request summary edge signed (inference routes always carry one)."""
        summary = self.identity.request
        if summary is None:
            raise GatewayError(
                "This request carries no summary of its body.", status=400, code="invalid_identity"
            )
        return summary


async def vouched(request: Request) -> Vouched[Any]:
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
        if identity.request is not None:
            ctx.requested_model = identity.request.model
            ctx.stream = identity.request.stream
    return Vouched(identity, request.app.state.services)
