"""Edge: the only public tier. Authenticates, checks input, vouches for the caller inward.

It never talks to a provider: every request goes to policy with the original body bytes
and a signed identity; client headers other than a short allow-list stay here.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from edge.auth import Authenticator
from edge.deps import Auth, PolicyClient, Signer
from edge.registry_sync import RegistrySync
from edge.settings import EdgeSettings
from edge.validation import CHAT, COMPLETIONS, EMBEDDINGS, check_content_type, parse_body
from gateway_shared import headers as h
from gateway_shared.errors import GatewayError, install_error_handlers
from gateway_shared.health import add_health_routes
from gateway_shared.http import pooled_client, relay
from gateway_shared.identity import Identity, IdentitySigner
from gateway_shared.redis import connect
from gateway_shared.settings import load


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = GatewayError(
        f"Request body too large: the limit is {limit} bytes.",
        status=413,
        code="request_too_large",
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _inward_headers(request: Request, token: str, request_id: str) -> dict[str, str]:
    out = {name: request.headers[name] for name in h.FORWARD_REQUEST if name in request.headers}
    out[h.IDENTITY] = token
    out[h.REQUEST_ID] = request_id
    return out


def create_app(settings: EdgeSettings | None = None) -> FastAPI:
    settings = settings or load(EdgeSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(
            settings.redis_url.get_secret_value(), timeout_seconds=settings.redis_timeout_seconds
        )
        inline = settings.key_registry.get_secret_value() if settings.key_registry else None
        sync = RegistrySync(redis, inline, settings.key_registry_file)
        with contextlib.suppress(RedisError):
            await sync.ensure_loaded()  # if Redis is down now, the periodic check loads later
        app.state.redis = redis
        app.state.auth = Authenticator(
            redis,
            settings.key_pepper.get_secret_value().encode(),
            sync,
            settings.key_cache_seconds,
        )
        app.state.signer = IdentitySigner(settings.internal_secret.get_secret_value().encode())
        app.state.policy = pooled_client(base_url=settings.policy_url, read_timeout=None)
        checker = asyncio.create_task(sync.run(settings.registry_check_seconds))
        try:
            yield
        finally:
            checker.cancel()
            await app.state.policy.aclose()
            await redis.aclose()

    app = FastAPI(title="LLM gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)

    async def ready() -> dict[str, bool]:
        try:
            redis_ok = bool(await app.state.redis.ping())
        except RedisError:
            redis_ok = False
        try:
            policy_ok = (await app.state.policy.get("/healthz", timeout=1.0)).status_code == 200
        except httpx.HTTPError:
            policy_ok = False
        return {"redis": redis_ok, "policy": policy_ok}

    add_health_routes(app, ready)

    async def forward(
        request: Request,
        auth: Authenticator,
        signer: IdentitySigner,
        policy: httpx.AsyncClient,
        body: bytes | None,
    ) -> Response:
        record = await auth.authenticate(request.headers)
        request_id = "req_" + uuid.uuid4().hex
        token = signer.sign(Identity(record.id, record.name, record.plan, request_id))
        upstream_request = policy.build_request(
            request.method,
            request.url.path,
            content=body,
            headers=_inward_headers(request, token, request_id),
        )
        try:
            upstream = await policy.send(upstream_request, stream=True)
        except httpx.HTTPError:
            raise GatewayError(
                "The gateway could not reach its policy service. Please retry shortly.",
                status=503,
                code="upstream_unavailable",
                headers={h.REQUEST_ID: request_id},
            ) from None
        return await relay(upstream, {h.REQUEST_ID: request_id})

    async def inference(
        request: Request, auth: Auth, signer: Signer, policy: PolicyClient
    ) -> Response:
        check_content_type(request.headers.get("content-type"))
        raw = await _read_body(request, settings.max_body_bytes)
        parse_body(raw, request.url.path)
        return await forward(request, auth, signer, policy, raw)

    async def lookup(
        request: Request, auth: Auth, signer: Signer, policy: PolicyClient
    ) -> Response:
        return await forward(request, auth, signer, policy, None)

    for path in (CHAT, COMPLETIONS, EMBEDDINGS):
        app.add_api_route(path, inference, methods=["POST"])
    app.add_api_route("/v1/models", lookup, methods=["GET"])
    app.add_api_route("/v1/usage", lookup, methods=["GET"])
    app.add_api_route("/v1/models/{model_id:path}", lookup, methods=["GET"])
    return app
