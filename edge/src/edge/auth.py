"""Who is calling: the key from the request, checked against Redis's copy of the registry.

Valid keys are cached in-process for ``key_cache_seconds``: that is the bound on how long
a revoked key keeps working on a replica, and it spares Redis a lookup per request.
Unknown keys are never cached, so a new key works at once.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

from redis.exceptions import RedisError
from starlette.datastructures import Headers

from edge import keystore
from edge.metrics import EdgeMetrics
from edge.registry_sync import RegistrySync
from gateway_shared.errors import GatewayError
from gateway_shared.keys import KEY_PREFIX, KeyRecord, hash_key, looks_like_key
from gateway_shared.observability.logs import ThrottledLog
from gateway_shared.observability.redis_calls import RedisCalls
from gateway_shared.redis_client import RedisClient

log = logging.getLogger("edge.auth")
_redis_down = ThrottledLog(log)

_INVALID = (
    "Incorrect API key provided. You can find your gateway API key with your gateway administrator."
)


_SEND_IT = "Send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header."


def key_from_headers(headers: Headers) -> str:
    """The caller's key, from ``Authorization: Bearer`` or ``x-api-key`` (what Anthropic's
    SDKs send); a header that holds a key in another form is named in the error, so the
    caller learns what to change (the value itself is never repeated)."""
    authorization = headers.get("authorization", "").strip()
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    api_key = headers.get("x-api-key", "").strip()
    if api_key:
        return api_key
    if not authorization:
        raise _unauthorized(f"You didn't provide an API key. {_SEND_IT}")
    if authorization.startswith(KEY_PREFIX):
        raise _unauthorized(
            "The Authorization header holds a key without the 'Bearer' scheme: send it as "
            "'Authorization: Bearer <key>'."
        )
    if scheme.lower() == "bearer":
        raise _unauthorized(f"The Authorization header says 'Bearer' but holds no key. {_SEND_IT}")
    named = f" '{scheme}'" if scheme.isalpha() and len(scheme) <= 20 else ""
    raise _unauthorized(
        f"The Authorization header uses the scheme{named}, which the gateway does not accept. "
        + _SEND_IT
    )


def _unauthorized(message: str) -> GatewayError:
    return GatewayError(message, status=401, code="invalid_api_key")


class Authenticator:
    """Checks keys against Redis; ``peppers`` lists the current pepper first, then the
    previous one while a rotation is under way (docs/security.md)."""

    def __init__(
        self,
        redis: RedisClient,
        peppers: tuple[bytes, ...],
        sync: RegistrySync,
        cache_seconds: float,
        *,
        redis_calls: RedisCalls | None = None,
        metrics: EdgeMetrics | None = None,
    ) -> None:
        self._redis = redis
        self._peppers = peppers
        self._sync = sync
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[KeyRecord, float]] = {}
        self._calls = redis_calls
        self._lookups = metrics.key_lookups if metrics is not None else None

    def _count(self, result: str) -> None:
        if self._lookups is not None:
            self._lookups[result].inc()

    async def _find(self, key: str, current_hash: str) -> KeyRecord | None:
        record = await keystore.lookup(self._redis, current_hash)
        for pepper in self._peppers[1:]:
            if record is not None:
                break
            record = await keystore.lookup(self._redis, hash_key(key, pepper))
        return record

    async def authenticate(self, headers: Headers) -> KeyRecord:
        key = key_from_headers(headers)
        if not looks_like_key(key):
            raise _unauthorized(_INVALID)
        key_hash = hash_key(key, self._peppers[0])
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[1] > now:
            self._count("cache")
            return cached[0]
        try:
            with self._calls.observe("key_lookup", "GET") if self._calls else nullcontext():
                record = await self._find(key, key_hash)
                if record is None and await self._sync.reload_if_lost():
                    record = await self._find(key, key_hash)
        except RedisError as exc:
            self._count("error")
            _redis_down.warning("key lookup failed: Redis unavailable (%s)", type(exc).__name__)
            raise GatewayError(
                "The gateway cannot verify API keys right now. Please retry shortly.",
                status=503,
                code="key_store_unavailable",
                headers={"retry-after": "1"},
            ) from None
        if record is None:
            self._count("unknown")
            self._cache.pop(key_hash, None)
            raise _unauthorized(_INVALID)
        self._count("redis")
        self._cache[key_hash] = (record, now + self._cache_seconds)
        return record
