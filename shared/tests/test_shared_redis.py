"""The tiers' Redis connection: commands packed by hiredis, same bytes and errors as redis-py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_cli.redis_cluster import LocalCluster
from gateway_cli.redis_server import RedisServer
from gateway_shared.redis_client import cluster_nodes, connect, discover

COMMANDS = [
    ("SET", "gw:{k}:a", b"\x00\xffbytes", "EX", 60),
    ("EVALSHA", b"0" * 40, 2, "gw:{k}:a", "gw:{k}:b", "req_1", 60000, 0, 12345678901234),
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", "edge"),
    ("HSET", "h", "model|é", 1.5),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_packs_the_same_bytes_as_redis_py(command: tuple[object, ...]) -> None:
    ours = connect("redis://127.0.0.1:1").connection_pool.make_connection()
    theirs = Connection()
    assert type(ours) is not Connection  # the faster class is in use
    assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))


def test_bytearray_falls_back_and_wrong_types_keep_redis_py_errors() -> None:
    ours = connect("redis://127.0.0.1:1").connection_pool.make_connection()
    theirs = Connection()
    packed = b"".join(ours.pack_command("SET", "k", bytearray(b"v")))
    assert packed == b"".join(theirs.pack_command("SET", "k", bytearray(b"v")))
    for bad in (True, None, object()):
        with pytest.raises(DataError):
            ours.pack_command("SET", "k", bad)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_round_trips_through_a_real_server(redis: Redis) -> None:
    await redis.set("gw:{t}:bin", b"\x00\xff")
    assert await redis.get("gw:{t}:bin") == b"\x00\xff"
    script = redis.register_script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
    assert await script(keys=["gw:{t}:k"], args=["é", 41]) == [b"gw:{t}:k", "é".encode(), 42]


# Counts its runs; the first one holds Redis for ARGV[1] microseconds (a reply that is
# late, not lost: the script has run).
SLOW_FIRST_RUN = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  local t = redis.call('TIME')
  local done = t[1] * 1000000 + t[2] + tonumber(ARGV[1])
  repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= done
end
return n
"""


async def test_a_timed_out_command_is_not_sent_again(redis_server: RedisServer) -> None:
    """Policy's scripts add to counters: a command Redis may already have run must not
    run twice. (A stale pooled connection is still retried: nothing ran on it.)"""
    client = connect(redis_server.url, timeout_seconds=0.15)
    admin = connect(redis_server.url, timeout_seconds=5)
    try:
        script = client.register_script(SLOW_FIRST_RUN)
        with pytest.raises(RedisTimeoutError):
            await script(keys=["gw:{t}:runs"], args=[300_000])
        assert await admin.get("gw:{t}:runs") == b"1"
    finally:
        await client.aclose()
        await admin.aclose()


def test_a_cluster_url_names_its_seed_nodes() -> None:
    assert cluster_nodes("u:p%40ss@10.0.0.1:7000,10.0.0.2:7001/0") == (
        "u",
        "p@ss",  # pragma: allowlist secret
        [("10.0.0.1", 7000), ("10.0.0.2", 7001)],
    )
    assert cluster_nodes("redis-0:6379") == (None, None, [("redis-0", 6379)])
    with pytest.raises(ValueError, match="host:port"):
        connect("redis+cluster://redis-0")


async def test_a_cluster_serves_many_concurrent_calls_once_discovered(
    redis_cluster: LocalCluster,
) -> None:
    cluster = connect(redis_cluster.url)
    await discover(cluster)
    script = cluster.register_script("return redis.call('INCR', KEYS[1])")
    keys = [f"gw:{{k{i}}}:n" for i in range(200)]  # over every primary's slots
    calls = iter(range(2000))
    results: list[int] = []

    async def caller() -> None:
        results.extend([await script(keys=[keys[i % 200]]) for i in calls])

    await asyncio.gather(*(caller() for _ in range(32)))
    assert sorted(results) == sorted(n for n in range(1, 11) for _ in keys)
    await cluster.aclose()
