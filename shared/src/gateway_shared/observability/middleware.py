"""The request observer every tier installs: a pure ASGI middleware.

Per HTTP request it makes a :class:`RequestContext` current, starts the tier's server
span (tracing on), counts the request in flight, and when the last byte of the response
has been sent it records the latency histogram (with the trace id as exemplar), counts
an error by its OpenAI type and code, ends the span and writes the request's log line.

At edge, the public tier, it adds ``x-gateway-overhead-ms`` to the response's headers:
its time to this first byte minus the provider time the router reported (which edge's
handler copied into the context), and records it. What the tiers tell each other is
``gateway_shared.wire``'s, never this middleware's.

It touches a streamed body only to notice its last chunk. It is not Starlette's
``BaseHTTPMiddleware``, which buffers and slows streams.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_shared.observability import labels
from gateway_shared.observability.context import RequestContext, _current
from gateway_shared.observability.logs import access_logger, write_access_line
from gateway_shared.observability.tracing import (
    attach_span,
    detach,
    trace_id_from_header,
    trace_id_of,
)
from gateway_shared.wire.headers import OVERHEAD_MS

if TYPE_CHECKING:
    from gateway_shared.observability import Observability

# Probes and scrapes are measured, but neither traced nor logged.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# The status recorded for a request whose client left before any response (nginx's).
CLIENT_CLOSED = 499
# Longest raw path and requested model name written to a log line.
_MAX_LOGGED = 200

_OVERHEAD_MS = OVERHEAD_MS.encode()


@dataclass(slots=True)
class _Response:
    """What the middleware learns about one response, filled in as it goes."""

    status: int = 0
    error_body: list[bytes] | None = None
    error_size: int = 0
    overhead: float | None = None
    first_chunk: float | None = None  # seconds from arrival, for streams at edge
    finished: bool = False
    # Set when it ends:
    seconds: float = 0.0
    route: str = labels.UNMATCHED
    method: str = ""
    error_type: str | None = None
    code: str | None = None
    exc: BaseException | None = None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, obs: Observability) -> None:
        self.app = app
        self.http = obs.http
        self.tracing = obs.tracing
        self.public = obs.public
        self.service = obs.tier
        self.access = access_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = RequestContext(time.perf_counter())
        # A tier that names its requests (edge) does it before this runs.
        ctx.request_id = scope.get("state", {}).get("request_id")
        ctx_token = _current.set(ctx)
        span: Span | None = None
        span_token = None
        if self.tracing.enabled and scope["path"] not in QUIET_ROUTES:
            span = self.tracing.tracer.start_span(
                scope["method"],
                context=self.tracing.extract(scope["headers"]),
                kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": labels.method(scope["method"]),
                    "url.path": scope["path"],
                    "url.scheme": scope.get("scheme", "http"),
                },
            )
            span_token = attach_span(span)
        response = _Response()
        self.http.in_flight.inc()

        async def observed_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                response.status = message["status"]
                if response.status >= 400:
                    response.error_body = []
                if self.public:
                    message = self._overhead(message, ctx, response)
            elif kind == "http.response.body":
                if ctx.stream and response.first_chunk is None and message.get("body"):
                    response.first_chunk = time.perf_counter() - ctx.started
                if response.error_body is not None:
                    chunk = message.get("body", b"")
                    response.error_size += len(chunk)
                    if response.error_size <= labels.MAX_ERROR_BODY:
                        response.error_body.append(chunk)
                if not message.get("more_body", False):
                    await send(message)
                    self._finish(scope, ctx, response, span, None)
                    return
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except BaseException as exc:
            if not response.finished:
                self._finish(scope, ctx, response, span, exc)
            raise
        finally:
            if not response.finished:
                self._finish(scope, ctx, response, span, None)
            self.http.in_flight.dec()
            if span_token is not None:
                detach(span_token)
            _current.reset(ctx_token)

    def _overhead(self, message: Message, ctx: RequestContext, response: _Response) -> Message:
        """Edge: the gateway's overhead to this first byte, for the client and the metric."""
        provider = ctx.provider_seconds
        overhead = max(time.perf_counter() - ctx.started - (provider or 0.0), 0.0)
        headers = [*message.get("headers", ()), (_OVERHEAD_MS, f"{overhead * 1000:.2f}".encode())]
        if provider is not None:
            response.overhead = overhead
        return {**message, "headers": headers}

    def _finish(
        self,
        scope: Scope,
        ctx: RequestContext,
        response: _Response,
        span: Span | None,
        exc: BaseException | None,
    ) -> None:
        response.finished = True
        response.exc = exc
        response.seconds = time.perf_counter() - ctx.started
        if not response.status:  # no response was started
            cancelled = isinstance(exc, asyncio.CancelledError)
            response.status = CLIENT_CLOSED if cancelled else 500
        status = response.status
        route = response.route = labels.route(scope)
        method = response.method = labels.method(scope["method"])
        status_class = labels.status_class(status)
        trace_id = trace_id_of(span) if span is not None else None
        model = ctx.model or labels.OTHER
        stream = "true" if ctx.stream else "false"
        self.http.observe((route, method, status_class, model, stream), response.seconds, trace_id)
        if response.overhead is not None:
            self.http.observe_overhead((route, model), response.overhead, trace_id)
        if response.first_chunk is not None and status < 400:
            self.http.observe_ttft((route, model), response.first_chunk, trace_id)
        if status >= 400:
            body = response.error_body
            if body and response.error_size <= labels.MAX_ERROR_BODY:
                response.error_type, response.code = labels.error_labels(b"".join(body))
            else:
                response.error_type, response.code = labels.OTHER, labels.OTHER
            self.http.error((route, status_class, response.error_type, response.code, model))
        if span is not None:
            _end_span(span, ctx, response)
        if route not in QUIET_ROUTES and self.access.isEnabledFor(logging.INFO):
            write_access_line(self.service, _log_fields(scope, ctx, response, span))


