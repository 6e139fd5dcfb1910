"""Active health checks: the provider-health signal and the breaker trip."""

from __future__ import annotations

import asyncio

from router.catalog import HealthPolicy
from router.routing.breaker import BreakerState
from router.routing.deployment import DeploymentState, Health
from router.routing.health import HealthMonitor, check_once
from tests.support.routerkit import (
    FakeClock,
    FakeProvider,
    build_table,
    fake_catalog,
    fake_deployment,
)
from tests.support.waiting import eventually


class SlowHealth(FakeProvider):
    async def health(self) -> bool:
        await asyncio.sleep(10)
        return True


async def test_repeated_failures_mark_unhealthy_and_trip_the_breaker(clock: FakeClock) -> None:
    table, _ = build_table(fake_catalog(fake_deployment("a")), clock)
    state = table.states["a"]
    provider = state.provider
    assert isinstance(provider, FakeProvider)
    policy = HealthPolicy(unhealthy_after=2)
    assert await check_once(state, policy)
    assert state.health is Health.HEALTHY
    provider.healthy = False
    assert not await check_once(state, policy)
    assert state.health is Health.HEALTHY  # one failure is not enough
    assert state.breaker.state is BreakerState.CLOSED
    await check_once(state, policy)
    assert state.health is Health.UNHEALTHY
    assert state.breaker.state is BreakerState.OPEN
    # Recovery is reported, but only a real request (the half-open probe) closes it.
    provider.healthy = True
    await check_once(state, policy)
    assert state.health is Health.HEALTHY
    assert state.breaker.state is BreakerState.OPEN
    assert state.counters.health_checks == 4
    assert state.counters.health_failures == 2


async def test_a_hanging_check_fails_within_its_timeout(clock: FakeClock) -> None:
    table, _ = build_table(fake_catalog(fake_deployment("a")), clock)
    state = table.states["a"]
    state.provider = SlowHealth(state.deployment, state.provider.client)
    async with asyncio.timeout(2):
        assert not await check_once(state, HealthPolicy(timeout_seconds=0.05))


async def test_monitor_checks_each_deployment_and_follows_reloads(clock: FakeClock) -> None:
    catalog = fake_catalog(
        fake_deployment("a", health_interval=0.02),
        fake_deployment("b", health_interval=0.02),
        fake_deployment("off", health_interval=0),
    )
    table, _ = build_table(catalog, clock)
    monitor = HealthMonitor()
    monitor.sync(table.states, HealthPolicy())

    async def checked(states: list[DeploymentState], at_least: int) -> bool:
        return min(s.counters.health_checks for s in states) >= at_least

    try:
        await eventually(lambda: checked([table.states["a"], table.states["b"]], 3), timeout=5)
        assert table.states["off"].counters.health_checks == 0
        reloaded, _ = build_table(
            fake_catalog(fake_deployment("a", health_interval=0.02)), clock, previous=table
        )
        monitor.sync(reloaded.states, HealthPolicy())
        b_checks = table.states["b"].counters.health_checks
        a_checks = reloaded.states["a"].counters.health_checks
        # Three more rounds of "a": "b", checked as often until the reload, had time for
        # as many, had it still been checked.
        await eventually(lambda: checked([reloaded.states["a"]], a_checks + 3), timeout=5)
        assert table.states["b"].counters.health_checks == b_checks  # no longer checked
    finally:
        await monitor.aclose()
