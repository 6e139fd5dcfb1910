"""One discovered deployment, two engines: the router (in-process, its resolver
scripted) resolves one name to two loopback addresses, each running a simulator on the
same port as two pods behind a headless Service would, and routes, checks and reads the
load of each as a deployment of its own; the address that vanishes stops being routed to.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway_cli.ports import free_port
from gateway_cli.stack import Service
from router.app import create_app
from router.settings import RouterSettings
from tests.support.routerkit import router_client
from tests.support.waiting import eventually

SECRET = "s" * 32
HOST = "vllm-pods.test"
ADDRESSES = ("127.0.0.1", "127.0.0.2")
REPLICAS = [f"pods@{a}" for a in ADDRESSES]


class Dns:
    """The resolver the router is given: HOST is whatever the test says."""

    def __init__(self) -> None:
        self.addresses: Sequence[str] = ADDRESSES

    async def __call__(self, host: str) -> Sequence[str]:
        assert host == HOST
        return self.addresses


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    logs = tmp_path_factory.mktemp("discovery")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIM_")}
    engines = [
        Service(
            f"simulator-{address}",
            "simulator",
            env | {"SIM_HOST": address, "SIM_PORT": str(port), "SIM_MODELS": "sim-model"},
            port,
            logs,
            host=address,
        )
        for address in ADDRESSES
    ]
    try:
        for engine in engines:
            engine.start()
        for engine in engines:
            engine.wait_ready(30)
        yield port
    finally:
        for engine in engines:
            engine.stop()


@pytest.fixture
async def router(tmp_path: Path, port: int) -> AsyncIterator[tuple[httpx.AsyncClient, Dns]]:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "routing:\n"
        "  discovery: {interval_seconds: 0.5}\n"
        "  load: {scrape_seconds: 0.2}\n"
        "models:\n"
        "  - alias: chat\n    strategy: load_aware\n    deployments:\n"
        f"      - {{name: pods, provider: vllm, base_url: 'http://{HOST}:{port}/v1',"
        " model: sim-model, discovery: dns, health_interval: 0.2}\n"
    )
    settings = RouterSettings(  # type: ignore[call-arg]
        internal_secret=SECRET, catalog_path=catalog, health_checks=True, catalog_poll_seconds=0
    )
    dns = Dns()
    app = create_app(settings, http_client=httpx.AsyncClient(), resolver=dns)
    async with router_client(app, SECRET) as client:
        yield client, dns


async def status(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/status")
    response.raise_for_status()
    return response.json()["deployments"]  # type: ignore[no-any-return]


async def status_when(
    client: httpx.AsyncClient, check: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        current = await status(client)
        return current if check(current) else None

    found = await eventually(probe, timeout=15, interval=0.05, what=what)
    assert found is not None
    return found


async def ask(client: httpx.AsyncClient, question: str) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": question}], "max_tokens": 4}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text


async def test_one_name_two_addresses_two_replicas(
    router: tuple[httpx.AsyncClient, Dns],
) -> None:
    client, dns = router
    # Each replica checked and its load read on its own.
    seen = await status_when(
        client,
        lambda s: all(s.get(r, {}).get("health") == "healthy" and s[r]["load"] for r in REPLICAS),
        "both replicas healthy, with load readings",
    )
    assert sorted(seen) == REPLICAS
    for question in range(20):
        await ask(client, f"question {question} about the fleet")
    served = {r: d["counters"]["successes"] for r, d in (await status(client)).items()}
    assert all(served[r] > 0 for r in REPLICAS), served
    assert sum(served.values()) == 20

    dns.addresses = ADDRESSES[:1]
    await status_when(client, lambda s: sorted(s) == REPLICAS[:1], "one replica left")
    for question in range(5):
        await ask(client, f"question {question} about the fleet")
    assert (await status(client))[REPLICAS[0]]["counters"]["successes"] == served[REPLICAS[0]] + 5
