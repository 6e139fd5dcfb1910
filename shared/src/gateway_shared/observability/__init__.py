"""Metrics, traces and logs, the same way in every tier (docs/observability.md).

A tier builds one :class:`Observability` in its ``create_app`` and installs it::

    obs = Observability("policy")
    app = FastAPI(..., telemetry=NATIVE_TELEMETRY_OFF)
    obs.install(app)            # the request middleware and GET /metrics
    ...                         # obs.registry for the tier's own metrics
    obs.shutdown()              # end of the lifespan: flush queued spans

Handlers reach the current request's :class:`RequestContext` with
:func:`current_request` to report what they learn (model, key name, usage).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from prometheus_client import disable_created_metrics

from gateway_shared.observability.context import RequestContext, current_request
from gateway_shared.observability.logs import configure_logging
from gateway_shared.observability.metrics import HttpMetrics, metrics_endpoint, new_registry
from gateway_shared.observability.middleware import ObservabilityMiddleware
from gateway_shared.observability.tracing import Tracing

__all__ = [
    "NATIVE_TELEMETRY_OFF",
    "Observability",
    "RequestContext",
    "Tracing",
    "configure_logging",
    "current_request",
]

# FastAPI's own OpenTelemetry hooks stay off: the middleware here makes the server spans
# (one per request, whatever FastAPI finds configured globally) and the metrics.
NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class Observability:
    """One tier's registry, HTTP metrics and tracer.

    ``public``: the tier faces clients (edge): it reports the gateway's overhead to them
    rather than reporting inner details outward.
    """

    def __init__(self, tier: str, *, public: bool = False, tracing: Tracing | None = None) -> None:
        # Counters and histograms export no *_created series: half the series, no loss.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.tier = tier
        self.public = public
        self.registry = new_registry(tier)
        self.http = HttpMetrics(self.registry, public=public)
        self.tracing = tracing if tracing is not None else Tracing.from_env(tier)

    def install(self, app: FastAPI) -> None:
        app.add_middleware(ObservabilityMiddleware, obs=self)
        # An API route (not a plain one) so that it gets a route label like the others.
        app.add_api_route(
            "/metrics", metrics_endpoint(self.registry), methods=["GET"], include_in_schema=False
        )

    def shutdown(self) -> None:
        self.tracing.shutdown()
