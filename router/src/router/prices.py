"""Publishing each alias's highest prices to Redis, where policy reads them.

Policy prices requests and holds budgets but never reads the catalog: the router writes
one hash (``gateway_shared.prices.PRICES_KEY``: alias -> the highest rate of each token
type over the alias's deployments) whenever a catalog is loaded, and again every
``ROUTER_PRICES_PUBLISH_SECONDS``, so a Redis that lost its data has them back within
that time. The hash is replaced by one script (one key: it runs on a Redis Cluster too),
so a reader never sees half of two catalogs. An alias whose rates are all unknown is
published as ``{}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from gateway_shared.observability.logs import ThrottledLog
from gateway_shared.prices import PRICES_KEY
from gateway_shared.redis_client import RedisClient
from gateway_shared.tier.tasks import cancel
from router.catalog import Catalog

log = logging.getLogger("router.prices")

# KEYS: 1 the prices hash. ARGV: alias, prices, alias, prices...
_REPLACE = """
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
"""


def alias_prices(catalog: Catalog) -> dict[str, str]:
    return {m.alias: m.highest_prices().encode() for m in catalog.models}


class PricePublisher:
    def __init__(
        self, redis: RedisClient, catalog: Callable[[], Catalog], interval_seconds: float
    ) -> None:
        self._replace = redis.register_script(_REPLACE)
        self._catalog = catalog
        self._interval = interval_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = ThrottledLog(log)

    async def publish(self) -> bool:
        try:
            args = [part for pair in alias_prices(self._catalog()).items() for part in pair]
            await self._replace(keys=[PRICES_KEY], args=args)
        except RedisError as exc:
            self._failures.warning(
                "could not publish prices: Redis unavailable (%s)", type(exc).__name__
            )
            return False
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="price-publisher")

    def wake(self) -> None:
        """Publish now (a catalog was loaded)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self.publish()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()

    async def aclose(self) -> None:
        await cancel(self._task)
        self._task = None
