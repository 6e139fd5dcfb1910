"""Edge: the only public tier. Authenticates, checks input, vouches for the caller inward.

It never talks to a provider: every request goes to policy with the original body bytes
and a signed identity; client headers other than a short allow-list stay here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError

from edge import url_hints
from edge.auth import Authenticator
from edge.deps import EdgeServices
from edge.metrics import EdgeMetrics
from edge.registry_sync import RegistrySync
from edge.request_ids import RequestIds
from edge.routes import routes
from edge.settings import EdgeSettings
from edge.validation import Bodies, Limits
from gateway_shared.hop import HopClient
from gateway_shared.observability import Observability
from gateway_shared.observability.redis_calls import RedisCalls, server_address
from gateway_shared.redis_client import connect, discover, redis_ready
from gateway_shared.tier.app import tier_app
from gateway_shared.tier.health import add_health_routes
from gateway_shared.tier.settings import load


def create_app(settings: EdgeSettings | None = None) -> FastAPI:
    settings = settings or load(EdgeSettings)
    obs = Observability("edge", public=True)
    metrics = EdgeMetrics(obs.registry)
    limits = Limits(
        max_depth=settings.max_json_depth,
        max_messages=settings.max_messages,
        max_n=settings.max_n,
        max_tokens=settings.max_tokens,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(
            settings.redis_url.get_secret_value(), timeout_seconds=settings.redis_timeout_seconds
        )
        await discover(redis)
        inline = settings.key_registry.get_secret_value() if settings.key_registry else None
        cache_redis = (
            connect(
                settings.cache_redis_url.get_secret_value(),
                timeout_seconds=settings.redis_timeout_seconds,
            )
            if settings.cache_redis_url
            else None
        )
        sync = RegistrySync(redis, inline, settings.key_registry_file, cache_redis)
        redis_calls = RedisCalls(
            obs.registry, obs.tracing, ("key_lookup", "registry_check"), server_address(redis)
        )
        with contextlib.suppress(RedisError):
            await sync.ensure_loaded()  # if Redis is down now, the periodic check loads later
        app.state.redis = redis
        peppers = tuple(
            p.get_secret_value().encode()
            for p in (settings.key_pepper, settings.key_pepper_previous)
            if p is not None
        )
        auth = Authenticator(
            redis,
            peppers,
            sync,
            settings.key_cache_seconds,
            redis_calls=redis_calls,
            metrics=metrics,
        )
        policy = HopClient(settings.policy_url)
        app.state.services = EdgeServices(
            auth, settings.identity_signer(), policy, settings, Bodies(limits)
        )
        checker = asyncio.create_task(sync.run(settings.registry_check_seconds, redis_calls))
        try:
            yield
        finally:
            checker.cancel()
            await policy.aclose()
            await redis.aclose()
            if cache_redis is not None:
                await cache_redis.aclose()
            obs.shutdown()

    app = tier_app("LLM gateway", lifespan, obs)
    app.add_middleware(RequestIds)  # outermost: every answer gets the request id

    async def ready() -> dict[str, bool]:
        return {
            "redis": await redis_ready(app.state.redis),
            "policy": await app.state.services.policy.ready(),
        }

    add_health_routes(app, ready)

    app.include_router(routes)
    url_hints.install(app)
    return app
