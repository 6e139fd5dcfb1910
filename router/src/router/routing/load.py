"""Reading engines' load in the background: one task per deployment that reports it.

Only deployments of aliases that use the load (``load_aware`` balancing or the
saturation guard) whose adapter can report it (vLLM's ``/metrics``) are read, every
``routing.load.scrape_seconds`` with a little jitter, within ``timeout_seconds``. A
failed read keeps the previous reading, which goes stale by itself
(``stale_seconds``): the balancer then falls back to in-flight counts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable

from router.catalog import LoadPolicy
from router.routing.deployment import DeploymentState

log = logging.getLogger("router.load")

JITTER = 0.1


async def read_once(
    state: DeploymentState, policy: LoadPolicy, clock: Callable[[], float] = time.monotonic
) -> bool:
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            load = await state.provider.load()
    except TimeoutError:
        load = None
    except Exception:  # an adapter bug must not end the reads
        log.exception("reading the load of %s failed unexpectedly", state.name)
        load = None
    state.observe_load(load, clock())
    return load is not None


class LoadMonitor:
    """Keeps one reading task per load-reporting deployment of load-using aliases."""

    def __init__(
        self, rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._clock = clock
        self._tasks: dict[str, tuple[DeploymentState, asyncio.Task[None]]] = {}
        self.policy = LoadPolicy()

    def sync(self, states: Iterable[DeploymentState], policy: LoadPolicy) -> None:
        """Read exactly ``states`` (those that report load) from now on."""
        self.policy = policy
        wanted = {s.name: s for s in states if s.provider.reports_load}
        for name, (state, task) in list(self._tasks.items()):
            if wanted.get(name) is not state:
                task.cancel()
                del self._tasks[name]
        for name, state in wanted.items():
            if name not in self._tasks:
                task = asyncio.create_task(self._run(state), name=f"load:{name}")
                self._tasks[name] = (state, task)

    async def _run(self, state: DeploymentState) -> None:
        while True:
            await read_once(state, self.policy, self._clock)
            interval = self.policy.scrape_seconds
            await asyncio.sleep(interval * self._rng.uniform(1 - JITTER, 1 + JITTER))

    async def aclose(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
