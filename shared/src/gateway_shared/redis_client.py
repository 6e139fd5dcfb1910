"""The one way tiers connect to Redis: short timeouts, so a dead Redis fails fast.

Edge (key records) and policy (limits and usage) use Redis, and the router to publish
prices (``router.prices``); the Redis client is the ``gateway-shared[redis]`` extra.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.typing import EncodableT


class _HiredisPacking(AbstractConnection):
    """Commands packed by hiredis in C.

    redis-py's asyncio connections pack every command in Python, one argument at a time:
    for policy's admission call that was a large share of the client's CPU per call
    (``uv run python cli/benchmarks/redis_packing.py``).
    Anything hiredis does not take (bytearray, a wrong type) goes to redis-py's own
    packing, which keeps its errors.
    """

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        command = args[0]
        # As redis-py: a command name with spaces ("SCRIPT LOAD") is several arguments.
        if isinstance(command, str):
            parts: tuple[Any, ...] = (*command.encode().split(), *args[1:])
        elif isinstance(command, bytes) and b" " in command:
            parts = (*command.split(), *args[1:])
        else:
            parts = args
        try:
            return [hiredis.pack_command(parts)]
        except TypeError:
            return super().pack_command(*args)


class _TCPConnection(_HiredisPacking, Connection):
    pass


class _TLSConnection(_HiredisPacking, SSLConnection):
    pass


class _UnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


_FASTER = {
    Connection: _TCPConnection,
    SSLConnection: _TLSConnection,
    UnixDomainSocketConnection: _UnixConnection,
}


def connect(url: str, *, timeout_seconds: float = 0.25, max_connections: int = 200) -> Redis:
    redis = Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        # One quick retry on a fresh connection covers a connection the server closed.
        # Never after a timeout: the command may have run (policy's scripts add to
        # counters), and a lease left behind is reaped; a count taken twice is not.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=0,
        max_connections=max_connections,
        decode_responses=False,
    )
    # from_url picks the class from the URL's scheme; connections are made lazily.
    pool = redis.connection_pool
    pool.connection_class = _FASTER.get(pool.connection_class, pool.connection_class)
    return redis


async def redis_ready(redis: Redis) -> bool:
    """For ``/readyz``: Redis answers."""
    try:
        return bool(await redis.ping())
    except RedisError:
        return False
