"""Edge's public API: every route authenticates, checks input and forwards to policy."""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter, Request
from starlette.responses import Response

from edge.auth import Authenticator
from edge.deps import Auth, PolicyClient, Settings, Signer
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
from gateway_shared.http import inward_path, relay
from gateway_shared.identity import Identity, IdentitySigner
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


async def forward(
    request: Request,
    auth: Authenticator,
    signer: IdentitySigner,
    policy: httpx.AsyncClient,
    body: bytes | None,
) -> Response:
    record = await auth.authenticate(request.headers)
    request_id = "req_" + uuid.uuid4().hex
    ctx = current_request()
    if ctx is not None:
        ctx.key_name = record.name
        ctx.request_id = request_id
    token = signer.sign(Identity(record.id, record.name, record.plan, request_id))
    upstream_request = policy.build_request(
        request.method,
        inward_path(request),
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
    if ctx is not None:
        ctx.from_upstream(upstream.headers)
    return await relay(upstream, {h.REQUEST_ID: request_id})


@routes.post(CHAT)
@routes.post(COMPLETIONS)
@routes.post(EMBEDDINGS)
async def inference(
    request: Request, auth: Auth, signer: Signer, policy: PolicyClient, settings: Settings
) -> Response:
    check_header_size(request.headers.raw, settings.max_header_bytes)
    check_content_type(request.headers.get("content-type"))
    raw = await _read_body(request, settings.max_body_bytes)
    body = parse_body(raw, request.url.path, request.app.state.limits)
    ctx = current_request()
    if ctx is not None:
        ctx.requested_model = body["model"]
        ctx.stream = body.get("stream") is True
    return await forward(request, auth, signer, policy, raw)


@routes.get("/v1/models")
@routes.get("/v1/models/{model_id:path}")
@routes.get("/v1/usage")
async def lookup(
    request: Request, auth: Auth, signer: Signer, policy: PolicyClient, settings: Settings
) -> Response:
    check_header_size(request.headers.raw, settings.max_header_bytes)
    return await forward(request, auth, signer, policy, None)
