"""Sending one request: choosing deployments, failing over and retrying (with tenacity).

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

Only failures that are safe to retry are retried (``ProviderError.retryable``):
connection errors, timeouts before the first token, 429 and 5xx, answers that broke
before anything reached the client. A provider's 4xx is the caller's and goes straight
back. At most ``max_attempts`` attempts; no attempt or backoff goes past
``budget_seconds`` after the request arrived (a running attempt is bounded by its
deployment's own timeouts). A stream is handed back once its first token arrived; from
then on nothing is retried - the caller relays it, and a failure becomes an error event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from gateway_shared.errors import GatewayError
from router.catalog import RetryPolicy
from router.providers.base import Completion, CompletionStream, Operation, Provider
from router.providers.errors import ProviderError, ProviderRateLimited
from router.routing.deployment import DeploymentState, Lease
from router.routing.table import Route

log = logging.getLogger("router.routing")


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


@functools.cache
def _backoff(initial: float, maximum: float) -> wait_random_exponential:
    """Made once per setting, not per request: building one showed in the router's profile."""
    return wait_random_exponential(multiplier=initial, max=maximum)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def no_deployment(route: Route, operation: Operation, now: float) -> GatewayError:
    """Why nothing could take the request, as the client should hear it."""
    states = [s for s in route.deployments if s.supports(operation)]
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


class Attempts:
    """One request's way through the deployments of its route."""

    def __init__(
        self,
        route: Route,
        operation: Operation,
        policy: RetryPolicy,
        clock: Callable[[], float],
        counters: RoutingCounters,
    ) -> None:
        self.route = route
        self.operation = operation
        self.policy = policy
        self._clock = clock
        self._counters = counters
        self._candidates = [s for s in route.deployments if s.supports(operation)]
        self._tried: set[str] = set()
        self.started = clock()
        self.pending: DeploymentState | None = None
        self.last: DeploymentState | None = None
        self.first_priority: int | None = None
        self.last_error: ProviderError | None = None

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
        return self.route.balancer.choose(group) if group else None

    def _again(self, now: float) -> tuple[DeploymentState, float] | None:
        """The deployment ready first (within the budget), and when it is ready."""
        remaining = self.policy.budget_seconds - (now - self.started)
        best: tuple[float, int, DeploymentState] | None = None
        for state in self._candidates:
            if state.at_capacity() or not state.breaker.available():
                continue
            ready = max(now, state.cooldown_until)
            if ready - now > remaining:
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
        return self.route.balancer.choose(group) if group else None

    # -- tenacity hooks --------------------------------------------------------------

    def wait(self, retry_state: RetryCallState) -> float:
        now = self._clock()
        fresh = self._fresh(now)
        if fresh is not None:
            self.pending = fresh
            return 0.0
        again = self._again(now)
        if again is None:
            self.pending = self._panic(now)
            return 0.0
        self.pending, ready = again
        backoff = _backoff(self.policy.backoff_initial_seconds, self.policy.backoff_max_seconds)
        return max(ready - now, backoff(retry_state))

    def stop(self, retry_state: RetryCallState) -> bool:
        if self.pending is None or retry_state.attempt_number >= self.policy.max_attempts:
            return True
        elapsed = self._clock() - self.started
        return elapsed + (retry_state.upcoming_sleep or 0.0) > self.policy.budget_seconds

    def before_sleep(self, retry_state: RetryCallState) -> None:
        if self.pending is not None and self.last is not None:
            log.info(
                "%s: attempt %d on %s failed (%s); next: %s in %.2fs",
                self.route.alias,
                retry_state.attempt_number,
                self.last.name,
                self.last_error.code if self.last_error else "?",
                self.pending.name,
                retry_state.upcoming_sleep,
            )

    # -- attempts --------------------------------------------------------------------

    def take(self) -> Lease:
        now = self._clock()
        state = self.pending if self.pending and self.pending.available(now) else None
        state = state or self._fresh(now)
        panic = False
        if state is None and (state := self._panic(now)) is not None:
            panic = True
            self._counters.panics += 1
            log.info("%s: every breaker is open; panic routing to %s", self.route.alias, state.name)
        if state is None:
            if self.last_error is not None:
                raise self.last_error
            self._counters.unavailable += 1
            raise no_deployment(self.route, self.operation, now)
        if self.last is not None:
            self._counters.retries += 1
            if state is not self.last:
                self._counters.failovers += 1
            if self.first_priority is not None and state.priority > self.first_priority:
                self._counters.fallbacks += 1
        else:
            self.first_priority = state.priority
        self.last = state
        self._tried.add(state.name)
        self.pending = None
        return state.acquire(panic=panic)


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

    async def complete(
        self, route: Route, operation: Operation, body: dict[str, Any], policy: RetryPolicy
    ) -> Completion:
        completion, lease = await self._run(
            route, operation, policy, lambda p: p.complete(operation, body)
        )
        lease.release()
        return completion

    async def stream(
        self, route: Route, operation: Operation, body: dict[str, Any], policy: RetryPolicy
    ) -> tuple[CompletionStream, Lease]:
        """A stream whose first token arrived, and the lease the caller must settle."""
        return await self._run(route, operation, policy, lambda p: p.stream(operation, body))

    async def _run[T](
        self,
        route: Route,
        operation: Operation,
        policy: RetryPolicy,
        call: Callable[[Provider], Awaitable[T]],
    ) -> tuple[T, Lease]:
        self.counters.requests += 1
        attempts = Attempts(route, operation, policy, self._clock, self.counters)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=attempts.wait,
            stop=attempts.stop,
            before_sleep=attempts.before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return await retrying(self._attempt, attempts, policy, call)
        except ProviderError as exc:
            if exc.retryable and attempts.last is not None:
                self.counters.exhausted += 1
            raise
        finally:
            # tenacity keeps its last step's actions, bound methods of the retrying object,
            # on the object itself: a reference cycle per request (with the Attempts behind
            # it) for the cyclic garbage collector. Dropping them frees it all at once.
            retrying.iter_state.reset()

    @staticmethod
    async def _attempt[T](
        attempts: Attempts, policy: RetryPolicy, call: Callable[[Provider], Awaitable[T]]
    ) -> tuple[T, Lease]:
        lease = attempts.take()
        try:
            result = await call(lease.provider)
        except ProviderError as exc:
            lease.failed(exc, policy.max_retry_after_seconds)
            attempts.last_error = exc
            raise
        except BaseException:
            lease.cancelled()
            lease.release()
            raise
        lease.succeeded()
        return result, lease
