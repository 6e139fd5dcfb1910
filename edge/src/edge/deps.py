"""What a public route is given: the authenticated caller, with edge's services.

Authentication is the route's dependency, so it runs before the route reads a byte of
the body: an anonymous client can make edge do no more than look at its headers. One
dependency per route: FastAPI solves each dependency on every request, and that was a
measurable share of edge's CPU (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from edge.auth import Authenticator
from edge.settings import EdgeSettings
from edge.validation import Bodies, check_header_size
from gateway_shared.hop import HopClient
from gateway_shared.keys import KeyRecord
from gateway_shared.observability import current_request
from gateway_shared.wire.identity import IdentitySigner


@dataclass(frozen=True, slots=True)
class EdgeServices:
    """What edge's lifespan built (``app.state.services``)."""

    auth: Authenticator
    signer: IdentitySigner
    policy: HopClient
    settings: EdgeSettings
    bodies: Bodies


@dataclass(frozen=True, slots=True)
class Caller:
    """A client whose key checked out, with the request id edge gave its request."""

    key: KeyRecord
    request_id: str
    services: EdgeServices


async def authenticated(request: Request) -> Caller:
    services: EdgeServices = request.app.state.services
    check_header_size(request.headers.raw, services.settings.max_header_bytes)
    key = await services.auth.authenticate(request.headers)
    request_id: str = request.state.request_id  # edge.request_ids made it
    ctx = current_request()
    if ctx is not None:
        ctx.key_name = key.name
        ctx.request_id = request_id
    return Caller(key, request_id, services)


Authenticated = Annotated[Caller, Depends(authenticated)]
