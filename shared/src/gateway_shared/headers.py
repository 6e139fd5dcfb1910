"""Names of the headers the tiers exchange, and which ones may cross which boundary."""

from __future__ import annotations

# Internal headers: only edge creates them; edge drops any a client sends.
INTERNAL_PREFIX = "x-gateway-"
IDENTITY = "x-gateway-identity"
# Tokens used by a finished non-streaming call, reported by router to policy.
USAGE = "x-gateway-usage"

REQUEST_ID = "x-request-id"

# Request headers edge forwards inward (everything else a client sends stays at edge).
FORWARD_REQUEST = ("content-type", "accept", "traceparent", "tracestate")

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
