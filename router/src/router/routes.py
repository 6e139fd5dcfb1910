"""The router's routes: inference (resolve the alias, dispatch, relay), the models list
and one model, and the operators' routing status.

Every answer carries the router's report (``wire.report``): the alias that served it
and the time spent on providers, and, on whole answers, the tokens used. Streams end
with the usage trailer (policy bills from it); a stream that breaks after its first
byte reached the client ends with an OpenAI-shaped error event, then the trailer with
the estimated partial usage, and no ``data: [DONE]``: never a clean end.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from gateway_shared.bodies import parse_object
from gateway_shared.errors import GatewayError, envelope_of, model_not_found
from gateway_shared.observability import current_request
from gateway_shared.wire.admission import Admitted
from gateway_shared.wire.headers import ANTHROPIC_BETA
from gateway_shared.wire.identity import GENERATING_PATHS, Identity
from gateway_shared.wire.report import Report, usage_trailer
from router.catalog import ModelEntry, Strategy
from router.deps import State, Vouch
from router.providers.base import PRIORITY_HINT
from router.providers.bridge import BRIDGES, Bridge
from router.providers.errors import ProviderError
from router.providers.messages_tokens import count_input_tokens
from router.routing.affinity import prefix_key
from router.routing.dispatcher import Hints, RoutedStream
from router.routing.status import status_body
from router.routing.table import Route
from router.state import RouterState

routes = APIRouter()


def _resolve(state: RouterState, identity: Identity, alias: str) -> Route:
    route = state.table.get(alias)
    if route is None or not identity.plan.allows_model(route.alias):
        raise model_not_found(alias)
    return route


def _apply(admitted: Admitted, bridge: Bridge, body: dict[str, Any]) -> None:
    """What policy decided, in the fields of the request's API (``wire.admission``)."""
    if admitted.output_cap is not None:
        body[bridge.output_cap_field] = admitted.output_cap


def _model_card(model: ModelEntry, created: int) -> dict[str, Any]:
    return {"id": model.alias, "object": "model", "created": created, "owned_by": model.owned_by}


async def _relayed(stream: RoutedStream) -> AsyncIterator[bytes]:
    try:
        async for data in stream:
            yield data
    finally:
        await stream.aclose()
    yield usage_trailer(stream.usage)


async def inference(request: Request, vouch: Vouch) -> Response:
    identity, state = vouch.identity, vouch.services
    summary = vouch.summary
    body = parse_object(await request.body())
    route = _resolve(state, identity, summary.model)
    bridge = BRIDGES[summary.api]
    _apply(Admitted.from_headers(request.headers), bridge, body)
    ctx = current_request()
    if ctx is not None:
        ctx.model = route.alias
    retry = state.table.catalog.routing.retry
    priority = identity.plan.priority
    headers = {**_provider_headers(request), PRIORITY_HINT: priority.value}
    affinity = prefix_key(body) if route.entry.strategy is Strategy.LOAD_AWARE else None
    hints = Hints(priority=priority, affinity=affinity)
    started = time.perf_counter()

    def report(**reported: Any) -> Report:
        provider_seconds = time.perf_counter() - started
        if ctx is not None:
            ctx.provider_seconds = provider_seconds
        return Report(model=route.alias, provider_seconds=provider_seconds, **reported)

    try:
        if summary.stream:
            stream = await state.dispatcher.stream(route, bridge, body, retry, headers, hints=hints)
            return StreamingResponse(
                _relayed(stream),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", **report(prices=stream.prices).headers()},
            )
        result = await state.dispatcher.complete(route, bridge, body, retry, headers, hints=hints)
    except GatewayError as exc:
        failed = exc.to_response(envelope_of(request.scope["path"]))
        failed.headers.update(report().headers())
        return failed
    return Response(
        result.body,
        status_code=result.status,
        media_type=result.content_type,
        headers=report(usage=result.usage, prices=result.prices).headers(),
    )


for _path in GENERATING_PATHS:
    routes.add_api_route(_path, inference, methods=["POST"])


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: Request, vouch: Vouch) -> Response:
    """A Messages request's input tokens: from the first deployment (by priority) with a
    tokenizer endpoint that answers (Anthropic's count_tokens, vLLM's /tokenize), else
    the gateway's estimate (``messages_tokens.count_input_tokens``)."""
    body = parse_object(await request.body())
    route = _resolve(vouch.services, vouch.identity, vouch.summary.model)
    counted = None
    for state in route.deployments:
        if not state.breaker.available():
            continue
        try:
            counted = await state.provider.count_tokens(body, _provider_headers(request))
        except ProviderError:
            continue
        if counted is not None:
            break
    tokens = counted if counted is not None else count_input_tokens(body)
    return Response(
        orjson.dumps({"input_tokens": tokens}),
        media_type="application/json",
        headers=Report(model=route.alias).headers(),
    )


def _provider_headers(request: Request) -> dict[str, str]:
    """The client's headers a provider may need (``wire.headers.ANTHROPIC_BETA``)."""
    beta = request.headers.get(ANTHROPIC_BETA)
    return {ANTHROPIC_BETA: beta} if beta else {}


@routes.get("/v1/models")
async def list_models(request: Request, vouch: Vouch) -> Response:
    identity, state = vouch.identity, vouch.services
    data = [
        _model_card(m, request.app.state.started)
        for m in state.table.catalog.models
        if identity.plan.allows_model(m.alias)
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@routes.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request, vouch: Vouch) -> Response:
    route = _resolve(vouch.services, vouch.identity, model_id)
    return Response(
        orjson.dumps(_model_card(route.entry, request.app.state.started)),
        media_type="application/json",
    )


@routes.get("/status", include_in_schema=False)
async def status(state: State) -> Response:
    """Routing state for operators (inner network only, like /readyz): no secrets."""
    return Response(
        orjson.dumps(status_body(state.table, state.dispatcher)), media_type="application/json"
    )
