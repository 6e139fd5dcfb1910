"""Router: resolves the model alias, picks a deployment, calls it through its adapter."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from gateway_shared import headers as h
from gateway_shared.errors import GatewayError, install_error_handlers
from gateway_shared.health import add_health_routes
from gateway_shared.http import pooled_client
from gateway_shared.identity import Identity, IdentitySigner
from gateway_shared.inner import CallerIdentity
from gateway_shared.settings import load
from gateway_shared.sse import data_event, usage_trailer
from router.balancer import pick
from router.catalog import ModelEntry
from router.deps import State
from router.providers.base import CompletionStream, Operation
from router.providers.errors import ProviderError
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


def _resolve(state: RouterState, identity: Identity, alias: Any) -> ModelEntry:
    model = state.catalog.get(alias) if isinstance(alias, str) else None
    if model is None or not identity.plan.allows_model(model.alias):
        raise _model_not_found(str(alias))
    return model


def _model_card(model: ModelEntry, created: int) -> dict[str, Any]:
    return {"id": model.alias, "object": "model", "created": created, "owned_by": model.owned_by}


async def _relay_stream(stream: CompletionStream) -> AsyncIterator[bytes]:
    try:
        async for data in stream:
            yield data
    except ProviderError as exc:
        # The client already has part of the answer: it must see the stream fail, not end.
        yield data_event(exc.to_body())
    finally:
        await stream.aclose()
    usage = stream.usage
    yield usage_trailer(usage.prompt_tokens, usage.completion_tokens, estimated=usage.estimated)


def create_app(settings: RouterSettings | None = None) -> FastAPI:
    settings = settings or load(RouterSettings)
    started = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.signer = IdentitySigner(settings.internal_secret.get_secret_value().encode())
        app.state.router = RouterState.build(settings.catalog_path, pooled_client())
        try:
            yield
        finally:
            await app.state.router.aclose()

    app = FastAPI(title="gateway router", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)

    async def ready() -> dict[str, bool]:
        return {"catalog": bool(app.state.router.catalog.models)}

    add_health_routes(app, ready)

    async def inference(request: Request, identity: CallerIdentity, state: State) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise GatewayError("The request body is not valid JSON.", code="invalid_json") from None
        if not isinstance(body, dict):
            raise GatewayError("The request body must be a JSON object.", code="invalid_type")
        model = _resolve(state, identity, body.get("model"))
        provider = state.providers[pick(model, state.rng).name]
        operation = OPERATIONS[request.url.path]
        if body.get("stream") is True and operation is not Operation.EMBEDDINGS:
            stream = await provider.stream(operation, body)
            return StreamingResponse(
                _relay_stream(stream),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        result = await provider.complete(operation, body)
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

    async def list_models(identity: CallerIdentity, state: State) -> Response:
        data = [
            _model_card(m, started)
            for m in state.catalog.models
            if identity.plan.allows_model(m.alias)
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}), media_type="application/json"
        )

    async def get_model(model_id: str, identity: CallerIdentity, state: State) -> Response:
        model = _resolve(state, identity, model_id)
        return Response(orjson.dumps(_model_card(model, started)), media_type="application/json")

    for path in OPERATIONS:
        app.add_api_route(path, inference, methods=["POST"])
    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/v1/models/{model_id:path}", get_model, methods=["GET"])
    return app
