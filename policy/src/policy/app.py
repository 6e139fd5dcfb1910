"""Policy: admits or rejects each edge-vouched request for its key, then hands it to router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from gateway_shared import headers as h
from gateway_shared.errors import GatewayError, install_error_handlers
from gateway_shared.health import add_health_routes
from gateway_shared.http import pooled_client, relay
from gateway_shared.identity import IdentitySigner
from gateway_shared.inner import CallerIdentity
from gateway_shared.redis import connect
from gateway_shared.settings import load
from policy.deps import RouterClient
from policy.settings import PolicySettings

_FORWARD = (*h.FORWARD_REQUEST, h.IDENTITY, h.REQUEST_ID)


def create_app(settings: PolicySettings | None = None) -> FastAPI:
    settings = settings or load(PolicySettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = connect(
            settings.redis_url.get_secret_value(), timeout_seconds=settings.redis_timeout_seconds
        )
        app.state.signer = IdentitySigner(settings.internal_secret.get_secret_value().encode())
        app.state.router = pooled_client(base_url=settings.router_url, read_timeout=None)
        try:
            yield
        finally:
            await app.state.router.aclose()
            await app.state.redis.aclose()

    app = FastAPI(title="gateway policy", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)

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

    async def proxy(request: Request, identity: CallerIdentity, router: RouterClient) -> Response:
        body = await request.body() if request.method == "POST" else None
        upstream_request = router.build_request(
            request.method,
            request.url.path,
            content=body,
            headers={n: request.headers[n] for n in _FORWARD if n in request.headers},
        )
        try:
            upstream = await router.send(upstream_request, stream=True)
        except httpx.HTTPError:
            raise GatewayError(
                "The gateway could not reach its router service. Please retry shortly.",
                status=503,
                code="upstream_unavailable",
            ) from None
        return await relay(upstream)

    for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
        app.add_api_route(path, proxy, methods=["POST"])
    app.add_api_route("/v1/models", proxy, methods=["GET"])
    app.add_api_route("/v1/models/{model_id:path}", proxy, methods=["GET"])
    return app
