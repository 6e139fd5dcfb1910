"""What reference cycles and the start-up heap cost the router in garbage collection.

Runs the router app in-process, with its real provider client (httpx over aiohttp), in
front of a simulator process, and sends the same requests (20 at a time, half of them
streams) two ways, interleaved in rounds so that machine noise hits both alike:

- as built;
- with provider responses closed the plain httpx way (``response.aclose()``), which
  leaves each response and its body stream in a reference cycle, with the aiohttp
  response behind them (``gateway_shared.http.close`` is what the router uses).

For each: objects the cycle collector had to free, and its CPU time, per request. Then
one full collection over the process's heap once the app started, without and with the
start-up freeze (``gateway_shared.tier.settled``). tenacity's cycle, the other half of
what the router used to leave, is guarded by ``router/tests/test_router_app.py``.

    uv run python router/benchmarks/reference_cycles.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from gateway_cli.stack import Stack
from gateway_shared.http import close
from gateway_shared.identity import Identity, IdentitySigner
from gateway_shared.plans import Plan
from router.app import create_app
from router.providers import transport
from router.settings import RouterSettings

BODY = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
CONCURRENCY = 20


class Collections:
    """Objects freed and CPU spent by the cycle collector while enabled."""

    def __init__(self) -> None:
        self.freed = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started
            self.freed += info["collected"]


async def _plain_close(response: httpx.Response) -> None:
    await response.aclose()


async def _send(client: httpx.AsyncClient, n: int, headers: dict[str, str]) -> None:
    async def worker(count: int) -> None:
        for i in range(count):
            body = BODY | {"stream": i % 2 == 1}
            request = client.build_request(
                "POST", "/v1/chat/completions", json=body, headers=headers
            )
            response = await client.send(request, stream=True)
            await response.aread()
            assert response.status_code == 200, response.status_code
            await close(response)  # the benchmark's own side leaves no cycle either

    await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))


async def _measure(
    client: httpx.AsyncClient, n: int, headers: dict[str, str]
) -> tuple[float, float]:
    """(objects freed by the collector per request, its CPU µs per request)."""
    gc.collect()
    collections = Collections()
    gc.callbacks.append(collections)
    try:
        await _send(client, n, headers)
        gc.collect()
    finally:
        gc.callbacks.remove(collections)
    return collections.freed / n, collections.seconds / n * 1e6


def _full_collection_ms() -> float:
    started = time.thread_time()
    gc.collect()
    return (time.thread_time() - started) * 1000


async def _run(stack: Stack, requests: int, rounds: int) -> None:
    settings = RouterSettings(
        internal_secret=stack.secrets.internal_secret,
        catalog_path=stack.workdir / "catalog.yaml",
        health_checks=False,
        catalog_poll_seconds=0,
    )
    app = create_app(settings)
    signer = IdentitySigner(stack.secrets.internal_secret.encode())
    headers = {"x-gateway-identity": signer.sign(Identity("kid", "bench", Plan(), "req_1"))}
    gc.collect()
    unfrozen_ms = _full_collection_ms()
    results: dict[str, list[tuple[float, float]]] = {"as built": [], "plain aclose": []}
    async with (
        app.router.lifespan_context(app),  # freezes the heap, as in a tier
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router", timeout=30
        ) as client,
    ):
        frozen_ms = _full_collection_ms()
        await _send(client, 200, headers)  # warm-up: pools, caches
        for _ in range(rounds):
            for name, measured in results.items():
                # The module's own name for it, which its functions look up per call.
                transport.close = _plain_close if name == "plain aclose" else close  # type: ignore[attr-defined]
                measured.append(await _measure(client, requests, headers))
        transport.close = close  # type: ignore[attr-defined]
    print(
        f"{requests} requests per round ({CONCURRENCY} at a time, half streams), "
        f"median of {rounds} rounds\n"
    )
    print(f"{'provider responses closed':<28} {'objects freed/req':>18} {'collector µs/req':>17}")
    for name, values in results.items():
        freed = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"{name:<28} {freed:>18.1f} {cpu:>17.1f}")
    print(
        f"\nfull collection after start-up: {unfrozen_ms:.1f} ms unfrozen, "
        f"{frozen_ms:.1f} ms with the start-up heap frozen"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        stack = Stack(Path(workdir))
        simulator = stack.services["simulator"]
        try:
            simulator.start()
            simulator.wait_ready(30)
            asyncio.run(_run(stack, args.requests, args.rounds))
        finally:
            simulator.stop()


if __name__ == "__main__":
    main()
