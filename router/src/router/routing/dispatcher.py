"""The heart of the router: sending one request to a deployment of its route, failing
over and retrying until it is answered or out of attempts.

For each attempt:

1. The first priority group (lowest ``priority``) that still has an *available*
   deployment this request has not tried yet is used - within it the alias's balancer
   chooses. Available: below its concurrency cap, not cooling down after a Retry-After,
   and its breaker lets requests through. So a request moves to another deployment of
   its group first, and to the next group (the fallback) once its group is exhausted or
   unhealthy. Moving to another deployment is immediate.
2. When no untried deployment is left, a tried one may be tried again: the one ready
   first (its Retry-After), after exponential backoff with full jitter
   (``backoff_initial_seconds`` doubling up to ``backoff_max_seconds``).
3. When every deployment is held back only by its open breaker, one of them takes the
   request anyway (panic routing, unless the catalog turns it off).

Only failures that are safe to retry are retried (``ProviderError.retryable``):
connection errors, timeouts before the first token, 429 and 5xx, answers that broke
before anything reached the client. A provider's 4xx is the caller's and goes straight
back. At most ``max_attempts`` attempts; no attempt or backoff goes past
``budget_seconds`` after the request arrived (a running attempt is bounded by its
deployment's own timeouts). tenacity supplies the attempt count and the backoff
(``stop_after_attempt``, ``wait_random_exponential``); the choice of deployment, and so
how long to wait for it, is this module's.

A stream is handed back as a :class:`RoutedStream` once its first token arrived; from
then on nothing is retried, and the stream owns its deployment's lease until it ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_random_exponential

from gateway_shared.errors import GatewayError
from gateway_shared.plans import Priority
from gateway_shared.prices import Prices
from gateway_shared.wire.report import Usage
from router.catalog import LoadPolicy, RetryPolicy
from router.providers.base import Completion, CompletionStream, Headers, Provider
from router.providers.bridge import Bridge
from router.providers.errors import ProviderError, ProviderRateLimited
from router.routing.affinity import Prefix
from router.routing.deployment import DeploymentState, Lease
from router.routing.saturation import overloaded
from router.routing.table import Route

log = logging.getLogger("router.routing")

# tenacity's strategies read a RetryCallState, which must name a retrying object: this
# one is never run, so no per-request state hangs off it.
_STRATEGIES_ONLY = AsyncRetrying()


@dataclass
class RoutingCounters:
    """Cumulative, for the whole router (status page and metrics)."""

    requests: int = 0
    # Attempts after a request's first one.
    retries: int = 0
    # Attempts that went to another deployment than the previous attempt.
    failovers: int = 0
    # Attempts in a lower priority group than the request's first attempt.
    fallbacks: int = 0
    # Requests that failed after all their attempts.
    exhausted: int = 0
    # Requests refused before any attempt: no deployment could take them.
    unavailable: int = 0
    # Attempts sent despite an open breaker, nothing else being able to take them.
    panics: int = 0
    # Requests refused by the saturation guard: alias -> priority -> count.
    shed: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hints:
    """What the router knows of a request beyond its body: the key's plan priority, and
    the prompt's prefix where the alias balances by it (``routing/affinity.py``)."""

    priority: Priority = Priority.NORMAL
    affinity: Prefix | None = None


@functools.cache
def _backoff(initial: float, maximum: float) -> wait_random_exponential:
    """Made once per setting, not per request: building one showed in the router's profile."""
    return wait_random_exponential(multiplier=initial, max=maximum)


@functools.cache
def _attempts_cap(max_attempts: int) -> stop_after_attempt:
    return stop_after_attempt(max_attempts)


def no_deployment(route: Route, bridge: Bridge, now: float) -> GatewayError:
    """Why nothing could take the request, as the client should hear it."""
    states = [s for s in route.deployments if bridge.serves(s.provider)]
    if not states:
        return GatewayError(
            f"The model `{route.alias}` does not support this endpoint.",
            status=400,
            param="model",
            code="unsupported_operation",
        )
    if any(s.at_capacity() for s in states):
        return GatewayError(
            f"The model `{route.alias}` is at capacity. Please retry shortly.",
            status=503,
            code="model_overloaded",
            headers={"retry-after": "1"},
        )
    cooling = [s.cooldown_until for s in states if s.cooling(now)]
    if cooling and len(cooling) == len(states):
        return ProviderRateLimited(retry_after=min(cooling) - now)
    reopen = [s.breaker.retry_at for s in states if s.breaker.retry_at is not None]
    wait = max(1, round(min(reopen) - now)) if reopen else 1
    return GatewayError(
        f"No deployment of the model `{route.alias}` is healthy right now. Please retry shortly.",
        status=503,
        code="no_healthy_deployment",
        headers={"retry-after": str(wait)},
    )


