"""A circuit breaker per deployment.

- **closed**: traffic flows. Each call's outcome is recorded; the breaker opens after
  ``consecutive_failures`` failures in a row, or when at least ``min_calls`` calls in
  the last ``window_seconds`` saw a ``failure_ratio`` share of failures.
- **open**: the deployment is skipped for ``cooldown_seconds``.
- **half-open**: after the cooldown, one request (the probe) is let through. Its success
  closes the breaker, its failure opens it again for another cooldown.

A request sent while the breaker is open (panic routing: nothing else could take it)
counts as a probe too: its success closes the breaker at once.

A health check that fails repeatedly trips the breaker too (:meth:`trip`). Outcomes of
calls that started before the breaker changed state do not decide anything: only the
probe decides a half-open breaker.

The state is plain attributes (``state``, ``opened``, counters) so that status pages
and metrics can read it. Time comes from an injected monotonic clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from router.catalog import BreakerPolicy

log = logging.getLogger("router.breaker")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, name: str, policy: BreakerPolicy, clock: Callable[[], float]) -> None:
        self.name = name
        self.policy = policy
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.opened_at = 0.0
        self.consecutive_failures = 0
        self.probe_in_flight = False
        # Times the breaker opened, for metrics.
        self.opened = 0
        # One [second, calls, failures] bucket per second of the window.
        self._window: deque[list[int]] = deque()

    # -- reading ---------------------------------------------------------------------

    @property
    def retry_at(self) -> float | None:
        """When an open breaker half-opens; None unless open."""
        if self.state is BreakerState.OPEN:
            return self.opened_at + self.policy.cooldown_seconds
        return None

    def available(self) -> bool:
        """May a request be sent now? (No side effect; see :meth:`acquire`.)"""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self._clock() >= self.opened_at + self.policy.cooldown_seconds
        return not self.probe_in_flight

    def window_counts(self) -> tuple[int, int]:
        self._trim(self._clock())
        calls = sum(b[1] for b in self._window)
        failures = sum(b[2] for b in self._window)
        return calls, failures

    # -- acting ----------------------------------------------------------------------

    def acquire(self) -> bool:
        """A request is being sent; returns True if it is the half-open probe."""
        if self.state is BreakerState.OPEN and self.available():
            self._move(BreakerState.HALF_OPEN, "cooldown over, probing")
        if self.state is BreakerState.HALF_OPEN and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        return False

    def record_success(self, *, probe: bool) -> None:
        if probe:
            self.probe_in_flight = False
            if self.state is not BreakerState.CLOSED:
                self._close()
            return
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            self._count(failed=False)

    def record_failure(self, *, probe: bool) -> None:
        if probe:
            self.probe_in_flight = False
            if self.state is BreakerState.HALF_OPEN:
                self._open("the probe failed")
            return
        if self.state is not BreakerState.CLOSED:
            return
        self.consecutive_failures += 1
        calls, failures = self._count(failed=True)
        policy = self.policy
        if self.consecutive_failures >= policy.consecutive_failures:
            self._open(f"{self.consecutive_failures} failures in a row")
        elif calls >= policy.min_calls and failures / calls >= policy.failure_ratio:
            self._open(f"{failures} of {calls} calls failed in {policy.window_seconds:g}s")

    def release(self, *, probe: bool) -> None:
        """The call ended without saying anything about the deployment (client left)."""
        if probe:
            self.probe_in_flight = False

    def trip(self, reason: str) -> None:
        """Open now (failed health checks); an already open breaker keeps its cooldown."""
        if self.state is not BreakerState.OPEN:
            self._open(reason)

    # -- internals -------------------------------------------------------------------

    def _trim(self, now: float) -> None:
        horizon = int(now) - int(self.policy.window_seconds)
        while self._window and self._window[0][0] <= horizon:
            self._window.popleft()

    def _count(self, *, failed: bool) -> tuple[int, int]:
        now = self._clock()
        second = int(now)
        if self._window and self._window[-1][0] == second:
            bucket = self._window[-1]
        else:
            bucket = [second, 0, 0]
            self._window.append(bucket)
        bucket[1] += 1
        bucket[2] += int(failed)
        return self.window_counts()

    def _open(self, reason: str) -> None:
        self.opened_at = self._clock()
        self.probe_in_flight = False
        self.opened += 1
        self._move(BreakerState.OPEN, reason)

    def _close(self) -> None:
        self.consecutive_failures = 0
        self._window.clear()
        self._move(BreakerState.CLOSED, "the probe succeeded")

    def _move(self, state: BreakerState, reason: str) -> None:
        if state is not self.state:
            log.warning("circuit breaker %s: %s -> %s (%s)", self.name, self.state, state, reason)
        self.state = state
