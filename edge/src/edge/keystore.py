"""Redis's copy of the key registry.

Layout: ``gw:key:{<hash>}`` holds a key's record as JSON (revoked keys are absent) and
``gw:{registry}`` holds the revision of the registry that was loaded. A missing revision
means Redis has lost its state (restart, flush, failover): whoever notices re-loads the
registry - edge on a failed lookup and in its periodic check. Each key is its own hash
tag, so on Redis Cluster the records spread over the slots.
"""

from __future__ import annotations

from gateway_shared.keys import KeyRecord, Registry
from gateway_shared.redis_client import RedisClient

REVISION_KEY = "gw:{registry}"


def record_key(key_hash: str) -> str:
    return f"gw:key:{{{key_hash}}}"


async def load_registry(redis: RedisClient, registry: Registry) -> None:
    """Write every active key, delete revoked ones, then mark the revision."""
    async with redis.pipeline(transaction=False) as pipe:
        for record in registry.keys:
            if record.revoked:
                pipe.delete(record_key(record.hash))
            else:
                pipe.set(record_key(record.hash), record.model_dump_json())
        await pipe.execute()
    # Only once every record is written: a cluster runs a pipeline's commands on each
    # node at once, and a revision seen early would make a lookup miss final.
    await redis.set(REVISION_KEY, registry.revision())


async def loaded_revision(redis: RedisClient) -> str | None:
    value = await redis.get(REVISION_KEY)
    return value.decode() if isinstance(value, bytes) else value


async def lookup(redis: RedisClient, key_hash: str) -> KeyRecord | None:
    raw = await redis.get(record_key(key_hash))
    return KeyRecord.model_validate_json(raw) if raw else None