_NO_HINTS = Hints()


class Attempts:
    """One request's way through the deployments of its route."""

    def __init__(
        self,
        route: Route,
        bridge: Bridge,
        clock: Callable[[], float],
        counters: RoutingCounters,
        affinity: Prefix | None = None,
    ) -> None:
        self.route = route
        self.affinity = affinity
        self.bridge = bridge
        self._clock = clock
        self._counters = counters
        self._candidates = [s for s in route.deployments if bridge.serves(s.provider)]
        self._tried: set[str] = set()
        self.started = clock()
        self.first: DeploymentState | None = None
        self.last: DeploymentState | None = None
        self.first_priority: int | None = None

    def _fresh(self, now: float) -> DeploymentState | None:
        """An available deployment not tried yet, from the first group that has one."""
        group: list[DeploymentState] = []
        priority: int | None = None
        for state in self._candidates:  # ordered by priority
            if priority is not None and state.priority != priority and group:
                break
            priority = state.priority
            if state.name not in self._tried and state.available(now):
                group.append(state)
        return self.route.balancer.choose(group, self.affinity, now) if group else None

    def _again(self, now: float, until: float) -> tuple[DeploymentState, float] | None:
        """The deployment ready first (no later than ``until``), and when it is ready."""
        best: tuple[float, int, DeploymentState] | None = None
        for state in self._candidates:
            if state.at_capacity() or not state.breaker.available():
                continue
            ready = max(now, state.cooldown_until)
            if ready > until:
                continue
            if best is None or (ready, state.priority) < best[:2]:
                best = (ready, state.priority, state)
        return (best[2], best[0]) if best else None

    def _panic(self, now: float) -> DeploymentState | None:
        """An untried deployment held back only by its open breaker (panic routing)."""
        if not self.route.panic_routing:
            return None
        group: list[DeploymentState] = []
        for state in self._candidates:
            if group and state.priority != group[0].priority:
                break
            if state.name in self._tried or state.at_capacity() or state.cooling(now):
                continue
            group.append(state)
        return self.route.balancer.choose(group, self.affinity, now) if group else None

    def wait_before_next(self, policy: RetryPolicy, retry: RetryCallState) -> float | None:
        """Seconds until the next attempt may start; None when there is none to make."""
        now = self._clock()
        if self._fresh(now) is not None:
            return 0.0
        again = self._again(now, self.started + policy.budget_seconds)
        if again is not None:
            _, ready = again
            backoff = _backoff(policy.backoff_initial_seconds, policy.backoff_max_seconds)
            return max(ready - now, backoff(retry))
        return 0.0 if self._panic(now) is not None else None

    def take(self, previous: ProviderError | None) -> Lease:
        """A lease on the deployment for the next attempt. When none can take it: the
        previous attempt's error if there was one, else why none could."""
        now = self._clock()
        state = self._fresh(now)
        panic = False
        if state is None and (again := self._again(now, now)) is not None:
            state = again[0]
        if state is None and (state := self._panic(now)) is not None:
            panic = True
            self._counters.panics += 1
            log.info("%s: every breaker is open; panic routing to %s", self.route.alias, state.name)
        if state is None:
            if previous is not None:
                self._counters.exhausted += 1
                raise previous
            self._counters.unavailable += 1
            raise no_deployment(self.route, self.bridge, now)
        if self.last is not None:
            self._counters.retries += 1
            if state is not self.last:
                self._counters.failovers += 1
            if self.first_priority is not None and state.priority > self.first_priority:
                self._counters.fallbacks += 1
        else:
            self.first, self.first_priority = state, state.priority
        self.last = state
        self._tried.add(state.name)
        return state.acquire(panic=panic)