def _end_span(span: Span, ctx: RequestContext, response: _Response) -> None:
    route, status, exc = response.route, response.status, response.exc
    if route != labels.UNMATCHED:
        span.update_name(f"{response.method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if ctx.key_name:
        span.set_attribute("gateway.key.name", ctx.key_name)
    if ctx.model:
        span.set_attribute("gateway.model", ctx.model)
    if exc is not None and not isinstance(exc, asyncio.CancelledError):
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR)
    elif status >= 500:
        code = response.code
        span.set_attribute("error.type", code if code and code != labels.OTHER else str(status))
        span.set_status(StatusCode.ERROR)
    span.end()


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 3) if seconds is not None else None


def _log_fields(
    scope: Scope, ctx: RequestContext, response: _Response, span: Span | None
) -> dict[str, Any]:
    """The request's log line (docs/observability.md): never the key, never a body."""
    fields: dict[str, Any] = {"method": scope["method"], "route": response.route}
    if response.route == labels.UNMATCHED:
        fields["path"] = scope["path"][:_MAX_LOGGED]
    fields["status"] = response.status
    fields["duration_ms"] = _ms(response.seconds)
    if span is not None:
        context = span.get_span_context()
        fields["trace_id"] = format(context.trace_id, "032x")
        fields["span_id"] = format(context.span_id, "016x")
    else:
        trace_id = trace_id_from_header(_header(scope, b"traceparent"))
        if trace_id:
            fields["trace_id"] = trace_id
    requested = ctx.requested_model
    optional = {
        "request_id": ctx.request_id,
        "key_name": ctx.key_name,
        "model": ctx.model,
        "requested_model": requested[:_MAX_LOGGED] if requested else None,
        "stream": ctx.stream or None,
        "prompt_tokens": ctx.prompt_tokens,
        "completion_tokens": ctx.completion_tokens,
        "provider_ms": _ms(ctx.provider_seconds),
        "overhead_ms": _ms(response.overhead),
        "deployment": ctx.deployment,
        "attempts": ctx.attempts or None,
        "outcome": ctx.outcome,
        "error_type": response.error_type,
        "error_code": response.code,
    }
    fields.update((k, v) for k, v in optional.items() if v is not None)
    return fields
