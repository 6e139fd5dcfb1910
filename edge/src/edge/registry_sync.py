"""Keeps Redis's copy of the key registry present and current.

The registry is the source of truth (Doppler secret or, in development, a file); Redis is
ephemeral. Edge loads it at start, re-loads it when a lookup misses and the revision
marker is gone (Redis restarted empty), and checks periodically in the background so a
flushed Redis or an edited registry file is repaired without a request having to fail.
Each new revision it reads also purges the revoked keys' response cache entries, when
edge is given the cache Redis (``CACHE_REDIS_URL``).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import nullcontext
from pathlib import Path

import orjson
from pydantic import ValidationError
from redis.exceptions import RedisError

from edge import keystore
from gateway_shared.cache_layout import purge_keys
from gateway_shared.keys import Registry
from gateway_shared.observability.redis_calls import RedisCalls
from gateway_shared.redis_client import RedisClient
from gateway_shared.tier.startup import ConfigurationError

log = logging.getLogger("edge.registry")


class RegistrySync:
    def __init__(
        self,
        redis: RedisClient,
        inline: str | None,
        path: Path | None,
        cache_redis: RedisClient | None = None,
    ) -> None:
        if inline is None and path is None:
            raise ValueError("set GATEWAY_KEY_REGISTRY or GATEWAY_KEY_REGISTRY_FILE")
        self._redis = redis
        self._cache_redis = cache_redis
        self._purged_revision: str | None = None
        self._inline = inline
        self._path = path
        self._mtime: float | None = None
        try:
            self._registry = self._read()
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{self._source()} cannot be used: {_why(exc)}") from None
        self._lock = asyncio.Lock()

    def _source(self) -> str:
        where = "GATEWAY_KEY_REGISTRY" if self._inline is not None else self._path
        return f"the key registry ({where})"

    def _read(self) -> Registry:
        if self._inline is not None:
            return Registry.parse(self._inline)
        assert self._path is not None
        self._mtime = self._path.stat().st_mtime if self._path.exists() else None
        return Registry.load(self._path)

    def _file_changed(self) -> bool:
        if self._path is None or self._inline is not None:
            return False
        mtime = self._path.stat().st_mtime if self._path.exists() else None
        return mtime != self._mtime

    async def ensure_loaded(self) -> bool:
        """Load the registry into Redis if Redis lacks this revision. True if it loaded."""
        async with self._lock:
            if self._file_changed():
                try:
                    self._registry = self._read()
                except (OSError, ValueError) as exc:
                    log.error(
                        "%s is invalid, keeping the previous one: %s", self._source(), _why(exc)
                    )
            revision = self._registry.revision()
            if self._purged_revision != revision:
                await self._purge_revoked(revision)
            if await keystore.loaded_revision(self._redis) == revision:
                return False
            await keystore.load_registry(self._redis, self._registry)
            log.warning(
                "loaded key registry revision %s (%d keys) into Redis",
                revision,
                len(self._registry.keys),
            )
            return True

    async def _purge_revoked(self, revision: str) -> None:
        """Revoked keys' response cache entries go with them (they hold prompts): once per
        revision at each replica, whoever loaded it into Redis."""
        if self._cache_redis is None:
            return
        revoked = [r.id for r in self._registry.keys if r.revoked]
        try:
            purged = await purge_keys(self._cache_redis, revoked)
        except RedisError as exc:
            log.warning("cache purge skipped: cache Redis unavailable (%s)", type(exc).__name__)
            return
        self._purged_revision = revision
        if purged:
            log.warning("purged %d cached answers of revoked keys", purged)

    async def reload_if_lost(self) -> bool:
        """After a lookup miss: re-load when Redis has lost the registry or the file changed.

        A key just added to the registry file thus works on its first use.
        """
        if not self._file_changed() and await keystore.loaded_revision(self._redis) is not None:
            return False
        return await self.ensure_loaded()

    async def run(self, interval: float, redis_calls: RedisCalls | None = None) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                with (
                    redis_calls.observe("registry_check", "GET", traced=False)
                    if redis_calls
                    else nullcontext()
                ):
                    await self.ensure_loaded()
            except RedisError as exc:
                log.warning("registry check skipped: Redis unavailable (%s)", type(exc).__name__)


def _why(exc: OSError | ValueError) -> str:
    """What is wrong with the registry, never its content (key hashes and names)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, orjson.JSONDecodeError):  # its message is a position, not content
        return f"not valid JSON ({exc})"
    return type(exc).__name__
