"""The handlers' way to what the lifespan created."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request
from redis.asyncio import Redis

from policy.admission import Admission


async def _router(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.router
    return client


async def _admission(request: Request) -> Admission:
    admission: Admission = request.app.state.admission
    return admission


async def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


RouterClient = Annotated[httpx.AsyncClient, Depends(_router)]
AdmissionDep = Annotated[Admission, Depends(_admission)]
RedisDep = Annotated[Redis, Depends(_redis)]
