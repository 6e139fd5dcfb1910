"""What the inner tiers (policy, router) share: only edge-vouched requests get in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_shared.errors import GatewayError
from gateway_shared.headers import IDENTITY
from gateway_shared.identity import Identity, IdentitySigner, InvalidIdentity
from gateway_shared.observability.context import current_request


async def verified_identity(request: Request) -> Identity:
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
    return identity


CallerIdentity = Annotated[Identity, Depends(verified_identity)]
