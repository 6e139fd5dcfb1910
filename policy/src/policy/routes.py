"""Policy's routes: admit, forward to the router, settle; the models list; a key's usage.

Policy never parses an inference body for admission: edge's signed summary says what it
needs, and the body goes to the router byte for byte. Only a plan with a response cache
has its bodies parsed, for the cache's key (``policy.cache``).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.responses import Response

from gateway_shared.errors import GatewayError, model_not_found
from gateway_shared.hop import (
    HopError,
    HopResponse,
    abandon,
    body_response,
    inward_path,
    is_event_stream,
    read_body,
    relay,
    returned_headers,
    stream_response,
)
from gateway_shared.observability import current_request
from gateway_shared.prices import NANO_PER_USD
from gateway_shared.wire import headers as h
from gateway_shared.wire.identity import GENERATING_PATHS, Api
from gateway_shared.wire.report import Report
from policy.accounting import Ticket, cost_text, metered_stream
from policy.cache.lookup import look_up
from policy.deps import Vouch
from policy.limits.limiter import nusd
from policy.rejections import rate_limit_headers
from policy.usage import read_usage

_FORWARD = (*h.FORWARD_REQUEST, h.IDENTITY, h.REQUEST_ID)

routes = APIRouter()


def _inward(request: Request) -> dict[str, str]:
    headers = {n: request.headers[n] for n in _FORWARD if n in request.headers}
    headers.update(request.app.state.obs.tracing.outgoing(request.headers))
    return headers


def _unavailable() -> GatewayError:
    return GatewayError(
        "The gateway could not reach its router service. Please retry shortly.",
        status=503,
        code="upstream_unavailable",
    )


async def inference(request: Request, vouch: Vouch) -> Response:
    identity, services, summary = vouch.identity, vouch.services, vouch.summary
    anthropic = summary.api is Api.MESSAGES
    body = await request.body()
    lookup = None
    if services.cache is not None and identity.plan.cache is not None:
        services.admission.check(identity, summary)  # nothing replayed the plan disallows
        lookup = await look_up(services.cache, identity, summary, body, request.headers)
        if lookup is not None and lookup.entry is not None:
            decision = await services.admission.admit_hit(identity, summary)
            return lookup.hit(rate_limit_headers(identity.plan, decision, anthropic=anthropic))
    ticket, decision, admitted = await services.admission.admit(identity, summary)
    ctx = current_request()
    if ctx is not None:
        ticket.on_charged = lambda usage: ctx.set_tokens(
            usage.prompt_tokens, usage.completion_tokens
        )
    try:
        upstream = await services.router.send(
            "POST",
            inward_path(request),
            headers=_inward(request) | admitted.headers(),
            body=body,
        )
    except HopError:
        await ticket.release()
        raise _unavailable() from None
    report = Report.from_headers(upstream.headers)
    ticket.label = report.model
    ticket.prices = report.prices
    if ctx is not None:
        ctx.take_report(report)
    headers = returned_headers(upstream.headers, report=True)
    headers |= rate_limit_headers(identity.plan, decision, anthropic=anthropic)
    content_type = upstream.headers.get("content-type", "")
    if lookup is not None:
        headers[h.CACHE] = lookup.outcome
    if is_event_stream(upstream):
        chunks = metered_stream(upstream, ticket, summary.api)
        if lookup is not None:
            chunks = lookup.recorded(chunks, content_type, report.model)
        # The background task covers a client gone before the stream started: it drops
        # the router's stream and settles with the estimate.
        return stream_response(upstream, chunks, headers, _abandoned(upstream, ticket))
    try:
        content = await read_body(upstream)
    except HopError:
        await ticket.release()
        raise _unavailable() from None
    await ticket.settle_answer(upstream.status, report)
    if upstream.status < 400:
        headers[h.COST_USD] = cost_text(ticket.cost)
    if lookup is not None:
        await lookup.whole(upstream.status, content, content_type, report.model)
    return body_response(upstream, content, headers)


for _path in GENERATING_PATHS:
    routes.add_api_route(_path, inference, methods=["POST"])


def _abandoned(upstream: HopResponse, ticket: Ticket) -> BackgroundTask:
    async def abandoned() -> None:
        await abandon(upstream)
        await ticket.settle_estimated()

    return BackgroundTask(abandoned)


@routes.post("/v1/messages/count_tokens")
async def count_tokens(request: Request, vouch: Vouch) -> Response:
    """Counting reserves and charges nothing (Anthropic's is free, with limits of its
    own): only the model is checked against the plan."""
    if not vouch.identity.plan.allows_model(vouch.summary.model):
        raise model_not_found(vouch.summary.model)
    try:
        upstream = await vouch.services.router.send(
            "POST", inward_path(request), headers=_inward(request), body=await request.body()
        )
    except HopError:
        raise _unavailable() from None
    return await relay(upstream, returned_headers(upstream.headers, report=True))


@routes.get("/v1/models")
@routes.get("/v1/models/{model_id:path}")
async def models(request: Request, vouch: Vouch) -> Response:
    try:
        upstream = await vouch.services.router.send(
            "GET", inward_path(request), headers=_inward(request)
        )
    except HopError:
        raise _unavailable() from None
    return await relay(upstream, returned_headers(upstream.headers, report=True))


@routes.get("/v1/usage")
async def usage(vouch: Vouch) -> Response:
    """The calling key's own usage: the key comes from its identity, never a parameter."""
    identity, services = vouch.identity, vouch.services
    try:
        periods = await read_usage(services.redis, identity.key_id, identity.plan.budget_group)
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
    for name, limit, where in (
        ("daily_usd", plan.daily_usd, periods["day"]),
        ("monthly_usd", plan.monthly_usd, periods["month"]),
        ("group_daily_usd", plan.group_daily_usd, periods.get("budget_group", {}).get("day")),
        (
            "group_monthly_usd",
            plan.group_monthly_usd,
            periods.get("budget_group", {}).get("month"),
        ),
    ):
        if limit and where is not None:
            left = max(0, nusd(limit) - where["charged_and_reserved_nusd"])
            remaining[name] = left / NANO_PER_USD
    document = {
        "object": "usage",
        "key": {"id": identity.key_id, "name": identity.key_name},
        **periods,
        "limits": plan.model_dump(exclude_none=True),
        "remaining": remaining,
    }
    return Response(orjson.dumps(document), media_type="application/json")
