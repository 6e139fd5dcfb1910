"""What clients see of the limits: OpenAI's rate-limit headers and 429 errors, and the
gateway's own budget header."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from gateway_shared.errors import GatewayError
from gateway_shared.plans import Plan
from gateway_shared.prices import format_usd
from gateway_shared.wire import headers as h
from policy.limits.limiter import Decision, Reason
from policy.usage import utcnow


def duration(ms: int) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    minutes, rest = divmod(ms, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _at(ms: int) -> str:
    """Anthropic's reset format: the moment, in RFC 3339."""
    return (utcnow() + timedelta(milliseconds=max(ms, 0))).isoformat(timespec="seconds")


def rate_limit_headers(
    plan: Plan, decision: Decision, *, anthropic: bool = False
) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers for the plan's per-minute limits; with
    ``anthropic``, the same under the ``anthropic-ratelimit-*`` names its clients read."""
    headers = {}
    if plan.rpm:
        remaining = str(max(decision.requests_remaining, 0))
        headers["x-ratelimit-limit-requests"] = str(plan.rpm)
        headers["x-ratelimit-remaining-requests"] = remaining
        headers["x-ratelimit-reset-requests"] = duration(decision.requests_reset_ms)
        if anthropic:
            headers["anthropic-ratelimit-requests-limit"] = str(plan.rpm)
            headers["anthropic-ratelimit-requests-remaining"] = remaining
            headers["anthropic-ratelimit-requests-reset"] = _at(decision.requests_reset_ms)
    if plan.tpm:
        remaining = str(max(decision.tokens_remaining, 0))
        headers["x-ratelimit-limit-tokens"] = str(plan.tpm)
        headers["x-ratelimit-remaining-tokens"] = remaining
        headers["x-ratelimit-reset-tokens"] = duration(decision.tokens_reset_ms)
        if anthropic:
            headers["anthropic-ratelimit-tokens-limit"] = str(plan.tpm)
            headers["anthropic-ratelimit-tokens-remaining"] = remaining
            headers["anthropic-ratelimit-tokens-reset"] = _at(decision.tokens_reset_ms)
    if plan.has_budget and decision.budget_remaining >= 0:
        headers[h.BUDGET_REMAINING_USD] = format_usd(decision.budget_remaining)
    return headers


_DAILY = (Reason.DAILY_QUOTA, Reason.DAILY_BUDGET, Reason.GROUP_DAILY_BUDGET)
_BUDGETS = {
    Reason.DAILY_BUDGET: ("daily", False),
    Reason.MONTHLY_BUDGET: ("monthly", False),
    Reason.GROUP_DAILY_BUDGET: ("daily", True),
    Reason.GROUP_MONTHLY_BUDGET: ("monthly", True),
}


def _budget_limit(plan: Plan, reason: Reason) -> float | None:
    return {
        Reason.DAILY_BUDGET: plan.daily_usd,
        Reason.MONTHLY_BUDGET: plan.monthly_usd,
        Reason.GROUP_DAILY_BUDGET: plan.group_daily_usd,
        Reason.GROUP_MONTHLY_BUDGET: plan.group_monthly_usd,
    }[reason]


def _seconds_until_next_period(reason: Reason, now: datetime) -> int:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if reason in _DAILY:
        reset = day + timedelta(days=1)
    else:
        reset = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return math.ceil((reset - now).total_seconds())


def _until(period: str) -> str:
    return "00:00 UTC" + (" on the first of the month" if period == "monthly" else "")


def rejection(
    plan: Plan, decision: Decision, estimate: int, cost: int = 0, *, anthropic: bool = False
) -> GatewayError:
    reason = decision.reason
    assert reason is not None
    headers = rate_limit_headers(plan, decision, anthropic=anthropic)
    if reason in _BUDGETS:
        period, of_group = _BUDGETS[reason]
        headers["retry-after"] = str(_seconds_until_next_period(reason, utcnow()))
        whose = f"budget group '{plan.budget_group}'" if of_group else "this key"
        return GatewayError(
            f"This request could cost up to ${format_usd(cost)}, more than remains of "
            f"{whose}'s {period} budget of ${_budget_limit(plan, reason)} "
            f"(${format_usd(max(decision.budget_remaining, 0))} left). Send a smaller "
            f"max_tokens or a shorter prompt, or wait: the budget resets at {_until(period)}.",
            status=429,
            type_="insufficient_quota",
            code="insufficient_quota",
            headers=headers,
        )
    if reason in (Reason.DAILY_QUOTA, Reason.MONTHLY_QUOTA):
        period = "daily" if reason is Reason.DAILY_QUOTA else "monthly"
        limit = plan.daily_tokens if reason is Reason.DAILY_QUOTA else plan.monthly_tokens
        headers["retry-after"] = str(_seconds_until_next_period(reason, utcnow()))
        return GatewayError(
            f"This request needs up to {estimate} tokens, more than remains of this key's "
            f"{period} token quota ({limit} tokens). Send a smaller max_tokens or a shorter "
            "prompt, or wait: the quota resets at 00:00 UTC"
            + (" on the first of the month." if period == "monthly" else "."),
            status=429,
            type_="insufficient_quota",
            code="insufficient_quota",
            headers=headers,
        )
    if reason is Reason.TOKENS_TOO_LARGE:
        return GatewayError(
            f"Request too large: it needs up to {estimate} tokens but this key's limit is "
            f"{plan.tpm} tokens per minute. Send a shorter prompt or a smaller max_tokens.",
            status=429,
            code="rate_limit_exceeded",
            headers=headers,
        )
    wait_ms = max(decision.retry_after_ms, 1)
    headers["retry-after"] = str(math.ceil(wait_ms / 1000))
    headers["retry-after-ms"] = str(wait_ms)
    what = {
        Reason.REQUESTS: f"requests per minute (RPM): limit {plan.rpm}",
        Reason.TOKENS: f"tokens per minute (TPM): limit {plan.tpm}, requested {estimate}",
        Reason.CONCURRENCY: f"concurrent requests: limit {plan.max_concurrent}",
    }[reason]
    return GatewayError(
        f"Rate limit reached for {what}. Please try again in {duration(wait_ms)}.",
        status=429,
        code="rate_limit_exceeded",
        headers=headers,
    )
