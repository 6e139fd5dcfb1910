"""Names of the headers the tiers exchange, and which ones may cross which boundary."""

from __future__ import annotations

# Internal headers: only the gateway's tiers create them; edge drops any a client sends.
INTERNAL_PREFIX = "x-gateway-"
# The signed identity and request summary (edge → policy → router).
IDENTITY = "x-gateway-identity"
# Policy → router: what admission decided the router must apply (wire.admission).
ADMISSION = "x-gateway-admission"
# Router → policy → edge (wire.report): the catalog alias that served the request, the
# milliseconds spent on providers, and (whole answers) the tokens used.
MODEL = "x-gateway-model"
PROVIDER_MS = "x-gateway-provider-ms"
USAGE = "x-gateway-usage"
PRICES = "x-gateway-prices"
# Public, set by policy: what the request cost (non-streamed answers; "unknown" when
# unpriced), and what remains of the tightest USD budget the key is under.
COST_USD = "x-gateway-cost-usd"
BUDGET_REMAINING_USD = "x-gateway-budget-remaining-usd"
# Public: what the gateway itself added to the answer's latency, set by edge.
OVERHEAD_MS = "x-gateway-overhead-ms"
# Public, set by policy on plans with a response cache: hit, miss or bypass.
CACHE = "x-gateway-cache"

REQUEST_ID = "x-request-id"

# Request headers edge forwards inward (everything else a client sends stays at edge):
# and Anthropic's betas, which a deployment serving the Messages API itself needs; and
# the client's cache control, which policy's response cache obeys.
ANTHROPIC_BETA = "anthropic-beta"
CACHE_CONTROL = "cache-control"
FORWARD_REQUEST = ("content-type", "accept", ANTHROPIC_BETA, CACHE_CONTROL)
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
    # The same limits under the names Anthropic's clients read (the Messages routes).
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-tokens-remaining",
    "anthropic-ratelimit-tokens-reset",
    COST_USD,
    BUDGET_REMAINING_USD,
    CACHE,
    REQUEST_ID,
)
# What policy returns to edge beside them: the router's report.
REPORT = (MODEL, PROVIDER_MS, USAGE, PRICES)
