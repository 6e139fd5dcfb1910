"""Router: resolves the model alias and hands the request to the dispatcher, which picks
deployments, retries and fails over (:mod:`router.routing`); relays the answer.

Streams end with the usage trailer (policy bills from it). A stream that breaks after
its first byte reached the client ends with an OpenAI-shaped error event, then the
trailer with the estimated partial usage, and no ``data: [DONE]``: never a clean end.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from gateway_shared import headers as h
from gateway_shared.errors import GatewayError
from gateway_shared.health import add_health_routes
from gateway_shared.http import pooled_client
from gateway_shared.identity import Identity, IdentitySigner
from gateway_shared.observability import Observability, current_request
from gateway_shared.settings import load
from gateway_shared.sse import data_event, usage_trailer
from gateway_shared.tier import tier_app
from router.catalog import ModelEntry
from router.deps import Call, State
from router.metrics import RouterCollector
from router.providers.base import CompletionStream, Operation
from router.providers.errors import ProviderError
from router.providers.observed import ProviderMetrics, ProviderObserver, observed_adapters
from router.providers.registry import ADAPTERS
from router.routing.deployment import Lease
from router.routing.status import status_body
from router.routing.table import Route
from router.settings import RouterSettings
from router.state import RouterState

OPERATIONS = {
    "/v1/chat/completions": Operation.CHAT,
    "/v1/completions": Operation.COMPLETIONS,
    "/v1/embeddings": Operation.EMBEDDINGS,
}


def _model_not_found(alias: str) -> GatewayError:
    return GatewayError(
        f"The model `{alias}` does not exist or you do not have access to it.",
        status=404,
        param="model",
        code="model_not_found",
    )


def _resolve(state: RouterState, identity: Identity, alias: Any) -> Route:
    route = state.table.get(alias) if isinstance(alias, str) else None
    if route is None or not identity.plan.allows_model(route.alias):
        raise _model_not_found(str(alias))
    return route


def _report_model(route: Route) -> None:
    """The catalog alias is the only value the tiers' ``model`` metric label takes."""
    observed = current_request()
    if observed is not None:
        observed.model = route.alias


def _hold_to_plan_cap(body: dict[str, Any], identity: Identity, operation: Operation) -> None:
    """A request without max_tokens gets its key's cap: policy reserved that much."""
    cap = identity.plan.max_tokens
    if not cap or operation is Operation.EMBEDDINGS:
        return
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = cap


def _model_card(model: ModelEntry, created: int) -> dict[str, Any]:
    return {"id": model.alias, "object": "model", "created": created, "owned_by": model.owned_by}


async def _relay_stream(stream: CompletionStream, lease: Lease) -> AsyncIterator[bytes]:
    settled = False
    error: ProviderError | None = None
    try:
        async for data in stream:
            yield data
        settled = True
    except ProviderError as exc:
        lease.interrupted()
        settled = True
        error = exc
    finally:
        if not settled:  # the client went away
            lease.cancelled()
        lease.release()
        await stream.aclose()
    if error is not None:
        # The client already has part of the answer: it must see the stream fail, not end.
        yield data_event(error.to_body())
    usage = stream.usage
    yield usage_trailer(usage.prompt_tokens, usage.completion_tokens, estimated=usage.estimated)


def create_app(
    settings: RouterSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """The router app.

    ``http_client`` replaces the pooled client to providers (tests inject a mock
    transport); with one, SIGHUP is left alone (the file is still watched).
    """
    settings = settings or load(RouterSettings)
    started = int(time.time())
    obs = Observability("router")
    # Every provider call is measured and traced at the adapter boundary.
    adapters = observed_adapters(
        ADAPTERS, ProviderObserver(ProviderMetrics(obs.registry), obs.tracing)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.signer = IdentitySigner(settings.internal_secret.get_secret_value().encode())
        state = RouterState.build(
            settings.catalog_path, http_client or pooled_client(tracing=obs.tracing), adapters
        )
        state.start(
            poll_seconds=settings.catalog_poll_seconds,
            health_checks=settings.health_checks,
            handle_sighup=http_client is None,
        )
        app.state.parts = state
        try:
            yield
        finally:
            await state.aclose()
            obs.shutdown()

    app = tier_app("gateway router", lifespan, obs)
    obs.registry.register(RouterCollector(lambda: getattr(app.state, "parts", None)))

    async def ready() -> dict[str, bool]:
        return {"catalog": bool(app.state.parts.table.routes)}

    add_health_routes(app, ready)

    async def inference(request: Request, call: Call) -> Response:
        identity, state = call.identity, call.parts
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise GatewayError("The request body is not valid JSON.", code="invalid_json") from None
        if not isinstance(body, dict):
            raise GatewayError("The request body must be a JSON object.", code="invalid_type")
        route = _resolve(state, identity, body.get("model"))
        _report_model(route)
        operation = OPERATIONS[request.scope["path"]]
        _hold_to_plan_cap(body, identity, operation)
        retry = state.table.catalog.routing.retry
        if body.get("stream") is True and operation is not Operation.EMBEDDINGS:
            stream, lease = await state.dispatcher.stream(route, operation, body, retry)
            return StreamingResponse(
                _relay_stream(stream, lease),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        result = await state.dispatcher.complete(route, operation, body, retry)
        headers = {}
        if result.usage is not None:
            headers[h.USAGE] = orjson.dumps(
                {
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                }
            ).decode()
        return Response(
            result.body, status_code=result.status, media_type=result.content_type, headers=headers
        )

    async def list_models(call: Call) -> Response:
        identity, state = call.identity, call.parts
        data = [
            _model_card(m, started)
            for m in state.table.catalog.models
            if identity.plan.allows_model(m.alias)
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    async def get_model(model_id: str, call: Call) -> Response:
        route = _resolve(call.parts, call.identity, model_id)
        return Response(
            orjson.dumps(_model_card(route.entry, started)), media_type="application/json"
        )

    async def status(state: State) -> Response:
        """Routing state for operators (inner network only, like /readyz): no secrets."""
        return Response(
            orjson.dumps(status_body(state.table, state.dispatcher)), media_type="application/json"
        )

    for path in OPERATIONS:
        app.add_api_route(path, inference, methods=["POST"])
    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/v1/models/{model_id:path}", get_model, methods=["GET"])
    app.add_api_route("/status", status, methods=["GET"], include_in_schema=False)
    return app
