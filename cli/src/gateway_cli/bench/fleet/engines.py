"""What the fleet's engines report while a run lasts: each replica's queue, read from its
own ``/metrics`` as the router reads it (``router/providers/vllm_metrics.py``).

The client sees latency; these readings say why: whether every replica was past the
saturation guard's queue depth (the guard sheds only then), or whether some replica sat
idle while others queued (the tail is where the requests went, not too many of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import httpx

from router.providers.base import EngineLoad
from router.providers.vllm_metrics import parse_load

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


async def _read(http: httpx.AsyncClient, base_url: str, model: str) -> EngineLoad | None:
    try:
        response = await http.get(base_url.removesuffix("/v1") + "/metrics")
    except httpx.HTTPError:
        return None
    return parse_load(response.text, model) if response.status_code == 200 else None


async def sample(engines: list[tuple[str, str]], stop: asyncio.Event) -> list[Reading]:
    """Readings of ``engines`` (base URL, model) every ``SAMPLE_SECONDS`` until ``stop``."""
    readings: list[Reading] = []
    async with httpx.AsyncClient(timeout=SAMPLE_SECONDS * 4) as http:
        while not stop.is_set():
            at = time.perf_counter()
            loads = await asyncio.gather(*(_read(http, url, model) for url, model in engines))
            readings.append(Reading(at, tuple(loads)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
    return readings
