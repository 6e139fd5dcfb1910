"""Settlements kept across a Redis outage and replayed once it answers: against the
session's real Redis, behind a TCP proxy the test cuts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from gateway_cli.redis_server import RedisServer
from gateway_shared.plans import Plan
from gateway_shared.redis_client import connect
from policy.ledger import Ledger
from policy.limits.limiter import Limiter, Settlement
from policy.metrics import PolicyMetrics
from policy.usage import read_usage, utcnow
from tests.support.tcp_proxy import TcpProxy, tcp_proxy
from tests.support.waiting import eventually


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[TcpProxy]:
    with tcp_proxy(redis_server.port) as running:
        yield running


@pytest.fixture
async def proxied(proxy: TcpProxy) -> AsyncIterator[Redis]:
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout_seconds=0.2)
    yield client
    await client.aclose()


def _lost(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value("gateway_policy_settlements_lost_total", {"reason": reason})


async def test_settlements_during_a_cut_are_replayed_once_redis_answers(
    proxy: TcpProxy, proxied: Redis, redis: Redis
) -> None:
    registry = CollectorRegistry()
    limiter = Limiter(proxied, 60, 60)
    ledger = Ledger(limiter, capacity=100, keep_seconds=60, metrics=PolicyMetrics(registry))
    key, plan, admitted_at = "key_" + uuid.uuid4().hex[:12], Plan(daily_tokens=10_000), utcnow()
    settlements = []
    for _ in range(5):
        rid = "req_" + uuid.uuid4().hex
        assert (await limiter.admit(key, plan, rid, 50)).admitted
        settlements.append(Settlement(key, rid, "m", 50, 10, 20, admitted_at))
    proxy.cut()
    for settlement in settlements:
        await ledger.settle(settlement)
    assert ledger.kept == 5
    assert registry.get_sample_value("gateway_policy_settlements_kept") == 5

    async def drained() -> bool:
        return ledger.kept == 0

    replay = asyncio.create_task(ledger.replay())
    try:
        proxy.restore()
        await eventually(drained, timeout=5, what="the kept settlements to be replayed")
    finally:
        replay.cancel()
    day = (await read_usage(redis, key))["day"]
    assert (day["requests"], day["charged_and_reserved_tokens"]) == (5, 5 * 30)
    assert registry.get_sample_value("gateway_policy_settlements_replayed_total") == 5
    await ledger.settle(settlements[0])  # applied again: still counted once
    assert (await read_usage(redis, key))["day"]["requests"] == 5
    assert _lost(registry, "queue_full") == 0


async def test_what_cannot_be_kept_is_counted_lost(proxy: TcpProxy, proxied: Redis) -> None:
    registry = CollectorRegistry()
    metrics = PolicyMetrics(registry)
    limiter = Limiter(proxied, 60, 60)
    proxy.cut()
    settlement = Settlement("key_x", "req_x", "m", 0, 1, 1, utcnow())
    full = Ledger(limiter, capacity=2, keep_seconds=60, metrics=metrics)
    for _ in range(3):
        await full.settle(settlement)
    assert (full.kept, _lost(registry, "queue_full")) == (2, 1)
    await full.close()  # Redis still away: what is kept is lost with the process
    assert (full.kept, _lost(registry, "shutdown")) == (0, 2)
    stale = Ledger(limiter, capacity=2, keep_seconds=1e-9, metrics=metrics)
    await stale.settle(settlement)
    proxy.restore()
    await stale.close()  # too old to replay safely: its marker may be gone
    assert _lost(registry, "expired") == 1
