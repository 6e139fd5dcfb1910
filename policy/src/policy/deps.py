"""What a policy route is given: the caller edge vouched for, with policy's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from gateway_shared.hop import HopClient
from gateway_shared.redis_client import RedisClient
from gateway_shared.vouched import Vouched, vouched
from policy.admission import Admission
from policy.cache.store import ResponseCache


@dataclass(frozen=True, slots=True)
class PolicyServices:
    """What policy's lifespan built (``app.state.services``)."""

    admission: Admission
    router: HopClient
    redis: RedisClient
    cache: ResponseCache | None = None  # None without a cache Redis


Vouch = Annotated[Vouched[PolicyServices], Depends(vouched)]
