"""Admission and settlement of requests against their key's plan, in Redis.

One request costs two round trips: ``admit`` before the call (skipped when the plan has
no limit at all) and ``settle`` after it, whatever the outcome; a response cache hit
one, ``admit_hit``. USD budgets ride in the same scripts as the token limits: they add
no round trip. Scripts are registered
once; redis-py calls them by SHA and re-loads them after a Redis restart (NOSCRIPT).
Settling is idempotent by request id (a marker kept ``marker_seconds``), so a settlement
whose answer was lost can be applied again (``policy.ledger``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway_shared.observability.redis_calls import RedisCalls
from gateway_shared.plans import Plan
from gateway_shared.prices import NANO_PER_USD
from gateway_shared.redis_client import RedisClient
from policy.limits.scripts import ADMIT, ADMIT_HIT, SETTLE
from policy.usage import DAY_TTL_SECONDS, MONTH_TTL_SECONDS, KeyLayout, utcnow


class Reason(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    TOKENS_TOO_LARGE = "tokens_too_large"
    CONCURRENCY = "concurrency"
    DAILY_QUOTA = "daily_quota"
    MONTHLY_QUOTA = "monthly_quota"
    DAILY_BUDGET = "daily_budget"
    MONTHLY_BUDGET = "monthly_budget"
    GROUP_DAILY_BUDGET = "group_daily_budget"
    GROUP_MONTHLY_BUDGET = "group_monthly_budget"


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    reason: Reason | None
    retry_after_ms: int  # -1: retrying will not help before the quota period ends
    requests_remaining: int  # -1: no such limit
    requests_reset_ms: int
    tokens_remaining: int
    tokens_reset_ms: int
    # Tokens this admission recorded in Redis, which settling must take back.
    reserved: int = 0
    # Nano-USD: the least left of the plan's budgets (-1: none); the cost reserved.
    budget_remaining: int = -1
    reserved_cost: int = 0


# Admitted without Redis: no limit to check (or Redis down in fail-open), nothing reserved.
UNLIMITED = Decision(True, None, 0, -1, 0, -1, 0)


def has_limits(plan: Plan) -> bool:
    return plan.has_budget or any(
        (plan.rpm, plan.tpm, plan.max_concurrent, plan.daily_tokens, plan.monthly_tokens)
    )


def nusd(usd: float | None) -> int:
    """A budget in nano-USD; 0 (no limit) when unset."""
    return round(usd * NANO_PER_USD) if usd else 0


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one finished request is charged: its real usage, against the day and month
    its reservation was made in."""

    key_id: str
    request_id: str
    model: str  # '' for a failed request: its reservation released, no usage
    reserved: int
    prompt_tokens: int
    completion_tokens: int
    admitted_at: datetime
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    # The key's budget group, the cost reserved at admission and the real cost (nano-USD;
    # None: unknown).
    group: str | None = None
    reserved_cost: int = 0
    cost: int | None = None


def _accounting_keys(layout: KeyLayout, now: datetime) -> list[str]:
    """SETTLE's KEYS, in order; ADMIT's are the rpm log and then these (see scripts)."""
    return [
        layout.tpm,
        layout.tpm_amounts,
        layout.tpm_sum,
        layout.inflight,
        layout.day(now),
        layout.month(now),
        layout.inflight_reserved,
        layout.inflight_cost,
        layout.group_day(now),
        layout.group_month(now),
    ]


def _decision(result: list[Any], estimate: int, cost: int = 0) -> Decision:
    """ADMIT's answer (ADMIT_HIT's has no budget_remaining: it spends no budget)."""
    admitted, reason, retry, req_left, req_reset, tok_left, tok_reset, *budget = result
    return Decision(
        admitted=bool(admitted),
        reason=Reason(reason.decode()) if reason else None,
        retry_after_ms=int(retry),
        requests_remaining=int(req_left),
        requests_reset_ms=int(req_reset),
        tokens_remaining=int(tok_left),
        tokens_reset_ms=int(tok_reset),
        reserved=estimate if admitted else 0,
        budget_remaining=int(budget[0]) if budget else -1,
        reserved_cost=cost if admitted else 0,
    )


class Limiter:
    def __init__(
        self,
        redis: RedisClient,
        window_seconds: float,
        lease_seconds: float,
        redis_calls: RedisCalls | None = None,
        marker_seconds: float = 3600,
    ) -> None:
        self._window_ms = int(window_seconds * 1000)
        self._lease_ms = int(lease_seconds * 1000)
        self._marker_seconds = max(1, int(marker_seconds))
        self._admit = redis.register_script(ADMIT)
        self._settle = redis.register_script(SETTLE)
        self._admit_hit = redis.register_script(ADMIT_HIT)
        self._calls = redis_calls

    def _observe(self, operation: str) -> AbstractContextManager[None]:
        return self._calls.observe(operation, "EVALSHA") if self._calls else nullcontext()

    async def admit(
        self, key_id: str, plan: Plan, request_id: str, estimate: int, cost: int = 0
    ) -> Decision:
        """``cost``: the most the request can cost, in nano-USD (0 with no budget)."""
        if not has_limits(plan):
            return UNLIMITED
        layout = KeyLayout(key_id, plan.budget_group)
        now = utcnow()
        with self._observe("admit"):
            result = await self._admit(
                keys=[layout.rpm, *_accounting_keys(layout, now)],
                args=[
                    request_id,
                    self._window_ms,
                    plan.rpm or 0,
                    plan.tpm or 0,
                    plan.max_concurrent or 0,
                    plan.daily_tokens or 0,
                    plan.monthly_tokens or 0,
                    estimate,
                    self._lease_ms,
                    DAY_TTL_SECONDS,
                    MONTH_TTL_SECONDS,
                    nusd(plan.daily_usd),
                    nusd(plan.monthly_usd),
                    nusd(plan.group_daily_usd),
                    nusd(plan.group_monthly_usd),
                    cost,
                    1 if plan.budget_group else 0,
                ],
            )
        return _decision(result, estimate, cost)

    async def admit_hit(self, key_id: str, plan: Plan, request_id: str, model: str) -> Decision:
        """A response cache hit: counted against ``rpm`` and as a hit of ``model``; no
        tokens reserved, nothing to settle."""
        layout = KeyLayout(key_id, plan.budget_group)
        now = utcnow()
        with self._observe("admit"):
            result = await self._admit_hit(
                keys=[layout.rpm, layout.day(now), layout.month(now)],
                args=[
                    request_id,
                    self._window_ms,
                    plan.rpm or 0,
                    model,
                    DAY_TTL_SECONDS,
                    MONTH_TTL_SECONDS,
                ],
            )
        return _decision(result, 0)

    async def settle(self, settlement: Settlement) -> tuple[int, int]:
        """Charge a settlement once, however often it is applied; returns the day's and
        the month's charged-plus-reserved totals."""
        s = settlement
        layout = KeyLayout(s.key_id, s.group)
        with self._observe("settle"):
            totals = await self._settle(
                keys=[*_accounting_keys(layout, s.admitted_at), layout.settled(s.request_id)],
                args=[
                    s.request_id,
                    s.reserved,
                    s.prompt_tokens,
                    s.completion_tokens,
                    s.model,
                    DAY_TTL_SECONDS,
                    MONTH_TTL_SECONDS,
                    s.cached_tokens,
                    s.reasoning_tokens,
                    self._marker_seconds,
                    s.reserved_cost,
                    -1 if s.cost is None else s.cost,
                    1 if s.group else 0,
                ],
            )
        return int(totals[0]), int(totals[1])