class RoutedStream:
    """A stream whose first token arrived, holding its deployment's lease until it ends.

    Iterating yields the provider's events; if the provider breaks off, the last event is
    the API's failure event (the client already has part of the answer: it must see the
    stream fail, not end). However it ends - finished, broken, or abandoned by the
    client - the lease
    records the outcome and is released, once, in :meth:`aclose`.
    """

    def __init__(self, stream: CompletionStream, lease: Lease) -> None:
        self._stream = stream
        self._lease = lease
        self._ended = False

    @property
    def usage(self) -> Usage:
        return self._stream.usage

    @property
    def prices(self) -> Prices | None:
        """The prices of the deployment the stream came from."""
        return self._lease.provider.deployment.prices

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._stream:
                yield data
        except ProviderError as exc:
            self._ended = True
            self._lease.interrupted()
            yield self._stream.failure_event(exc)
            return
        self._ended = True

    async def aclose(self) -> None:
        if not self._ended:  # the client went away
            self._ended = True
            self._lease.cancelled()
        self._lease.release()
        await self._stream.aclose()


class Dispatcher:
    """Runs requests through :class:`Attempts`; one per router."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.counters = RoutingCounters()
        # The catalog's, set by the router state at every (re)load.
        self.load_policy = LoadPolicy()

    async def complete(
        self,
        route: Route,
        bridge: Bridge,
        body: dict[str, Any],
        policy: RetryPolicy,
        headers: Headers = None,
        *,
        hints: Hints = _NO_HINTS,
    ) -> Completion:
        completion, lease = await self._run(
            route,
            bridge,
            policy,
            lambda p, failover: bridge.complete(p, body, failover=failover, headers=headers),
            hints,
        )
        lease.release()
        return dataclasses.replace(completion, prices=lease.provider.deployment.prices)

    async def stream(
        self,
        route: Route,
        bridge: Bridge,
        body: dict[str, Any],
        policy: RetryPolicy,
        headers: Headers = None,
        *,
        hints: Hints = _NO_HINTS,
    ) -> RoutedStream:
        stream, lease = await self._run(
            route,
            bridge,
            policy,
            lambda p, failover: bridge.stream(p, body, failover=failover, headers=headers),
            hints,
        )
        return RoutedStream(stream, lease)

    async def _run[T](
        self,
        route: Route,
        bridge: Bridge,
        policy: RetryPolicy,
        call: Callable[[Provider, bool], Awaitable[T]],
        hints: Hints,
    ) -> tuple[T, Lease]:
        """The first answer and its lease (still held), or the last attempt's error.
        ``call`` is told whether the attempt failed over from the first deployment."""
        self.counters.requests += 1
        refusal = overloaded(route, hints.priority, self._clock(), self.load_policy)
        if refusal is not None:
            shed = self.counters.shed.setdefault(route.alias, {})
            shed[hints.priority] = shed.get(hints.priority, 0) + 1
            raise refusal
        attempts = Attempts(route, bridge, self._clock, self.counters, hints.affinity)
        retry = RetryCallState(_STRATEGIES_ONLY, None, (), {})
        out_of_attempts = _attempts_cap(policy.max_attempts)
        previous: ProviderError | None = None
        try:
            while True:
                lease = attempts.take(previous)
                try:
                    result = await call(lease.provider, lease.state is not attempts.first)
                except ProviderError as exc:
                    lease.failed(exc, policy.max_retry_after_seconds)
                    wait = self._wait_before_retry(exc, attempts, policy, retry, out_of_attempts)
                    if wait is None:
                        if exc.retryable and attempts.last is not None:
                            self.counters.exhausted += 1
                        raise
                    log.info(
                        "%s: attempt %d on %s failed (%s); retrying in %.2fs",
                        route.alias,
                        retry.attempt_number,
                        lease.name,
                        exc.code,
                        wait,
                    )
                    previous = exc
                except BaseException:
                    lease.cancelled()
                    lease.release()
                    raise
                else:
                    lease.succeeded(
                        result.first_token_seconds if isinstance(result, Completion) else None
                    )
                    return result, lease
                await self._sleep(wait)
                retry.prepare_for_next_attempt()
        finally:
            # The error's traceback holds this frame: let go of it, or the two would
            # wait for the cycle collector together.
            previous = None

    def _wait_before_retry(
        self,
        exc: ProviderError,
        attempts: Attempts,
        policy: RetryPolicy,
        retry: RetryCallState,
        out_of_attempts: stop_after_attempt,
    ) -> float | None:
        """How long to wait before retrying after ``exc``; None: answer with ``exc``."""
        if not exc.retryable or out_of_attempts(retry):
            return None
        wait = attempts.wait_before_next(policy, retry)
        if wait is None:
            return None
        if self._clock() - attempts.started + wait > policy.budget_seconds:
            return None
        return wait
