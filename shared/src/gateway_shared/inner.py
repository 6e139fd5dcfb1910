"""What the inner tiers (policy, router) share: only edge-vouched requests get in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_shared.errors import GatewayError
from gateway_shared.headers import IDENTITY
from gateway_shared.identity import Identity, IdentitySigner, InvalidIdentity


def verified_identity(request: Request) -> Identity:
    signer: IdentitySigner = request.app.state.signer
    try:
        return signer.verify(request.headers.get(IDENTITY))
    except InvalidIdentity as exc:
        # Same answer whatever was wrong: a prober learns nothing about the token format.
        raise GatewayError(
            "This service only accepts requests forwarded by the gateway edge.",
            status=401,
            code="invalid_identity",
        ) from exc


CallerIdentity = Annotated[Identity, Depends(verified_identity)]
