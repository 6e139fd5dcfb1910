"""The OpenTelemetry SDK's tracer provider exporting over OTLP/HTTP.

Imported only when tracing is on (``Tracing.from_env``): the SDK, the exporter and
protobuf are megabytes of memory in every tier that does not need them.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def _resource(service: str, environ: Mapping[str, str]) -> Resource:
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; the tier name is the default.
    named = environ.get("OTEL_SERVICE_NAME", "").strip() or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return Resource.create({} if named else {"service.name": service})


def otlp_provider(service: str, environ: Mapping[str, str]) -> TracerProvider:
    provider = TracerProvider(resource=_resource(service, environ))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
