"""Policy's copy of the prices the router publishes (``router.prices``).

Read from Redis in the background (``refresh``, every ``POLICY_PRICES_REFRESH_SECONDS``),
so pricing a request costs no round trip. An alias missing from the copy is looked up
again at most once per refresh interval (``lookup``): a router that published a moment
ago is seen at once, a model that has no prices costs no Redis call per request.
"""

from __future__ import annotations

import time

from gateway_shared.prices import PRICES_KEY, Prices
from gateway_shared.redis_client import RedisClient


class PriceBook:
    def __init__(self, redis: RedisClient, refresh_seconds: float) -> None:
        self._redis = redis
        self._refresh = refresh_seconds
        self._prices: dict[str, Prices] = {}
        self._refreshed = -refresh_seconds

    def get(self, alias: str) -> Prices | None:
        return self._prices.get(alias)

    async def lookup(self, alias: str) -> Prices | None:
        """The alias's prices; on a miss, read Redis again unless it was just read."""
        prices = self._prices.get(alias)
        if prices is None and time.monotonic() - self._refreshed >= self._refresh:
            await self.refresh()
            prices = self._prices.get(alias)
        return prices

    async def refresh(self) -> None:
        """Replace the copy with Redis's (raises RedisError: the old copy stays)."""
        raw = await self._redis.hgetall(PRICES_KEY)
        self._refreshed = time.monotonic()
        prices = {}
        for alias, encoded in raw.items():
            decoded = Prices.decode(encoded)
            if decoded is not None:
                prices[alias.decode() if isinstance(alias, bytes) else alias] = decoded
        self._prices = prices
