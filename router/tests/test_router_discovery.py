"""Replicas found by DNS (``discovery: dns``), with a resolver the tests script: each
address is a deployment of its own; addresses that appear are added, ones that vanish
drain; a failed resolution keeps the last known set; until the first answer the
deployment stands as written."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx
import pytest

from router.catalog import CatalogError, Deployment, parse_catalog
from router.observability.collector import RouterCollector
from router.state import RouterState
from tests.support.routerkit import FAKE_ADAPTERS

HOST = "vllm-pods.test"
CATALOG = f"""
routing:
  discovery: {{interval_seconds: 0.5, timeout_seconds: 0.2}}
models:
  - alias: chat
    strategy: load_aware
    deployments:
      - {{name: pods, provider: fake, base_url: 'http://{HOST}:8000/v1', model: m,
          discovery: dns, health_interval: 0}}
      - {{name: fixed, provider: fake, base_url: 'http://fixed.test/v1', model: m,
          health_interval: 0, priority: 1}}
"""


class Resolver:
    """DNS as the test says: a list of addresses, an error to raise, or None: no answer."""

    def __init__(self) -> None:
        self.answer: Sequence[str] | OSError | None = ()
        self.asked: list[str] = []

    async def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if self.answer is None:
            await asyncio.Event().wait()
        if isinstance(self.answer, OSError):
            raise self.answer
        return self.answer or ()


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
async def running(tmp_path: Path, resolver: Resolver) -> AsyncIterator[RouterState]:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    state = RouterState.build(path, httpx.AsyncClient(), FAKE_ADAPTERS, resolver=resolver)
    catalog = state.table.catalog
    state.discovery.sync(catalog.deployments(), catalog.routing.discovery)
    yield state
    await state.aclose()


def names(state: RouterState) -> list[str]:
    return [s.name for s in state.table.routes["chat"].deployments]


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def settle(state: RouterState) -> None:
    """One more round of resolution after the current one, and its rebuild."""
    if await state.discovery.refresh():
        state.rediscovered()


async def test_each_address_is_a_deployment_and_new_ones_are_added(
    running: RouterState, resolver: Resolver
) -> None:
    assert names(running) == ["pods", "fixed"]  # as written until the host resolves
    resolver.answer = ["10.0.0.2", "10.0.0.1", "10.0.0.2"]
    running.start(poll_seconds=0, health_checks=False, handle_sighup=False)
    await wait_for(lambda: "pods@10.0.0.1" in running.table.states)
    assert resolver.asked[0] == HOST
    assert names(running) == ["pods@10.0.0.1", "pods@10.0.0.2", "fixed"]
    replica = running.table.states["pods@10.0.0.1"]
    assert replica.deployment.base_url == "http://10.0.0.1:8000/v1"
    assert replica.provider.deployment.base_url == "http://10.0.0.1:8000/v1"
    first = replica
    resolver.answer = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    await wait_for(lambda: "pods@10.0.0.3" in running.table.states)
    # What was learned about the replicas that stayed carries over.
    assert running.table.states["pods@10.0.0.1"] is first


async def test_a_vanished_address_drains_its_requests_then_retires(
    running: RouterState, resolver: Resolver
) -> None:
    resolver.answer = ["10.0.0.1", "10.0.0.2"]
    await settle(running)
    leaving = running.table.states["pods@10.0.0.2"]
    lease = leaving.acquire()
    resolver.answer = ["10.0.0.1"]
    await settle(running)
    assert names(running) == ["pods@10.0.0.1", "fixed"]
    # The request on it goes on with its adapter, which closes only after it could end.
    assert not lease.provider.closed  # type: ignore[attr-defined]
    lease.succeeded()
    lease.release()
    assert leaving.in_flight == 0
    await running.aclose()
    assert lease.provider.closed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "failure",
    [socket.gaierror(socket.EAI_NONAME, "Name or service not known"), [], None],
    ids=["unknown name", "no addresses", "no answer"],
)
async def test_a_failed_resolution_keeps_the_last_known_replicas(
    running: RouterState,
    resolver: Resolver,
    failure: OSError | list[str] | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver.answer = ["10.0.0.1", "10.0.0.2"]
    await settle(running)
    table = running.table
    resolver.answer = failure
    with caplog.at_level(logging.WARNING, logger="router.discovery"):
        await settle(running)
        await settle(running)
    assert running.table is table
    assert names(running) == ["pods@10.0.0.1", "pods@10.0.0.2", "fixed"]
    # Logged once while it lasts, counted each time.
    (record,) = caplog.records
    assert "keeping the 2 replicas known" in record.getMessage()
    assert running.discovery.failures["pods"] == 2
    metrics = {m.name: m for m in RouterCollector(lambda: running).collect()}
    assert metrics["gateway_router_discovery_failures"].samples[0].value == 2
    assert metrics["gateway_router_discovered_replicas"].samples[0].value == 2
    resolver.answer = ["10.0.0.1"]
    await settle(running)
    assert names(running) == ["pods@10.0.0.1", "fixed"]


async def test_a_reload_that_moves_the_host_forgets_its_addresses(
    running: RouterState, resolver: Resolver
) -> None:
    resolver.answer = ["10.0.0.1"]
    await settle(running)
    running.table.source.path.write_text(CATALOG.replace(HOST, "elsewhere.test"))
    resolver.answer = ["10.0.0.7"]
    assert running.reload()
    assert names(running) == ["pods", "fixed"]
    await settle(running)
    assert names(running) == ["pods@10.0.0.7", "fixed"]


def test_replica_urls_and_the_http_only_rule() -> None:
    base = {"name": "pods", "provider": "fake", "model": "m", "discovery": "dns"}
    pods = Deployment.model_validate(base | {"base_url": "http://vllm:8000/v1"})
    assert pods.at_address("fd00::5").base_url == "http://[fd00::5]:8000/v1"
    assert pods.at_address("fd00::5").name == "pods@fd00::5"
    plain = Deployment.model_validate(base | {"base_url": "http://vllm/v1"})
    assert plain.at_address("10.0.0.1").base_url == "http://10.0.0.1/v1"
    text = CATALOG.replace("http://", "https://", 1).encode()
    with pytest.raises(CatalogError, match="discovery needs an http:// base URL"):
        parse_catalog(text, Path("catalog.yaml"), set(FAKE_ADAPTERS))
