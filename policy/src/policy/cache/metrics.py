"""The cache's metrics, per model: the catalog alias that served the answer (from the
router's report, or the entry's for a hit), ``other`` when unknown - bounded by the
catalog, never by clients."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from gateway_shared.observability.labels import OTHER

REQUESTS = "gateway_cache_requests"
STORED_BYTES = "gateway_cache_stored_bytes"


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            REQUESTS,
            "Requests of keys whose plan has a response cache, by outcome (hit: answered "
            "from the cache; miss: asked the provider; bypass: the caller sent no-store) "
            "and model.",
            ("outcome", "model"),
            registry=registry,
        )
        self.stored_bytes = Counter(
            STORED_BYTES,
            "Bytes of answers written to the response cache, by model.",
            ("model",),
            registry=registry,
        )

    def outcome(self, outcome: str, model: str | None) -> None:
        self.requests.labels(outcome, model or OTHER).inc()

    def stored(self, model: str | None, size: int) -> None:
        self.stored_bytes.labels(model or OTHER).inc(size)
