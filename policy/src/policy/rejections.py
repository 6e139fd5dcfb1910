"""What clients see of the limits: OpenAI's rate-limit headers and 429 errors."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from gateway_shared.errors import GatewayError
from gateway_shared.plans import Plan
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
    return headers


def _seconds_until_next_period(reason: Reason, now: datetime) -> int:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if reason is Reason.DAILY_QUOTA:
        reset = day + timedelta(days=1)
    else:
        reset = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return math.ceil((reset - now).total_seconds())


def rejection(
    plan: Plan, decision: Decision, estimate: int, *, anthropic: bool = False
) -> GatewayError:
    reason = decision.reason
    assert reason is not None
    headers = rate_limit_headers(plan, decision, anthropic=anthropic)
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
