"""Active health checks: one background task per deployment.

Each deployment is probed every ``health_interval`` seconds (the catalog's, else its
adapter's default: 10 s for vLLM's ``/health``, 60 s for OpenAI's and Anthropic's model
lists), with a little jitter so that checks do not align, and at most
``routing.health.timeout_seconds`` per check. The result is the deployment's ``health``
(the provider-health signal: unknown / healthy / unhealthy); ``unhealthy_after`` failed
checks in a row trip its circuit breaker. A passing check does not close a breaker: a
real request (the half-open probe) does, since a live health endpoint does not prove the
model answers.
"""

from __future__ import annotations

import asyncio
import logging
import random

from router.catalog import HealthPolicy
from router.routing.deployment import DeploymentState, Health

log = logging.getLogger("router.health")

# Each wait is the interval +/- this share, at random.
JITTER = 0.1


def interval_of(state: DeploymentState) -> float:
    configured = state.deployment.health_interval
    return state.provider.default_health_interval if configured is None else configured


async def check_once(state: DeploymentState, policy: HealthPolicy) -> bool:
    provider = state.provider
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            ok = await provider.health()
    except TimeoutError:
        ok = False
    except Exception:  # an adapter bug must not end the checks
        log.exception("health check of %s failed unexpectedly", state.name)
        ok = False
    before = state.health
    state.record_health(ok, policy)
    if state.health is not before and Health.UNHEALTHY in (before, state.health):
        log.warning("deployment %s: health %s -> %s", state.name, before, state.health)
    return ok


class HealthMonitor:
    """Keeps one checking task per deployment of the current routing table."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._tasks: dict[str, tuple[DeploymentState, asyncio.Task[None]]] = {}
        self.policy = HealthPolicy()

    def sync(self, states: dict[str, DeploymentState], policy: HealthPolicy) -> None:
        """Check exactly ``states`` from now on (after start or a reload)."""
        self.policy = policy
        for name, (state, task) in list(self._tasks.items()):
            if states.get(name) is not state:
                task.cancel()
                del self._tasks[name]
        for name, state in states.items():
            if name not in self._tasks and interval_of(state) > 0:
                task = asyncio.create_task(self._run(state), name=f"health:{name}")
                self._tasks[name] = (state, task)

    async def _run(self, state: DeploymentState) -> None:
        # Spread the first checks over a moment rather than firing them all at once.
        await asyncio.sleep(self._rng.uniform(0, min(1.0, interval_of(state))))
        while True:
            await check_once(state, self.policy)
            interval = interval_of(state)
            if interval <= 0:
                return
            await asyncio.sleep(interval * self._rng.uniform(1 - JITTER, 1 + JITTER))

    async def aclose(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
