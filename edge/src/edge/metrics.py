"""Edge's own metrics, beside the shared HTTP and Redis ones."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

# How a key was found: in the replica's cache, in Redis, or not at all.
LOOKUP_RESULTS = ("cache", "redis", "unknown", "error")
KEY_LOOKUPS = "gateway_edge_key_lookups"


class EdgeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        lookups = Counter(
            KEY_LOOKUPS,
            "API key checks by result: cache (this replica's cache), redis (found in "
            "Redis), unknown (no such active key), error (Redis unavailable).",
            ("result",),
            registry=registry,
        )
        self.key_lookups = {result: lookups.labels(result) for result in LOOKUP_RESULTS}
