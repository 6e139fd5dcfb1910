"""The one way tiers connect to Redis: short timeouts, so a dead Redis fails fast."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def connect(url: str, *, timeout_seconds: float = 0.25, max_connections: int = 200) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        # One quick retry on a fresh connection covers a connection the server closed.
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
        max_connections=max_connections,
        decode_responses=False,
    )
