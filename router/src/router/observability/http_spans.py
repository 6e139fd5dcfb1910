"""Client spans for outgoing HTTP calls (the router's calls to providers).

:class:`TracedTransport` wraps the pooled client's transport: each request gets an HTTP
client span, child of the current span, that lasts until its body is closed (a stream:
its end), and carries the span's context in ``traceparent`` so an upstream that traces
(vLLM can) continues the trace. Calls made outside any trace (health checks) get no
span. Installed only when tracing is on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _SpanClosingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, span: Span) -> None:
        self._inner = inner
        self._span = span
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            self._span.set_attribute("error.type", type(exc).__qualname__)
            self._span.set_status(StatusCode.ERROR)
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._ended:
                self._ended = True
                self._span.end()


class TracedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, tracer: Tracer) -> None:
        self._inner = inner
        self._tracer = tracer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not trace.get_current_span().get_span_context().is_valid:
            # Background calls (health checks) would each start a trace of their own.
            return await self._inner.handle_async_request(request)
        url = request.url
        span = self._tracer.start_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "server.port": url.port or _DEFAULT_PORTS.get(url.scheme, 0),
                # No query string: it is where credentials would hide.
                "url.full": str(url.copy_with(query=None, fragment=None)),
            },
        )
        _PROPAGATOR.inject(request.headers, context=trace.set_span_in_context(span))
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 400:
            span.set_attribute("error.type", str(response.status_code))
            span.set_status(StatusCode.ERROR)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _SpanClosingStream(response.stream, span)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
