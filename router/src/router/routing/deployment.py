"""What the router knows about one deployment while it runs, and one request's hold on it.

A :class:`DeploymentState` outlives catalog reloads as long as its deployment keeps the
same name and upstream (provider, base URL, model): its breaker, latency average and
in-flight count carry over. A :class:`Lease` is one attempt's hold on a deployment: it
counts in ``in_flight`` from :meth:`DeploymentState.acquire` until :meth:`Lease.release`,
and its outcome feeds the breaker, the latency average and the counters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from router.catalog import BreakerPolicy, Deployment, HealthPolicy
from router.providers.base import EngineLoad, Provider
from router.providers.errors import ProviderError, ProviderRejected, ProviderTimeout
from router.routing.breaker import CircuitBreaker
from router.routing.residency import Residency

# Weight of the newest sample in the time-to-first-token average.
EWMA_ALPHA = 0.3

# When an engine's waiting requests are a queue: requests arrive while a step runs and
# wait for the next one on any engine, so a reading often shows one or two waiting on an
# idle engine; a queue that lasts forms behind a full KV cache, or once the waiting are
# many. The thresholds are the Inference Extension's saturation detector's defaults
# (pkg/epp/saturationdetector/config.go: queue depth 5, KV cache utilisation 0.8).
QUEUE_DEPTH = 5
QUEUE_KV_USAGE = 0.8


def queueing(load: EngineLoad) -> bool:
    """Does this reading show an engine that cannot start what it is sent?"""
    return load.waiting >= QUEUE_DEPTH or (load.waiting > 0 and load.kv_usage >= QUEUE_KV_USAGE)


class Health(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass
class Counters:
    """Cumulative, per deployment (for the status page and metrics)."""

    attempts: int = 0
    successes: int = 0
    # Deployment faults: connection errors, 5xx, timeouts, unreadable answers.
    failures: int = 0
    # The provider refused the request itself (4xx): the caller's fault.
    rejected: int = 0
    rate_limited: int = 0
    # Streams cut after the client had received part of them.
    interrupted: int = 0
    # The client went away first.
    cancelled: int = 0
    health_checks: int = 0
    health_failures: int = 0


class DeploymentState:
    def __init__(
        self,
        alias: str,
        deployment: Deployment,
        provider: Provider,
        breaker: BreakerPolicy,
        clock: Callable[[], float],
    ) -> None:
        self.alias = alias
        self.deployment = deployment
        self.provider = provider
        self.breaker = CircuitBreaker(deployment.name, breaker, clock)
        self.clock = clock
        self.in_flight = 0
        self.ttft_ewma: float | None = None
        # Skipped until then (the provider's Retry-After).
        self.cooldown_until = 0.0
        self.health = Health.UNKNOWN
        self.health_failures_in_a_row = 0
        self.counters = Counters()
        # The engine's last reported load (routing/load.py), when, and the requests this
        # router has sent it since (which that reading could not include).
        self.load: EngineLoad | None = None
        self.load_at = float("-inf")
        self.sent_since_load = 0
        # The prefixes this router sent the engine that its KV cache likely holds.
        self.resident = Residency()
        # A stable number for the name: the same on every router replica (not hash()).
        self.ring_key = int.from_bytes(
            hashlib.blake2b(deployment.name.encode(), digest_size=8).digest(), "big"
        )

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def priority(self) -> int:
        return self.deployment.priority

    @property
    def weight(self) -> float:
        return self.deployment.weight

    def update(self, deployment: Deployment, provider: Provider, breaker: BreakerPolicy) -> None:
        """A reload kept this deployment: take its new settings, keep what was learned."""
        self.deployment = deployment
        self.provider = provider
        self.breaker.policy = breaker

    def at_capacity(self) -> bool:
        cap = self.deployment.max_concurrency
        return cap is not None and self.in_flight >= cap

    def observe_load(self, load: EngineLoad | None, now: float) -> None:
        if load is not None:
            self.load, self.load_at, self.sent_since_load = load, now, 0

    def fresh_load(self, now: float, stale_seconds: float) -> EngineLoad | None:
        """The last reading of the engine's load, unless it is older than ``stale_seconds``."""
        return self.load if now - self.load_at <= stale_seconds else None

    def queue(self, load: EngineLoad) -> int:
        """Requests the engine holds or is about to: running, waiting, and sent since."""
        return load.running + load.waiting + self.sent_since_load

    def backlog(self, load: EngineLoad) -> int:
        """Requests the engine has not started because it cannot, as far as this router
        can tell: none unless it was queueing at the reading; then those waiting, and
        those sent since, which join the queue."""
        return load.waiting + self.sent_since_load if queueing(load) else 0

    def waiting(self, load: EngineLoad) -> int:
        """Requests not yet started, at most: waiting at the reading, and sent since (the
        reading is up to a scrape old; what this router sent since counts at once)."""
        return load.waiting + self.sent_since_load

    def cooling(self, now: float) -> bool:
        return now < self.cooldown_until

    def available(self, now: float) -> bool:
        """May a request go here now: below its cap, not cooling down, breaker allows."""
        return not self.at_capacity() and not self.cooling(now) and self.breaker.available()

    def acquire(self, *, panic: bool = False) -> Lease:
        """Count a request in; ``panic``: sent despite an open breaker (it probes it)."""
        self.in_flight += 1
        self.sent_since_load += 1
        self.counters.attempts += 1
        probe = self.breaker.acquire()
        return Lease(self, probe or panic)

    def observe_ttft(self, seconds: float) -> None:
        if self.ttft_ewma is None:
            self.ttft_ewma = seconds
        else:
            self.ttft_ewma += EWMA_ALPHA * (seconds - self.ttft_ewma)

    def record_health(self, ok: bool, policy: HealthPolicy) -> None:
        self.counters.health_checks += 1
        if ok:
            self.health_failures_in_a_row = 0
            self.health = Health.HEALTHY
            return
        self.counters.health_failures += 1
        self.health_failures_in_a_row += 1
        if self.health_failures_in_a_row >= policy.unhealthy_after:
            self.health = Health.UNHEALTHY
            self.breaker.trip(f"{self.health_failures_in_a_row} failed health checks in a row")


