"""Tracing follows the standard OTEL_* variables and propagates W3C trace context."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from gateway_shared.observability.tracing import (
    Tracing,
    attach_span,
    detach,
    trace_id_from_header,
    tracing_wanted,
)

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_ID = TRACEPARENT.split("-")[1]


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),  # no endpoint: tracing costs nothing
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        (ENDPOINT | {"OTEL_TRACES_EXPORTER": "none"}, False),
        (ENDPOINT | {"OTEL_SDK_DISABLED": "true"}, False),
        (ENDPOINT | {"OTEL_TRACES_EXPORTER": "console"}, False),
        (ENDPOINT | {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, False),
        (ENDPOINT | {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
    ],
)
def test_standard_variables_decide(environ: dict[str, str], wanted: bool) -> None:
    assert tracing_wanted(environ) is wanted


def test_off_it_passes_the_callers_context_on_unchanged() -> None:
    tracing = Tracing.from_env("edge", {})
    assert not tracing.enabled
    incoming = {"traceparent": TRACEPARENT, "tracestate": "a=1", "x-other": "no"}
    assert tracing.outgoing(incoming) == {"traceparent": TRACEPARENT, "tracestate": "a=1"}
    assert tracing.outgoing({}) == {}


def test_on_it_injects_its_own_span_as_the_parent() -> None:
    tracing = Tracing(TracerProvider())
    context = tracing.extract([(b"traceparent", TRACEPARENT.encode())])
    span = tracing.tracer.start_span("POST", context=context, kind=SpanKind.SERVER)
    token = attach_span(span)
    try:
        outgoing = tracing.outgoing({"traceparent": TRACEPARENT})
    finally:
        detach(token)
        span.end()
    _, trace_id, parent_id, flags = outgoing["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert parent_id == format(span.get_span_context().span_id, "016x") != "b7ad6b7169203331"
    assert flags == "01"


def test_service_name_defaults_to_the_tier_unless_configured() -> None:
    tracing = Tracing.from_env("policy", ENDPOINT)
    assert tracing.provider is not None
    assert tracing.provider.resource.attributes["service.name"] == "policy"
    tracing.shutdown()


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (TRACEPARENT, TRACE_ID),
        ("00-00000000000000000000000000000000-b7ad6b7169203331-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_trace_id_for_log_lines(header: str | None, trace_id: str | None) -> None:
    assert trace_id_from_header(header) == trace_id
