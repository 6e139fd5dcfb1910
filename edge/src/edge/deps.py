"""The handlers' way to what the lifespan created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from edge.auth import Authenticator
from edge.settings import EdgeSettings
from edge.validation import Limits
from gateway_shared.hop import HopClient
from gateway_shared.identity import IdentitySigner


@dataclass(frozen=True, slots=True)
class EdgeParts:
    """Everything a public route uses, in one dependency: FastAPI solves each
    dependency on every request, and that was a measurable share of edge's CPU."""

    auth: Authenticator
    signer: IdentitySigner
    policy: HopClient
    settings: EdgeSettings
    limits: Limits


async def _parts(request: Request) -> EdgeParts:
    parts: EdgeParts = request.app.state.parts
    return parts


Parts = Annotated[EdgeParts, Depends(_parts)]
