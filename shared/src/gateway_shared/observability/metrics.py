"""Prometheus metrics every tier exports, and the ``/metrics`` endpoint.

One registry per app (built in ``create_app``, never at import), holding the process
collectors, ``gateway_build_info`` and the HTTP metrics the middleware records. Label
children are resolved once per label combination and kept, so recording a request costs
a dictionary look-up and one observation. Latency histograms carry the trace id as an
exemplar when the request is traced; exemplars are served in the OpenMetrics format,
which ``/metrics`` answers when the scraper asks for it (Prometheus does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

# Whole requests: from a 1 ms model lookup to a 5-minute generation.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
# What the gateway adds: the SLO is about the low buckets (docs/observability.md).
OVERHEAD_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
# From the request (or provider call) to the first token: a cache hit to a long prefill.
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
REDIS_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
)  # fmt: skip

# Metric names, as dashboards and rules refer to them (gateway_cli.dashboards imports them).
BUILD_INFO = "gateway_build_info"
HTTP_REQUEST_DURATION = "gateway_http_request_duration_seconds"
HTTP_IN_FLIGHT = "gateway_http_requests_in_flight"
HTTP_ERRORS = "gateway_http_errors"
OVERHEAD = "gateway_overhead_seconds"
CLIENT_TTFT = "gateway_time_to_first_token_seconds"

HistogramChild = Histogram  # what ``Histogram.labels(...)`` returns


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def new_registry(tier: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    info = Gauge(
        BUILD_INFO,
        "Always 1: the tier and version of the process.",
        ("tier", "version"),
        registry=registry,
    )
    info.labels(tier, _version(tier)).set(1)
    return registry


def trace_exemplar(trace_id: str | None) -> dict[str, str] | None:
    return {"trace_id": trace_id} if trace_id else None


class HttpMetrics:
    """The request metrics of one tier (recorded by the middleware)."""

    def __init__(self, registry: CollectorRegistry, *, public: bool) -> None:
        self.duration = Histogram(
            HTTP_REQUEST_DURATION,
            "Requests from arrival to the last byte of the response, by route template, "
            "method, status class, model (catalog alias or 'other') and whether the client "
            "asked for a stream (streams last until their last token). Its _count is the "
            "request counter.",
            ("route", "method", "status_class", "model", "stream"),
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.in_flight = Gauge(
            HTTP_IN_FLIGHT,
            "Requests being handled now (streams until their last byte).",
            registry=registry,
        )
        self.errors = Counter(
            HTTP_ERRORS,
            "Error responses (status >= 400) by route template, status class, the "
            "OpenAI error type and code of their body, and model ('other' when refused "
            "before the router resolved one).",
            ("route", "status_class", "error_type", "code", "model"),
            registry=registry,
        )
        # Edge only: what the gateway added to what the providers took.
        self.overhead = (
            Histogram(
                OVERHEAD,
                "Gateway-added latency: time to the response's first byte at edge minus "
                "the router's provider time (all attempts, to the answer or first token).",
                ("route", "model"),
                buckets=OVERHEAD_BUCKETS,
                unit="seconds",
                registry=registry,
            )
            if public
            else None
        )
        # Edge only: streams as their clients see them.
        self.ttft = (
            Histogram(
                CLIENT_TTFT,
                "Streamed requests at edge, from arrival to the first chunk of the answer "
                "(the time to first token a client sees), by route template and model.",
                ("route", "model"),
                buckets=TTFT_BUCKETS,
                unit="seconds",
                registry=registry,
            )
            if public
            else None
        )
        self._durations: dict[tuple[str, ...], HistogramChild] = {}
        self._errors: dict[tuple[str, ...], Counter] = {}
        self._overheads: dict[tuple[str, str], HistogramChild] = {}
        self._ttfts: dict[tuple[str, str], HistogramChild] = {}

    def observe(
        self, labels: tuple[str, str, str, str, str], seconds: float, trace_id: str | None
    ) -> None:
        child = self._durations.get(labels)
        if child is None:
            child = self._durations[labels] = self.duration.labels(*labels)
        child.observe(seconds, trace_exemplar(trace_id))

    def error(self, labels: tuple[str, str, str, str, str]) -> None:
        child = self._errors.get(labels)
        if child is None:
            child = self._errors[labels] = self.errors.labels(*labels)
        child.inc()

    def observe_overhead(
        self, labels: tuple[str, str], seconds: float, trace_id: str | None
    ) -> None:
        if self.overhead is None:
            return
        child = self._overheads.get(labels)
        if child is None:
            child = self._overheads[labels] = self.overhead.labels(*labels)
        child.observe(max(seconds, 0.0), trace_exemplar(trace_id))

    def observe_ttft(self, labels: tuple[str, str], seconds: float, trace_id: str | None) -> None:
        if self.ttft is None:
            return
        child = self._ttfts.get(labels)
        if child is None:
            child = self._ttfts[labels] = self.ttft.labels(*labels)
        child.observe(seconds, trace_exemplar(trace_id))


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: OpenMetrics (with exemplars) when asked for, else the text format."""

    async def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), headers={"content-type": content_type})

    return metrics
