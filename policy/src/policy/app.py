"""Policy: admits or rejects each edge-vouched request for its key, then hands it to router.

Every admitted request is settled exactly once (see ``accounting``), streams included;
a settlement Redis could not take is replayed when it answers again (``ledger``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError

from gateway_shared.hop import HopClient
from gateway_shared.observability import Observability
from gateway_shared.observability.logs import ThrottledLog
from gateway_shared.observability.redis_calls import RedisCalls, server_address
from gateway_shared.redis_client import RedisClient, connect, discover, redis_ready
from gateway_shared.tier.app import tier_app
from gateway_shared.tier.health import add_health_routes
from gateway_shared.tier.settings import load
from gateway_shared.tier.tasks import cancel
from policy.admission import Admission
from policy.cache.metrics import CacheMetrics
from policy.cache.store import ResponseCache
from policy.deps import PolicyServices
from policy.ledger import marker_seconds
from policy.limits.limiter import Limiter
from policy.metrics import PolicyMetrics
from policy.prices import PriceBook
from policy.routes import routes
from policy.settings import PolicySettings
from policy.usage import counters_since

_watch_failures = ThrottledLog(logging.getLogger("policy.prices"))


async def _watch_redis(
    redis: RedisClient, prices: PriceBook, metrics: PolicyMetrics, every: float
) -> None:
    """Keep the prices fresh and the counters' start time exported (``policy.usage``)."""
    while True:
        try:
            await prices.refresh()
            metrics.counters_started.set(await counters_since(redis, time.time()))
        except RedisError as exc:
            _watch_failures.warning("could not read prices: Redis unavailable (%s)", exc)
        await asyncio.sleep(every)


def _response_cache(settings: PolicySettings, metrics: CacheMetrics) -> ResponseCache | None:
    if settings.cache_redis_url is None:
        return None
    redis = connect(
        settings.cache_redis_url.get_secret_value(),
        timeout_seconds=settings.redis_timeout_seconds,
    )
    return ResponseCache(
        redis,
        metrics,
        max_ttl_seconds=settings.cache_max_ttl_seconds,
        max_entry_bytes=settings.cache_max_entry_bytes,
    )


def create_app(settings: PolicySettings | None = None) -> FastAPI:
    settings = settings or load(PolicySettings)
    obs = Observability("policy")
    metrics = PolicyMetrics(obs.registry)
    cache_metrics = CacheMetrics(obs.registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(
            settings.redis_url.get_secret_value(), timeout_seconds=settings.redis_timeout_seconds
        )
        await discover(redis)
        app.state.redis = redis
        redis_calls = RedisCalls(
            obs.registry, obs.tracing, ("admit", "settle"), server_address(redis)
        )
        limiter = Limiter(
            redis,
            settings.rate_window_seconds,
            settings.lease_seconds,
            redis_calls,
            marker_seconds=marker_seconds(settings.settle_keep_seconds),
        )
        app.state.signer = settings.identity_signer()
        router = HopClient(settings.router_url)
        prices = PriceBook(redis, settings.prices_refresh_seconds)
        admission = Admission(limiter, settings, metrics, prices=prices)
        cache = _response_cache(settings, cache_metrics)
        app.state.services = PolicyServices(admission, router, redis, cache)
        replay = asyncio.create_task(admission.ledger.replay())
        watcher = asyncio.create_task(
            _watch_redis(redis, prices, metrics, settings.prices_refresh_seconds)
        )
        try:
            yield
        finally:
            await cancel(watcher)
            # Stopped, not only told to: its replay and close's last pass share the queue.
            await cancel(replay)
            await admission.ledger.close()
            await router.aclose()
            await redis.aclose()
            if cache is not None:
                await cache.redis.aclose()
            obs.shutdown()

    app = tier_app("gateway policy", lifespan, obs)

    async def ready() -> dict[str, bool]:
        return {
            "redis": await redis_ready(app.state.redis),
            "router": await app.state.services.router.ready(),
        }

    add_health_routes(app, ready)
    app.include_router(routes)
    return app
