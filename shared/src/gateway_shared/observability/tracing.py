"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` variables.

Tracing is on when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), unless ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none``. Spans are batched and exported over OTLP/HTTP (protobuf);
the SDK reads the rest (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_*``). Off, no span is
ever created: the middleware checks :attr:`Tracing.enabled` once per request and that
is the whole cost.

Propagation is W3C trace context either way. Each tier extracts the caller's
``traceparent`` (a client's is honoured at edge) and injects its own server span's
context into the requests it sends inward; with tracing off, the caller's headers are
passed on unchanged so a tier further in that traces still joins the client's trace.

Prompts and completions are never put on spans unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from contextvars import Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway_shared.wire.headers import TRACE_CONTEXT

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("gateway.tracing")

_PROPAGATOR = TraceContextTextMapPropagator()
_SUPPORTED_PROTOCOL = "http/protobuf"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def _env(name: str, environ: Mapping[str, str]) -> str:
    return environ.get(name, "").strip()


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces exported over OTLP/HTTP."""
    if _env("OTEL_SDK_DISABLED", environ).lower() == "true":
        return False
    exporters = {
        e.strip().lower() for e in (_env("OTEL_TRACES_EXPORTER", environ) or "otlp").split(",")
    }
    if "none" in exporters or "otlp" not in exporters:
        if exporters - {"none", "otlp"}:
            log.warning(
                "OTEL_TRACES_EXPORTER=%s: only otlp is supported; tracing is off", exporters
            )
        return False
    if not (
        _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", environ)
        or _env("OTEL_EXPORTER_OTLP_ENDPOINT", environ)
    ):
        return False
    protocol = _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ) or _env(
        "OTEL_EXPORTER_OTLP_PROTOCOL", environ
    )
    if protocol and protocol != _SUPPORTED_PROTOCOL:
        log.warning(
            "OTLP protocol %r is not supported (only http/protobuf): tracing is off", protocol
        )
        return False
    return True


@dataclass
class Tracing:
    """A tier's tracer, or nothing at all when tracing is off."""

    provider: TracerProvider | None = None
    capture_content: bool = False
    tracer: Tracer = field(init=False)

    def __post_init__(self) -> None:
        if self.provider is not None:
            self.tracer = self.provider.get_tracer("gateway")
        else:
            self.tracer = trace.NoOpTracer()

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Tracing:
        environ = os.environ if environ is None else environ
        capture = _env(CAPTURE_CONTENT_ENV, environ).lower() == "true"
        if not tracing_wanted(environ):
            return cls(None, capture)
        # The SDK and the OTLP exporter are megabytes per process: loaded only when used.
        from gateway_shared.observability.exporter import otlp_provider  # noqa: PLC0415

        return cls(otlp_provider(service, environ), capture)

    # -- propagation -----------------------------------------------------------------

    @staticmethod
    def extract(raw_headers: Iterable[tuple[bytes, bytes]]) -> Context:
        """The caller's trace context from an ASGI request's headers."""
        carrier = {}
        for name, value in raw_headers:
            if name in (b"traceparent", b"tracestate"):
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return _PROPAGATOR.extract(carrier) if carrier else Context()

    def outgoing(self, incoming: Mapping[str, str]) -> dict[str, str]:
        """Trace headers for a request sent on behalf of the current one."""
        if self.enabled:
            headers: dict[str, str] = {}
            _PROPAGATOR.inject(headers)
            return headers
        return {name: incoming[name] for name in TRACE_CONTEXT if name in incoming}

    def shutdown(self) -> None:
        """Flush spans still queued and stop the exporter (end of the lifespan)."""
        if self.provider is not None:
            self.provider.shutdown()


def trace_id_of(span: Span) -> str | None:
    """The span's trace id as 32 hex digits, if the span is being recorded."""
    if not span.is_recording():
        return None
    return format(span.get_span_context().trace_id, "032x")


def trace_id_from_header(traceparent: str | None) -> str | None:
    """The trace id of a raw ``traceparent`` (for log lines when tracing is off)."""
    if traceparent and len(traceparent) >= 55 and traceparent[2] == "-":
        trace_id = traceparent[3:35]
        if trace_id != "0" * 32:
            return trace_id
    return None


def attach_span(span: Span) -> Token[Context]:
    """Make ``span`` current; returns the token for :func:`detach`."""
    return otel_context.attach(trace.set_span_in_context(span))


def detach(token: Token[Context]) -> None:
    otel_context.detach(token)
