"""Policy's metrics against a real Redis: rejections by reason, tokens by model and key,
quota saturation from the settlement's own totals, Redis calls timed."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr
from redis.asyncio import Redis

from gateway_shared.errors import GatewayError
from gateway_shared.observability import RequestContext, Tracing
from gateway_shared.observability.redis_calls import RedisCalls
from gateway_shared.plans import Plan
from gateway_shared.wire.identity import Api, Identity, RequestSummary
from gateway_shared.wire.report import Usage
from policy.admission import Admission
from policy.limits.limiter import Limiter, Settlement
from policy.metrics import PolicyMetrics
from policy.settings import PolicySettings
from policy.usage import utcnow

SETTINGS = PolicySettings(
    redis_url=SecretStr("redis://unused"), internal_secret=SecretStr("x" * 32)
)


def _value(registry: CollectorRegistry, prefix: str) -> float:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(prefix)


def _identity(plan: Plan, name: str = "team-a") -> Identity:
    return Identity("key_" + uuid.uuid4().hex[:12], name, plan, "req_" + uuid.uuid4().hex)


async def test_settle_returns_the_periods_totals(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    identity = _identity(Plan(daily_tokens=1000))
    admitted_at = utcnow()
    decision = await limiter.admit(identity.key_id, identity.plan, identity.request_id, 300)
    assert decision.admitted
    totals = await limiter.settle(
        Settlement(
            key_id=identity.key_id,
            request_id=identity.request_id,
            model="m",
            reserved=decision.reserved,
            prompt_tokens=40,
            completion_tokens=60,
            admitted_at=admitted_at,
        )
    )
    assert totals == (100, 100)


async def test_admission_and_settlement_are_measured(redis: Redis) -> None:
    registry = CollectorRegistry()
    metrics = PolicyMetrics(registry)
    calls = RedisCalls(registry, Tracing(), ("admit", "settle"))
    admission = Admission(Limiter(redis, 60, 60, calls), SETTINGS, metrics)
    identity = _identity(Plan(rpm=1, daily_tokens=400))
    summary = RequestSummary(Api.CHAT, "sim-chat", False, 5, 50)

    request = RequestContext(0.0)
    ticket, _, _ = await admission.admit(identity, summary)
    ticket.on_charged = lambda usage: request.set_tokens(
        usage.prompt_tokens, usage.completion_tokens
    )
    ticket.label = "sim-chat"  # as the router reported it
    await ticket.settle(Usage(10, 30))
    with pytest.raises(GatewayError):
        await admission.admit(identity, summary)  # rpm 1

    assert (request.prompt_tokens, request.completion_tokens) == (10, 30)
    tokens = 'gateway_tokens_total{key_name="team-a",model="sim-chat",token_type="%s"}'
    assert _value(registry, tokens % "input") == 10
    assert _value(registry, tokens % "output") == 30
    assert _value(registry, 'gateway_quota_used_ratio{key_name="team-a",period="daily"}') == 0.1
    assert (
        _value(registry, 'gateway_ratelimit_rejections_total{key_name="team-a",reason="requests"}')
        == 1
    )
    assert _value(registry, 'gateway_redis_call_duration_seconds_count{operation="admit"}') == 2
    assert _value(registry, 'gateway_redis_call_duration_seconds_count{operation="settle"}') == 1


async def test_a_failed_request_charges_no_tokens(redis: Redis) -> None:
    registry = CollectorRegistry()
    admission = Admission(Limiter(redis, 60, 60), SETTINGS, PolicyMetrics(registry))
    identity = _identity(Plan(daily_tokens=4000), name="team-b")
    ticket, _, _ = await admission.admit(
        identity, RequestSummary(Api.CHAT, "sim-chat", False, 5, None)
    )
    await ticket.release()
    assert "gateway_tokens_total{" not in generate_latest(registry).decode()
