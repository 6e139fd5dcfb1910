"""Names of the headers the tiers exchange, and which ones may cross which boundary."""

from __future__ import annotations

# Internal headers: only edge creates them; edge drops any a client sends.
INTERNAL_PREFIX = "x-gateway-"
IDENTITY = "x-gateway-identity"
# Tokens used by a finished non-streaming call, reported by router to policy.
USAGE = "x-gateway-usage"

# What the inner tiers report outward with each answer (observability; docs/observability.md).
# Router sets them, policy passes them on, edge consumes them; none reaches a client.
# The catalog alias that served the request: the only value the `model` metric label takes.
MODEL = "x-gateway-model"
# Milliseconds the router spent on providers (all attempts, to the answer or first token).
PROVIDER_MS = "x-gateway-provider-ms"
# Public: what the gateway itself added to the answer's latency, set by edge.
OVERHEAD_MS = "x-gateway-overhead-ms"

REQUEST_ID = "x-request-id"

# Request headers edge forwards inward (everything else a client sends stays at edge).
FORWARD_REQUEST = ("content-type", "accept")
# W3C trace context. Each tier injects its own server span's context into the requests it
# sends; with tracing off, the caller's headers are passed on as they came.
TRACE_CONTEXT = ("traceparent", "tracestate")

# Response headers that travel back out to the client from the inner tiers.
RETURN_RESPONSE = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "retry-after",
    "retry-after-ms",
    "x-request-id",
)