class Lease:
    """One attempt's hold on a deployment; record exactly one outcome, then release."""

    __slots__ = ("_probe", "_released", "provider", "started", "state")

    def __init__(self, state: DeploymentState, probe: bool) -> None:
        self.state = state
        # The adapter the attempt started with: a reload does not swap it mid-request.
        self.provider = state.provider
        self.started = state.clock()
        self._probe = probe
        self._released = False

    @property
    def name(self) -> str:
        return self.state.name

    def succeeded(self, first_token: float | None = None) -> None:
        """The answer (or a stream's first token) arrived; ``first_token``: seconds to a
        whole answer's first token, when it was read as a stream."""
        state = self.state
        state.observe_ttft(first_token if first_token is not None else state.clock() - self.started)
        state.counters.successes += 1
        state.breaker.record_success(probe=self._probe)
        # A stream goes on: its later failure is an ordinary one, not the probe's.
        self._probe = False

    def failed(self, exc: ProviderError, max_retry_after: float) -> None:
        """The attempt failed before anything reached the client; releases the lease."""
        state = self.state
        now = state.clock()
        if exc.retry_after:
            state.cooldown_until = max(
                state.cooldown_until, now + min(exc.retry_after, max_retry_after)
            )
        if isinstance(exc, ProviderTimeout):
            state.observe_ttft(now - self.started)
        if exc.deployment_fault:
            state.counters.failures += 1
            state.breaker.record_failure(probe=self._probe)
        elif isinstance(exc, ProviderRejected):
            # The provider answered, and correctly: it is alive.
            state.counters.rejected += 1
            state.breaker.record_success(probe=self._probe)
        else:
            state.counters.rate_limited += 1
            state.breaker.release(probe=self._probe)
        self._probe = False
        self.release()

    def interrupted(self) -> None:
        """A stream broke after the client had received part of it."""
        self.state.counters.interrupted += 1
        self.state.breaker.record_failure(probe=self._probe)
        self._probe = False

    def cancelled(self) -> None:
        """The client left; nothing was learned about the deployment."""
        self.state.counters.cancelled += 1
        self.state.breaker.release(probe=self._probe)
        self._probe = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            state = self.state
            state.in_flight -= 1
            # Sent and done since the engine's last reading: no longer part of its load.
            if self.started >= state.load_at and state.sent_since_load > 0:
                state.sent_since_load -= 1
