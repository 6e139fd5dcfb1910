"""Edge's public API: each route authenticates (its dependency), checks what it must, and
sends the request inward to policy with the caller's signed identity."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from edge.deps import Authenticated, Caller
from edge.url_hints import trailing_slash
from edge.validation import check_content_type, read_body
from gateway_shared.errors import GatewayError
from gateway_shared.hop import HopError, inward_path, relay, returned_headers
from gateway_shared.observability import current_request
from gateway_shared.wire import headers as h
from gateway_shared.wire.identity import API_BY_PATH, Identity, RequestSummary
from gateway_shared.wire.report import Report

routes = APIRouter()


def _inward_headers(request: Request, caller: Caller, token: str) -> dict[str, str]:
    out = {name: request.headers[name] for name in h.FORWARD_REQUEST if name in request.headers}
    out.update(request.app.state.obs.tracing.outgoing(request.headers))
    out[h.IDENTITY] = token
    out[h.REQUEST_ID] = caller.request_id
    return out


async def _send_inward(
    request: Request, caller: Caller, body: bytes | None, summary: RequestSummary | None
) -> Response:
    """Vouch for the caller to policy and answer with what comes back."""
    key = caller.key
    services = caller.services
    token = services.signer.sign(
        Identity(key.id, key.name, key.plan, caller.request_id, request=summary)
    )
    try:
        upstream = await services.policy.send(
            request.method,
            inward_path(request),
            headers=_inward_headers(request, caller, token),
            body=body,
        )
    except HopError:
        raise GatewayError(
            "The gateway could not reach its policy service. Please retry shortly.",
            status=503,
            code="upstream_unavailable",
        ) from None
    ctx = current_request()
    if ctx is not None:
        ctx.take_report(Report.from_headers(upstream.headers))
    return await relay(upstream, returned_headers(upstream.headers))


async def inference(request: Request, caller: Authenticated) -> Response:
    services = caller.services
    check_content_type(request.headers.get("content-type"))
    raw = await read_body(request, services.settings.max_body_bytes)
    _, summary = services.bodies.check(API_BY_PATH[request.scope["path"]], raw)
    ctx = current_request()
    if ctx is not None:
        ctx.requested_model = summary.model
        ctx.stream = summary.stream
    return await _send_inward(request, caller, raw, summary)


for _path in API_BY_PATH:
    routes.add_api_route(_path, inference, methods=["POST"])


@routes.get("/v1/models")
@routes.get("/v1/usage")
async def lookup(request: Request, caller: Authenticated) -> Response:
    return await _send_inward(request, caller, None, None)


@routes.get("/v1/models/{model_id:path}")
async def model(model_id: str, request: Request, caller: Authenticated) -> Response:
    if not model_id:  # /v1/models/ names no model
        raise trailing_slash(request.method, request.scope["path"])
    return await _send_inward(request, caller, None, None)


@routes.get("/v1/responses/{response_id}")
@routes.delete("/v1/responses/{response_id}")
@routes.post("/v1/responses/{response_id}/cancel")
@routes.get("/v1/responses/{response_id}/input_items")
async def stored_response(response_id: str, caller: Authenticated) -> Response:
    """Nothing is stored to read, delete or cancel (the gateway is stateless)."""
    raise GatewayError(
        f"No response with id '{response_id[:100]}' is stored: the gateway is stateless and "
        "keeps no responses (store is accepted, nothing is kept). Send the whole "
        "conversation as 'input' on every request.",
        status=404,
        param="response_id",
        code="response_not_found",
    )
