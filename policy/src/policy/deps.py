"""The handlers' way to what the lifespan created."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis

from gateway_shared.hop import HopClient
from gateway_shared.inner import Caller, verified_caller
from policy.admission import Admission


@dataclass(frozen=True, slots=True)
class PolicyParts:
    """Everything a route uses (``app.state.parts``)."""

    admission: Admission
    router: HopClient
    redis: Redis


Call = Annotated[Caller[PolicyParts], Depends(verified_caller)]
