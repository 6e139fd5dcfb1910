"""What reference cycles and the start-up heap cost the router in garbage collection.

Runs the router app in-process, with its real provider client (httpx over aiohttp), in
front of a simulator process, and sends the same requests (20 at a time, half of them
streams) two ways, interleaved in rounds so that machine noise hits both alike:

- as built;
- with provider responses closed the plain httpx way (``response.aclose()``), which
  leaves each response and its body stream in a reference cycle, with the aiohttp
  response behind them (``router.providers.http_client.close`` is what the router uses).

For each: objects the cycle collector had to free, and its CPU time, per request. Then
one full collection over the process's heap once the app started, without and with the
start-up freeze (``gateway_shared.tier.app.settled``). Other cycles per request (the
retry loop's, say) are guarded by ``router/tests/test_router_app.py``.

    uv run python cli/benchmarks/reference_cycles.py [--requests 2000] [--rounds 3]
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
from gateway_shared.plans import Plan
from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.wire.identity import Api, Identity, IdentitySigner, RequestSummary
from router.app import create_app
from router.providers import upstream
from router.providers.http_client import close
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


Vouched = dict[bool, dict[str, str]]  # stream or not -> the identity edge would send


def _vouched(signer: IdentitySigner) -> Vouched:
    def headers(stream: bool) -> dict[str, str]:
        summary = RequestSummary(Api.CHAT, "sim-chat", stream, estimate_prompt_tokens(BODY), 8)
        identity = Identity("kid", "bench", Plan(), "req_1", summary)
        return {"x-gateway-identity": signer.sign(identity)}

    return {False: headers(False), True: headers(True)}


async def _send(client: httpx.AsyncClient, n: int, vouched: Vouched) -> None:
    async def worker(count: int) -> None:
        for i in range(count):
            stream = i % 2 == 1
            request = client.build_request(
                "POST",
                "/v1/chat/completions",
                json=BODY | {"stream": stream},
                headers=vouched[stream],
            )
            response = await client.send(request, stream=True)
            await response.aread()
            assert response.status_code == 200, response.status_code
            await close(response)  # the benchmark's own side leaves no cycle either

    await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))


async def _measure(client: httpx.AsyncClient, n: int, vouched: Vouched) -> tuple[float, float]:
    """(objects freed by the collector per request, its CPU µs per request)."""
    gc.collect()
    collections = Collections()
    gc.callbacks.append(collections)
    try:
        await _send(client, n, vouched)
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
    vouched = _vouched(IdentitySigner(stack.secrets.internal_secret.encode()))
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
        await _send(client, 200, vouched)  # warm-up: pools, caches
        for _ in range(rounds):
            for name, measured in results.items():
                # The module's own name for it, which its functions look up per call.
                upstream.close = _plain_close if name == "plain aclose" else close  # type: ignore[attr-defined]
                measured.append(await _measure(client, requests, vouched))
        upstream.close = close  # type: ignore[attr-defined]
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
