"""What the fleet's engines report while a run lasts: each replica's queue, read from its
own ``/metrics`` by the vLLM adapter, as the router reads it.

The client sees latency; these readings say why: how often every replica had at least
the saturation guard's queue depth waiting (the guard also counts what its router sent
since its last reading, so it may shed a little earlier), or whether some replica sat
idle while others queued (the tail is where the requests went, not too many of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import httpx

from router.catalog import Deployment, Timeouts
from router.providers.base import EngineLoad
from router.providers.openai_compatible import VLLM

# Several readings per engine step at the simulated GPU's speed, few enough to cost the
# machine nothing beside the load.
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True)
class Reading:
    """Every replica's load at one moment (perf_counter); None where it did not answer."""

    at: float
    loads: tuple[EngineLoad | None, ...]


@dataclass(frozen=True)
class EngineStats:
    """Shares of a run's readings: every replica with at least ``depth`` waiting (the
    guard's lowest threshold), and some replica with nothing running or waiting."""

    saturated: float
    some_idle: float

    @classmethod
    def of(cls, readings: list[Reading], depth: int) -> EngineStats | None:
        complete = [[x for x in r.loads if x is not None] for r in readings if None not in r.loads]
        if not complete:
            return None
        saturated = sum(all(x.waiting >= depth for x in loads) for loads in complete)
        idle = sum(any(x.running + x.waiting == 0 for x in loads) for loads in complete)
        return cls(saturated=saturated / len(complete), some_idle=idle / len(complete))


async def sample(engines: list[tuple[str, str]], stop: asyncio.Event) -> list[Reading]:
    """Readings of ``engines`` (base URL, model) every ``SAMPLE_SECONDS`` until ``stop``."""
    readings: list[Reading] = []
    # A reading later than a few samples' worth says nothing about its moment.
    late = SAMPLE_SECONDS * 4
    timeouts = Timeouts(connect=late, first_token=late, idle=late, total=late)
    async with httpx.AsyncClient() as http:
        adapters = [
            VLLM(
                Deployment(
                    name=f"engine-{i}",
                    provider="vllm",
                    base_url=url,
                    model=model,
                    timeouts=timeouts,
                ),
                http,
            )
            for i, (url, model) in enumerate(engines)
        ]
        while not stop.is_set():
            at = time.perf_counter()
            loads = await asyncio.gather(*(adapter.load() for adapter in adapters))
            readings.append(Reading(at, tuple(loads)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
    return readings
