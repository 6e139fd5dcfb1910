"""Policy's routes: admit, forward to router, settle; the models list; a key's usage."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from gateway_shared import headers as h
from gateway_shared.errors import GatewayError
from gateway_shared.hop import (
    HopError,
    HopResponse,
    abandon,
    inward_path,
    is_event_stream,
    read_body,
    returned_headers,
)
from gateway_shared.usage import read_usage
from policy.accounting import Ticket, metered_stream
from policy.deps import Call
from policy.signals import rate_limit_headers

_FORWARD = (*h.FORWARD_REQUEST, h.IDENTITY, h.REQUEST_ID)
_UNAVAILABLE = "The gateway could not reach its router service. Please retry shortly."

routes = APIRouter()


def _inward(request: Request) -> dict[str, str]:
    headers = {n: request.headers[n] for n in _FORWARD if n in request.headers}
    headers.update(request.app.state.obs.tracing.outgoing(request.headers))
    return headers


def _unavailable() -> GatewayError:
    return GatewayError(_UNAVAILABLE, status=503, code="upstream_unavailable")


@routes.post("/v1/chat/completions")
@routes.post("/v1/completions")
@routes.post("/v1/embeddings")
async def inference(request: Request, call: Call) -> Response:
    identity, parts = call.identity, call.parts
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError("The request body must be a JSON object.", code="invalid_type")
    ticket, decision = await parts.admission.admit(
        identity, body, embeddings=request.scope["path"] == "/v1/embeddings"
    )
    limit_headers = rate_limit_headers(identity.plan, decision)
    try:
        upstream = await parts.router.send(
            "POST", inward_path(request), headers=_inward(request), body=raw
        )
    except HopError:
        await ticket.settle(0, 0, ok=False)
        raise _unavailable() from None
    if ticket.request is not None:
        ticket.request.from_upstream(upstream.headers)
    headers = returned_headers(upstream.headers) | limit_headers
    if is_event_stream(upstream):
        return StreamingResponse(
            metered_stream(upstream, ticket),
            status_code=upstream.status,
            headers=headers | {"cache-control": "no-cache"},
            media_type=upstream.headers.get("content-type"),
            # Covers a client gone before the stream started: drops the router's stream
            # and settles with the estimate.
            background=BackgroundTask(_abandoned, upstream, ticket),
        )
    try:
        content = await read_body(upstream)
    except HopError:
        await ticket.settle(0, 0, ok=False)
        raise _unavailable() from None
    await ticket.settle_from_header(upstream.status, upstream.headers, h.USAGE)
    return Response(
        content,
        status_code=upstream.status,
        headers=headers,
        media_type=upstream.headers.get("content-type"),
    )


async def _abandoned(upstream: HopResponse, ticket: Ticket) -> None:
    await abandon(upstream)
    await ticket.settle_estimated()


@routes.get("/v1/models")
@routes.get("/v1/models/{model_id:path}")
async def models(request: Request, call: Call) -> Response:
    try:
        upstream = await call.parts.router.send(
            "GET", inward_path(request), headers=_inward(request)
        )
        content = await read_body(upstream)
    except HopError:
        raise _unavailable() from None
    return Response(
        content,
        status_code=upstream.status,
        headers=returned_headers(upstream.headers),
        media_type=upstream.headers.get("content-type"),
    )


@routes.get("/v1/usage")
async def usage(call: Call) -> Response:
    """The calling key's own usage: the key comes from its identity, never a parameter."""
    identity, parts = call.identity, call.parts
    try:
        periods = await read_usage(parts.redis, identity.key_id)
    except RedisError:
        raise GatewayError(
            "Usage is unavailable right now. Please retry shortly.",
            status=503,
            code="usage_unavailable",
        ) from None
    plan = identity.plan
    remaining = {}
    if plan.daily_tokens:
        used = periods["day"]["charged_and_reserved_tokens"]
        remaining["daily_tokens"] = max(0, plan.daily_tokens - used)
    if plan.monthly_tokens:
        used = periods["month"]["charged_and_reserved_tokens"]
        remaining["monthly_tokens"] = max(0, plan.monthly_tokens - used)
    document = {
        "object": "usage",
        "key": {"id": identity.key_id, "name": identity.key_name},
        **periods,
        "limits": plan.model_dump(exclude_none=True),
        "remaining": remaining,
    }
    return Response(orjson.dumps(document), media_type="application/json")
