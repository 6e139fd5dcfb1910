"""Router: the model catalog, load balancing, retries and failover, and the provider
adapters - the only tier that talks to providers.

The lifespan loads the catalog (a bad one stops the start), builds every adapter behind
the provider observer, and starts the background work (health checks, catalog reloads);
the routes are in :mod:`router.routes`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway_shared.observability import Observability
from gateway_shared.redis_client import connect
from gateway_shared.tier.app import tier_app
from gateway_shared.tier.health import add_health_routes
from gateway_shared.tier.settings import load
from router.observability.collector import RouterCollector
from router.observability.observed import ProviderObserver
from router.observability.provider_metrics import ProviderMetrics
from router.prices import PricePublisher
from router.providers.http_client import pooled_client
from router.providers.registry import ADAPTERS
from router.routes import routes
from router.routing.discovery import Resolver, resolve
from router.settings import RouterSettings
from router.state import RouterState


def create_app(
    settings: RouterSettings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    resolver: Resolver = resolve,
) -> FastAPI:
    """The router app.

    ``http_client`` replaces the pooled client to providers (tests inject a mock
    transport); with one, SIGHUP is left alone (the file is still watched).
    ``resolver`` replaces DNS for discovered deployments (routing/discovery.py).
    """
    settings = settings or load(RouterSettings)
    obs = Observability("router")
    # Every provider call is measured and traced at the adapter boundary.
    observer = ProviderObserver(ProviderMetrics(obs.registry), obs.tracing)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.signer = settings.identity_signer()
        app.state.started = int(time.time())
        state = RouterState.build(
            settings.catalog_path,
            http_client or pooled_client(tracing=obs.tracing),
            ADAPTERS,
            wrap=observer.wrap,
            resolver=resolver,
        )
        state.start(
            poll_seconds=settings.catalog_poll_seconds,
            health_checks=settings.health_checks,
            handle_sighup=http_client is None,
        )
        app.state.services = state
        publisher = None
        if settings.redis_url is not None:
            redis = connect(settings.redis_url.get_secret_value(), timeout_seconds=1.0)
            publisher = PricePublisher(
                redis, lambda: state.table.catalog, settings.prices_publish_seconds
            )
            await publisher.publish()  # before the router reports ready
            publisher.start()
            state.on_reload = publisher.wake
        app.state.summary = state.table.summary()  # for the ready line
        try:
            yield
        finally:
            if publisher is not None:
                await publisher.aclose()
                await redis.aclose()
            await state.aclose()
            obs.shutdown()

    app = tier_app("gateway router", lifespan, obs)
    obs.registry.register(RouterCollector(lambda: getattr(app.state, "services", None)))

    async def ready() -> dict[str, bool]:
        return {"catalog": bool(app.state.services.table.routes)}

    add_health_routes(app, ready)
    app.include_router(routes)
    return app
