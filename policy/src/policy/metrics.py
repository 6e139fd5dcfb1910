"""Policy's own metrics: rejections, token usage and quota saturation, per key.

``key_name`` comes only from the caller's verified identity (edge looked the key up in
the registry), ``model`` only from the router's report of the catalog alias that served
the request (``other`` otherwise): both are bounded by configuration, not by clients.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway_shared.observability.labels import OTHER
from gateway_shared.plans import Plan
from gateway_shared.prices import NANO_PER_USD
from gateway_shared.wire.report import Usage
from policy.limits.limiter import Reason

# Refused without a decision: Redis down and the failure mode is "closed".
LIMITER_UNAVAILABLE = "limiter_unavailable"
# Why a settlement was not kept for replay (policy.ledger).
SETTLEMENT_LOST_REASONS = ("queue_full", "expired", "shutdown")

REJECTIONS = "gateway_ratelimit_rejections"
TOKENS = "gateway_tokens"
QUOTA_USED = "gateway_quota_used_ratio"
UNMETERED = "gateway_policy_unmetered_requests"
COST = "gateway_cost_usd"
UNPRICED = "gateway_unpriced_requests"
COUNTERS_STARTED = "gateway_usage_counters_start_timestamp_seconds"


class PolicyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejections = Counter(
            REJECTIONS,
            "Requests refused by a key's limits, by reason (requests, tokens, "
            "tokens_too_large, concurrency, daily_quota, monthly_quota, "
            "limiter_unavailable) and key name.",
            ("reason", "key_name"),
            registry=registry,
        )
        self.tokens = Counter(
            TOKENS,
            "Tokens charged to keys (the provider's count; an estimate for a stream cut "
            "short), by token type (input, output; and, of those, cached_input read from "
            "the provider's prompt cache and reasoning), model and key name.",
            ("token_type", "model", "key_name"),
            registry=registry,
        )
        self.quota_used = Gauge(
            QUOTA_USED,
            "Share of a key's daily or monthly token quota used (charged plus reserved) as "
            "of its last settled request; 1 is exhausted.",
            ("key_name", "period"),
            registry=registry,
        )
        self.unmetered = Counter(
            UNMETERED,
            "Requests admitted without a limit check because Redis was unavailable "
            "(POLICY_REDIS_FAILURE_MODE=open).",
            registry=registry,
        )
        self.unmetered.inc(0)
        self.cost = Counter(
            COST,
            "USD charged for requests, by model alias (requests of unknown cost not "
            "included: see gateway_unpriced_requests).",
            ("model",),
            registry=registry,
        )
        self.unpriced = Counter(
            UNPRICED,
            "Requests whose cost is unknown (a deployment without prices), by model alias.",
            ("model",),
            registry=registry,
        )
        self.counters_started = Gauge(
            COUNTERS_STARTED,
            "When the usage, quota and budget counters in Redis started (unix time): "
            "Redis is ephemeral, and a start inside a day or month means that period's "
            "counters restarted from zero.",
            registry=registry,
        )
        self.settlements_kept = Gauge(
            "gateway_policy_settlements_kept",
            "Settlements that failed for want of Redis, kept in this process for replay.",
            registry=registry,
        )
        self.settlements_replayed = Counter(
            "gateway_policy_settlements_replayed",
            "Kept settlements applied once Redis answered again.",
            registry=registry,
        )
        self.settlements_replayed.inc(0)
        self.settlements_lost = Counter(
            "gateway_policy_settlements_lost",
            "Settlements that could not be kept for replay, by reason (queue_full, expired, "
            "shutdown): their usage is missing from the key's totals.",
            ("reason",),
            registry=registry,
        )
        for reason in SETTLEMENT_LOST_REASONS:
            self.settlements_lost.labels(reason)
        self._tokens: dict[tuple[str, str, str], Counter] = {}

    def rejected(self, reason: Reason | str, key_name: str) -> None:
        self.rejections.labels(str(reason), key_name).inc()

    def charged(self, key_name: str, model: str | None, usage: Usage, cost: int | None) -> None:
        label = model or OTHER
        if cost is None:
            self.unpriced.labels(label).inc()
        else:
            self.cost.labels(label).inc(cost / NANO_PER_USD)
        for token_type, count in (
            ("input", usage.prompt_tokens),
            ("output", usage.completion_tokens),
            ("cached_input", usage.cached_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if count:
                self._token_counter(token_type, label, key_name).inc(count)

    def _token_counter(self, token_type: str, model: str, key_name: str) -> Counter:
        key = (token_type, model, key_name)
        child = self._tokens.get(key)
        if child is None:
            child = self._tokens[key] = self.tokens.labels(*key)
        return child

    def quota(self, key_name: str, plan: Plan, day_tokens: int, month_tokens: int) -> None:
        if plan.daily_tokens:
            self.quota_used.labels(key_name, "daily").set(day_tokens / plan.daily_tokens)
        if plan.monthly_tokens:
            self.quota_used.labels(key_name, "monthly").set(month_tokens / plan.monthly_tokens)
