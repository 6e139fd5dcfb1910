"""The cache's store against the session's Redis: what it keeps, and for how long at most."""

from __future__ import annotations

import uuid

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway_shared.cache_layout import entry_key, index_key
from policy.cache.entry import Entry, Form
from policy.cache.metrics import CacheMetrics
from policy.cache.store import ResponseCache

MAX_TTL = 600


def _store(redis: Redis, max_entry_bytes: int = 10_000) -> ResponseCache:
    metrics = CacheMetrics(CollectorRegistry())
    return ResponseCache(redis, metrics, max_ttl_seconds=MAX_TTL, max_entry_bytes=max_entry_bytes)


def _entry(body: bytes = b'{"answer": "hello"}') -> Entry:
    return Entry(Form.JSON, "application/json", body, "m")


async def test_a_plans_ttl_is_capped_by_the_retention_limit(redis: Redis) -> None:
    scope = f"key:{uuid.uuid4().hex}"
    cache = _store(redis)
    assert await cache.put(scope, "d1", _entry(), ttl_seconds=30 * 86400) > 0
    # Entries hold prompts and answers: none outlives the retention limit, nor its index.
    assert 0 < await redis.ttl(entry_key(scope, "d1")) <= MAX_TTL
    assert 0 < await redis.ttl(index_key(scope)) <= MAX_TTL
    # A shorter TTL of the plan's own stands.
    await cache.put(scope, "d2", _entry(), ttl_seconds=60)
    assert 0 < await redis.ttl(entry_key(scope, "d2")) <= 60
    assert await cache.get(scope, "d1") == _entry()


async def test_a_whole_answer_over_the_size_cap_is_not_stored(redis: Redis) -> None:
    scope = f"key:{uuid.uuid4().hex}"
    small = _entry()
    cache = _store(redis, max_entry_bytes=len(small.encode()))
    assert await cache.put(scope, "small", small, ttl_seconds=60) == len(small.encode())
    assert await cache.put(scope, "big", _entry(b'{"answer": "hello!"}'), ttl_seconds=60) == 0
    assert await redis.exists(entry_key(scope, "big")) == 0
    assert await cache.get(scope, "big") is None
