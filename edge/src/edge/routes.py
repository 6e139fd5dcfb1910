"""Edge's public API: every route authenticates, checks input and forwards to policy."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from starlette.responses import Response

from edge.deps import EdgeParts, Parts
from edge.validation import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    check_content_type,
    check_header_size,
    parse_body,
)
from gateway_shared import headers as h
from gateway_shared.errors import GatewayError
from gateway_shared.hop import HopError, inward_path, relay
from gateway_shared.identity import Identity
from gateway_shared.observability import current_request

routes = APIRouter()


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
    out.update(request.app.state.obs.tracing.outgoing(request.headers))
    out[h.IDENTITY] = token
    out[h.REQUEST_ID] = request_id
    return out


async def forward(request: Request, parts: EdgeParts, body: bytes | None) -> Response:
    record = await parts.auth.authenticate(request.headers)
    request_id = "req_" + os.urandom(16).hex()
    ctx = current_request()
    if ctx is not None:
        ctx.key_name = record.name
        ctx.request_id = request_id
    token = parts.signer.sign(Identity(record.id, record.name, record.plan, request_id))
    try:
        upstream = await parts.policy.send(
            request.method,
            inward_path(request),
            headers=_inward_headers(request, token, request_id),
            body=body,
        )
    except HopError:
        raise GatewayError(
            "The gateway could not reach its policy service. Please retry shortly.",
            status=503,
            code="upstream_unavailable",
            headers={h.REQUEST_ID: request_id},
        ) from None
    if ctx is not None:
        ctx.from_upstream(upstream.headers)
    return await relay(upstream, {h.REQUEST_ID: request_id})


@routes.post(CHAT)
@routes.post(COMPLETIONS)
@routes.post(EMBEDDINGS)
async def inference(request: Request, parts: Parts) -> Response:
    check_header_size(request.headers.raw, parts.settings.max_header_bytes)
    check_content_type(request.headers.get("content-type"))
    raw = await _read_body(request, parts.settings.max_body_bytes)
    body = parse_body(raw, request.scope["path"], parts.limits)
    ctx = current_request()
    if ctx is not None:
        ctx.requested_model = body["model"]
        ctx.stream = body.get("stream") is True
    return await forward(request, parts, raw)


@routes.get("/v1/models")
@routes.get("/v1/models/{model_id:path}")
@routes.get("/v1/usage")
async def lookup(request: Request, parts: Parts) -> Response:
    check_header_size(request.headers.raw, parts.settings.max_header_bytes)
    return await forward(request, parts, None)
