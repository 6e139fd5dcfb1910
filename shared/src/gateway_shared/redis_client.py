"""The one way tiers connect to Redis: short timeouts, so a dead Redis fails fast.

Edge (key records) and policy (limits and usage) use Redis, and the router to publish
prices (``router.prices``); the Redis client is the ``gateway-shared[redis]`` extra.

``REDIS_URL`` selects the client: ``redis://``, ``rediss://`` or ``unix://`` one server
(or a Sentinel-managed or managed service's single endpoint);
``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` with
TLS) a Redis Cluster, through redis-py's cluster client, which follows ``MOVED`` and
``ASK`` redirections and ``TRYAGAIN`` itself and loads scripts on every primary when a
node answers ``NOSCRIPT``. A node that cannot be reached, or ``CLUSTERDOWN``, is retried
once after the topology is re-read (safe: every write the tiers make is idempotent,
policy's scripts by request id); then it is an outage like a single server's, which each
tier's failure mode answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import hiredis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
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
    """Commands packed by hiredis in C; a send on a connection closed under it raised as
    the connection error it is.

    redis-py's asyncio connections pack every command in Python, one argument at a time:
    for policy's admission call that was a large share of the client's CPU per call
    (``uv run python cli/benchmarks/redis_packing.py``).
    Anything hiredis does not take (bytearray, a wrong type) goes to redis-py's own
    packing, which keeps its errors.
    """

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except (TypeError, RuntimeError) as exc:
            # Its transport closed under it (asyncio raises TypeError, uvloop
            # RuntimeError): the cluster client re-initializing after a node failed
            # disconnects connections other calls are using.
            await self.disconnect(nowait=True)
            raise RedisConnectionError("connection closed while sending") from exc

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


# What ``connect`` returns; everything the tiers call exists on both.
RedisClient = Redis | RedisCluster

_CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}


def connect(url: str, *, timeout_seconds: float = 0.25, max_connections: int = 200) -> RedisClient:
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _CLUSTER_SCHEMES:
        return _connect_cluster(rest, _CLUSTER_SCHEMES[scheme], timeout_seconds, max_connections)
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


def cluster_nodes(rest: str) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    """A cluster URL's user, password and seed nodes (what follows the scheme)."""
    userinfo, _, hosts = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    nodes = []
    for node in hosts.split("/", 1)[0].split(","):
        host, _, port = node.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"a Redis Cluster URL lists nodes as host:port[,host:port...], not {node!r}"
            )
        nodes.append((host, int(port)))
    return unquote(user) or None, unquote(password) or None, nodes


def _connect_cluster(
    rest: str, tls: bool, timeout_seconds: float, max_connections: int
) -> RedisCluster:
    user, password, nodes = cluster_nodes(rest)
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=user,
        password=password,
        ssl=tls,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        # The cluster client re-runs a call that failed or timed out after re-reading
        # the topology: once, so a dead primary costs one more timeout at most.
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
        max_connections=max_connections,  # per node
        decode_responses=False,
    )
    # Every node's connections are made from these kwargs, lazily.
    kwargs = cluster.connection_kwargs
    kwargs["connection_class"] = _FASTER.get(kwargs["connection_class"], kwargs["connection_class"])
    return cluster


async def discover(redis: RedisClient) -> None:
    """Before serving: read a cluster's topology (a no-op for one server).

    redis-py's cluster client reads it on its first call otherwise, and when many calls
    start at once that re-reading marks connections in use for reconnection and breaks
    them. A cluster that does not answer now is read on the first call instead.
    """
    if isinstance(redis, RedisCluster):
        with contextlib.suppress(RedisError):
            await redis.initialize()


async def redis_ready(redis: RedisClient) -> bool:
    """For ``/readyz``: Redis answers."""
    try:
        return bool(await redis.ping())
    except RedisError:
        return False
