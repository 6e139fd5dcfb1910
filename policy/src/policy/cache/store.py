"""The cache's entries in their own Redis: one GET to look up, one pipeline to store.

The cache Redis runs ``allkeys-lru`` under a memory cap (the state Redis ``noeviction``),
so an entry may vanish early, never outlive its TTL: the plan's ``ttl_s``, capped by
``POLICY_CACHE_MAX_TTL_SECONDS`` (entries hold prompts and answers). Each store also
records the entry in its scope's index, which a revocation purges
(``gateway_shared.cache_layout``), and drops the index's expired members.
A Redis error on either side only costs the cache: the request goes on uncached.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from gateway_shared.cache_layout import entry_key, index_key
from gateway_shared.observability.logs import ThrottledLog
from gateway_shared.redis_client import RedisClient
from policy.cache.entry import Entry
from policy.cache.metrics import CacheMetrics

log = logging.getLogger("policy.cache")
_failures = ThrottledLog(log)


class ResponseCache:
    def __init__(
        self,
        redis: RedisClient,
        metrics: CacheMetrics,
        *,
        max_ttl_seconds: int,
        max_entry_bytes: int,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self._max_ttl = max_ttl_seconds
        self.max_entry_bytes = max_entry_bytes

    async def get(self, scope: str, digest: str) -> Entry | None:
        try:
            raw = await self.redis.get(entry_key(scope, digest))
        except RedisError as exc:
            _failures.warning("cache lookup failed: Redis unavailable (%s)", type(exc).__name__)
            return None
        return Entry.decode(raw) if isinstance(raw, bytes) else None

    async def put(self, scope: str, digest: str, entry: Entry, ttl_seconds: int) -> int:
        """Store ``entry``; returns the bytes stored (0: too big, or Redis failed)."""
        value = entry.encode()
        if len(value) > self.max_entry_bytes:
            return 0
        ttl = min(ttl_seconds, self._max_ttl)
        key, index = entry_key(scope, digest), index_key(scope)
        now_ms = int(time.time() * 1000)
        try:
            # One slot (the scope's hash tag), one round trip; not a transaction, which
            # Redis Cluster's pipelines do not offer: an entry stored without its index
            # line is missed by a purge, and still expires.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(key, value, ex=ttl)
                pipe.zadd(index, {key: now_ms + ttl * 1000})
                pipe.zremrangebyscore(index, "-inf", now_ms)
                pipe.expire(index, self._max_ttl)
                await pipe.execute()
        except RedisError as exc:
            _failures.warning("cache store failed: Redis unavailable (%s)", type(exc).__name__)
            return 0
        self.metrics.stored(entry.model, len(value))
        return len(value)
