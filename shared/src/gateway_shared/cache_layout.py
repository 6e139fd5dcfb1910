"""The response cache's layout in its own Redis, and purging a key's entries.

Policy writes the entries (``policy.cache``); whoever revokes a key (edge's registry
sync, ``gateway keys revoke``) purges them. Every key of one scope shares the hash tag
``{<scope>}``, so a store and a purge touch a single slot (Redis Cluster):

- ``gwc:{<scope>}:<sha256>``  one answer (``policy.cache.entry``), with its TTL
- ``gwc:{<scope>}:index``     ZSET entry key -> expiry (ms): what a purge deletes

A scope is ``key:<key id>``, or ``ns:<namespace>`` for the keys whose plans name that
cache namespace: a namespace belongs to every key naming it, so revoking one of them
leaves its entries (they still expire with their TTL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway_shared.plans import Plan
from gateway_shared.redis_client import RedisClient

# Entries purged per DEL: bounded arguments, however many a key stored.
_PURGE_BATCH = 500


def scope(key_id: str, plan: Plan) -> str:
    namespace = plan.cache.namespace if plan.cache is not None else None
    return f"ns:{namespace}" if namespace else f"key:{key_id}"


def entry_key(scope_: str, digest: str) -> str:
    return f"gwc:{{{scope_}}}:{digest}"


def index_key(scope_: str) -> str:
    return f"gwc:{{{scope_}}}:index"


async def purge_keys(redis: RedisClient, key_ids: Iterable[str]) -> int:
    """Delete every entry the keys' own scopes hold; returns how many were deleted."""
    deleted = 0
    for key_id in key_ids:
        index = index_key(f"key:{key_id}")
        entries: list[Any] = await redis.zrange(index, 0, -1)
        for start in range(0, len(entries), _PURGE_BATCH):
            deleted += await redis.delete(*entries[start : start + _PURGE_BATCH])
        await redis.delete(index)
    return deleted
