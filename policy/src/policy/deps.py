"""The handlers' way to what the lifespan created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from gateway_shared.hop import HopClient
from policy.admission import Admission


@dataclass(frozen=True, slots=True)
class PolicyParts:
    """Everything a route uses, in one dependency: FastAPI solves each dependency on
    every request, and that was a measurable share of policy's CPU."""

    admission: Admission
    router: HopClient
    redis: Redis


async def _parts(request: Request) -> PolicyParts:
    parts: PolicyParts = request.app.state.parts
    return parts


Parts = Annotated[PolicyParts, Depends(_parts)]
