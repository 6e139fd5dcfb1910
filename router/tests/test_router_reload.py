"""Catalog reloads: what carries over, what is retired, invalid catalogs refused, file
changes and SIGHUP picked up, in-flight requests undisturbed."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from router.catalog import Strategy
from router.providers.base import EngineLoad
from router.routing.affinity import Prefix
from router.routing.breaker import BreakerState
from router.state import RouterState
from tests.support.routerkit import (
    FAKE_ADAPTERS,
    FakeClock,
    build_table,
    fake_catalog,
    fake_deployment,
)


def test_unchanged_deployments_keep_what_was_learned(clock: FakeClock) -> None:
    first, _ = build_table(fake_catalog(fake_deployment("a"), fake_deployment("b")), clock)
    a = first.states["a"]
    a.breaker.trip("test")
    a.observe_ttft(0.5)
    lease = a.acquire()
    second, retired = build_table(
        fake_catalog(fake_deployment("a"), fake_deployment("b")), clock, previous=first
    )
    assert second.states["a"] is a
    assert a.breaker.state is BreakerState.OPEN
    assert a.ttft_ewma == 0.5
    assert a.in_flight == 1
    assert retired == []
    lease.release()
    assert second.states["a"].in_flight == 0


def test_changed_settings_keep_state_but_get_a_new_adapter(clock: FakeClock) -> None:
    first, _ = build_table(fake_catalog(fake_deployment("a")), clock)
    old_provider = first.states["a"].provider
    second, retired = build_table(
        fake_catalog(fake_deployment("a", weight=5, max_concurrency=2)), clock, previous=first
    )
    state = second.states["a"]
    assert state is first.states["a"]
    assert state.weight == 5
    assert state.deployment.max_concurrency == 2
    assert state.provider is not old_provider
    assert retired == [old_provider]


def test_new_upstream_or_removed_deployment_starts_fresh_or_retires(clock: FakeClock) -> None:
    first, _ = build_table(fake_catalog(fake_deployment("a"), fake_deployment("b")), clock)
    first.states["a"].breaker.trip("test")
    second, retired = build_table(
        fake_catalog(fake_deployment("a", base_url="http://elsewhere.test/v1")),
        clock,
        previous=first,
    )
    assert second.states["a"] is not first.states["a"]
    assert second.states["a"].breaker.state is BreakerState.CLOSED
    assert "b" not in second.states
    assert set(retired) == {first.states["a"].provider, first.states["b"].provider}


def test_a_reload_moves_no_prefix(clock: FakeClock) -> None:
    deployments = [fake_deployment(n) for n in "abcd"]
    catalog = fake_catalog(*deployments, strategy=Strategy.LOAD_AWARE)
    first, _ = build_table(catalog, clock)
    route = first.routes["chat"]
    for state in route.deployments:
        state.observe_load(EngineLoad(running=0, waiting=0, kv_usage=0.0), clock())
    homes = {
        k: route.balancer.choose(route.deployments, Prefix(k, 100), clock()).name
        for k in range(1, 13)
    }
    window = {"load": {"affinity_window_seconds": 30}}
    reloaded = fake_catalog(*deployments, strategy=Strategy.LOAD_AWARE, routing=window)
    second, _ = build_table(reloaded, clock, previous=first)
    again = second.routes["chat"]
    assert again.balancer.placement is route.balancer.placement
    assert again.balancer.placement.window == 30
    # Asked in another order, a fresh placement would put them elsewhere.
    later = {
        k: again.balancer.choose(again.deployments, Prefix(k, 100), clock()).name
        for k in reversed(homes)
    }
    assert later == homes


def test_in_flight_request_keeps_its_adapter_across_a_reload(clock: FakeClock) -> None:
    first, _ = build_table(fake_catalog(fake_deployment("a")), clock)
    lease = first.states["a"].acquire()
    build_table(fake_catalog(fake_deployment("a", weight=3)), clock, previous=first)
    assert lease.provider is not first.states["a"].provider
    lease.release()


CATALOG = """
models:
  - alias: chat
    deployments:
      - {name: a, provider: fake, base_url: 'http://a.test/v1', model: m, health_interval: 0}
"""
CHANGED = (
    CATALOG
    + """
  - alias: other
    deployments:
      - {name: b, provider: fake, base_url: 'http://b.test/v1', model: m, health_interval: 0}
"""
)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RouterState]:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    state = RouterState.build(path, httpx.AsyncClient(), FAKE_ADAPTERS)
    yield state
    await state.aclose()


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_invalid_catalog_is_refused_with_one_clear_line(
    running: RouterState, caplog: pytest.LogCaptureFixture
) -> None:
    before = running.table
    running.table.source.path.write_text(CATALOG.replace("provider: fake", "provider: nope"))
    with caplog.at_level(logging.ERROR, logger="router.catalog"):
        assert running.reload() is False
    assert running.table is before
    (record,) = caplog.records
    assert "catalog reload refused" in record.getMessage()
    assert "previous catalog stays in force" in record.getMessage()
    assert "unknown provider 'nope'" in record.getMessage()


async def test_valid_catalog_is_swapped_in(running: RouterState) -> None:
    running.table.source.path.write_text(CHANGED)
    assert running.reload() is True
    assert set(running.table.routes) == {"chat", "other"}


async def test_file_change_is_picked_up(running: RouterState) -> None:
    running.start(poll_seconds=0.02, health_checks=False, handle_sighup=False)
    old = running.table.source.sha256
    running.table.source.path.write_text(CHANGED)
    await wait_for(lambda: running.table.source.sha256 != old)
    assert "other" in running.table.routes


async def test_sighup_reloads(running: RouterState) -> None:
    running.start(poll_seconds=0, health_checks=False, handle_sighup=True)
    assert running.watcher is not None
    running.table.source.path.write_text(CHANGED)
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_for(lambda: "other" in running.table.routes)


async def test_retired_adapters_are_closed(running: RouterState) -> None:
    provider = running.table.states["a"].provider
    running.table.source.path.write_text(CATALOG.replace("model: m", "model: m2"))
    assert running.reload()
    await running.aclose()
    assert provider.closed  # type: ignore[attr-defined]
