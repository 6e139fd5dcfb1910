"""Policy: admits or rejects each edge-vouched request for its key, then hands it to router.

Every admitted request is settled exactly once (see ``accounting``), streams included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from redis.exceptions import RedisError

from gateway_shared.errors import install_error_handlers
from gateway_shared.health import add_health_routes
from gateway_shared.http import pooled_client
from gateway_shared.identity import IdentitySigner
from gateway_shared.observability import NATIVE_TELEMETRY_OFF, Observability
from gateway_shared.observability.redis_calls import RedisCalls, server_address
from gateway_shared.redis import connect
from gateway_shared.settings import load
from policy.admission import Admission
from policy.limits.limiter import Limiter
from policy.metrics import PolicyMetrics
from policy.routes import routes
from policy.settings import PolicySettings


def create_app(settings: PolicySettings | None = None) -> FastAPI:
    settings = settings or load(PolicySettings)
    obs = Observability("policy")
    metrics = PolicyMetrics(obs.registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(
            settings.redis_url.get_secret_value(), timeout_seconds=settings.redis_timeout_seconds
        )
        app.state.redis = redis
        redis_calls = RedisCalls(
            obs.registry, obs.tracing, ("admit", "settle"), server_address(redis)
        )
        limiter = Limiter(redis, settings.rate_window_seconds, settings.lease_seconds, redis_calls)
        app.state.admission = Admission(limiter, settings, metrics)
        app.state.signer = IdentitySigner(settings.internal_secret.get_secret_value().encode())
        app.state.router = pooled_client(base_url=settings.router_url, read_timeout=None)
        try:
            yield
        finally:
            await app.state.router.aclose()
            await redis.aclose()
            obs.shutdown()

    app = FastAPI(
        title="gateway policy",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    install_error_handlers(app)
    obs.install(app)
    app.state.obs = obs

    async def ready() -> dict[str, bool]:
        try:
            redis_ok = bool(await app.state.redis.ping())
        except RedisError:
            redis_ok = False
        try:
            router_ok = (await app.state.router.get("/healthz", timeout=1.0)).status_code == 200
        except httpx.HTTPError:
            router_ok = False
        return {"redis": redis_ok, "router": router_ok}

    add_health_routes(app, ready)
    app.include_router(routes)
    return app
