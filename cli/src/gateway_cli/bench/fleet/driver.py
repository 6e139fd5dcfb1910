"""Driving the workload open-loop (Poisson arrivals) or closed-loop, and what each
request looked like from the client: time to first token, end to end, tokens, cached
tokens, and, when refused, how fast and whether ``Retry-After`` came with it.

Requests go through the gateway's edge with the official streaming chat API; time is
the client's own (``time.perf_counter``). A request still running ``timeout`` seconds
after it was sent is cancelled and counted as timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import httpx
import orjson

from gateway_cli.bench.fleet.workload import Session, Workload
from gateway_shared.wire.headers import OVERHEAD_MS


@dataclass
class Outcome:
    priority: str
    sent: float
    status: int = 0
    ttft: float | None = None
    e2e: float | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    retry_after: bool = False
    # The gateway's own share of the answer (``x-gateway-overhead-ms``), in seconds: the
    # rest of a refusal's time is the client's and the network's.
    gateway: float | None = None
    # Refused by the saturation guard (503 server_overloaded, or the Messages API's 529).
    overloaded: bool = False
    timed_out: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.timed_out and not self.error

    @property
    def shed(self) -> bool:
        return self.overloaded


@dataclass
class Driver:
    base_url: str
    keys: dict[str, str]
    alias: str
    timeout: float = 60.0
    outcomes: list[Outcome] = field(default_factory=list)

    async def one(self, http: httpx.AsyncClient, workload: Workload, started: float) -> None:
        session, body = workload.next_request()
        outcome = Outcome(session.priority, time.perf_counter() - started)
        self.outcomes.append(outcome)
        text: list[str] = []
        try:
            async with asyncio.timeout(self.timeout):
                await self._stream(http, session, body | {"model": self.alias}, outcome, text)
        except TimeoutError:
            outcome.timed_out = True
        except httpx.HTTPError as exc:
            outcome.error = type(exc).__name__
        finally:
            Workload.answered(session, "".join(text))

    async def _stream(
        self,
        http: httpx.AsyncClient,
        session: Session,
        body: dict[str, object],
        outcome: Outcome,
        text: list[str],
    ) -> None:
        t0 = time.perf_counter()
        headers = {"authorization": f"Bearer {self.keys[session.priority]}"}
        async with http.stream(
            "POST", f"{self.base_url}/chat/completions", json=body, headers=headers
        ) as response:
            outcome.status = response.status_code
            if response.status_code != 200:
                refusal = await response.aread()
                outcome.e2e = time.perf_counter() - t0
                outcome.retry_after = "retry-after" in response.headers
                overhead = response.headers.get(OVERHEAD_MS)
                outcome.gateway = None if overhead is None else float(overhead) / 1000
                outcome.overloaded = b'"server_overloaded"' in refusal
                if not outcome.shed:
                    outcome.error = f"HTTP {response.status_code}"
                return
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = orjson.loads(line[6:])
                if "error" in chunk:
                    outcome.error = "stream error"
                    continue
                for choice in chunk.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        if outcome.ttft is None:
                            outcome.ttft = time.perf_counter() - t0
                        text.append(piece)
                usage = chunk.get("usage")
                if usage:
                    outcome.prompt_tokens = usage.get("prompt_tokens", 0)
                    outcome.output_tokens = usage.get("completion_tokens", 0)
                    details = usage.get("prompt_tokens_details") or {}
                    outcome.cached_tokens = details.get("cached_tokens") or 0
        outcome.e2e = time.perf_counter() - t0


async def open_loop(
    driver: Driver, workload: Workload, rate: float, seconds: float, seed: int
) -> float:
    """Poisson arrivals at ``rate`` per second for ``seconds``; waits for every request
    to end (or time out). Returns when the arrivals started (perf_counter)."""
    rng = random.Random(seed)  # noqa: S311 - arrival times, not security
    tasks: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    # Each request's own deadline (Driver.timeout) bounds it, not the client's.
    async with httpx.AsyncClient(timeout=None, limits=limits) as http:  # noqa: S113
        started = time.perf_counter()
        due = 0.0
        while True:
            due += rng.expovariate(rate)
            if due > seconds:
                break
            delay = started + due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(driver.one(http, workload, started))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    return started


async def closed_loop(driver: Driver, workload: Workload, clients: int, seconds: float) -> float:
    """``clients`` sending one request after another for ``seconds``; returns the start."""
    limits = httpx.Limits(max_connections=None)
    # Each request's own deadline (Driver.timeout) bounds it, not the client's.
    async with httpx.AsyncClient(timeout=None, limits=limits) as http:  # noqa: S113
        started = time.perf_counter()
        deadline = started + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                await driver.one(http, workload, started)

        workers = [asyncio.create_task(client()) for _ in range(clients)]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*workers)
    return started


def window(outcomes: list[Outcome], start: float, end: float) -> list[Outcome]:
    """The requests sent within [start, end) seconds of the run's start."""
    return [o for o in outcomes if start <= o.sent < end]
