"""The circuit breaker: thresholds, cooldown, the single half-open probe, health trips."""

from __future__ import annotations

from router.catalog import BreakerPolicy
from router.routing.breaker import BreakerState, CircuitBreaker
from tests.support.routerkit import FakeClock


def breaker(clock: FakeClock, **policy: float) -> CircuitBreaker:
    defaults: dict[str, float] = {"consecutive_failures": 3, "cooldown_seconds": 5}
    return CircuitBreaker("d1", BreakerPolicy.model_validate(defaults | policy), clock)


def fail(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        probe = b.acquire()
        b.record_failure(probe=probe)


def succeed(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        probe = b.acquire()
        b.record_success(probe=probe)


def test_opens_after_consecutive_failures(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 2)
    assert b.state is BreakerState.CLOSED
    assert b.available()
    fail(b)
    assert b.state is BreakerState.OPEN
    assert not b.available()
    assert b.opened == 1
    assert b.retry_at == clock.now + 5


def test_a_success_resets_the_run_of_failures(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 2)
    succeed(b)
    fail(b, 2)
    assert b.state is BreakerState.CLOSED


def test_opens_on_failure_ratio_over_the_window(clock: FakeClock) -> None:
    b = breaker(clock, consecutive_failures=100, failure_ratio=0.5, min_calls=10, window_seconds=10)
    for _ in range(5):
        succeed(b)
        fail(b)
        clock.advance(0.5)
    # 10 calls, 5 failed: the ratio is reached with the minimum number of calls.
    assert b.state is BreakerState.OPEN


def test_ratio_needs_min_calls_and_forgets_old_calls(clock: FakeClock) -> None:
    b = breaker(clock, consecutive_failures=100, failure_ratio=0.5, min_calls=10, window_seconds=10)
    for _ in range(4):
        fail(b)
        succeed(b)
    assert b.state is BreakerState.CLOSED  # 8 calls: too few to judge
    clock.advance(30)  # the window moved on: those calls no longer count
    assert b.window_counts() == (0, 0)
    fail(b)
    succeed(b)
    assert b.state is BreakerState.CLOSED


def test_half_open_after_cooldown_lets_exactly_one_probe(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(4.9)
    assert not b.available()
    clock.advance(0.2)
    assert b.available()
    assert b.acquire() is True
    assert b.state is BreakerState.HALF_OPEN
    # While the probe runs, nothing else goes through.
    assert not b.available()
    assert b.acquire() is False


def test_probe_success_closes(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(6)
    probe = b.acquire()
    b.record_success(probe=probe)
    assert b.state is BreakerState.CLOSED
    assert b.consecutive_failures == 0
    assert b.available()


def test_probe_failure_reopens_for_another_cooldown(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(6)
    probe = b.acquire()
    b.record_failure(probe=probe)
    assert b.state is BreakerState.OPEN
    assert b.opened == 2
    assert b.retry_at == clock.now + 5


def test_probe_that_ends_without_a_verdict_frees_the_slot(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(6)
    probe = b.acquire()
    b.release(probe=probe)  # the client left
    assert b.state is BreakerState.HALF_OPEN
    assert b.available()


def test_late_outcomes_of_older_calls_decide_nothing(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    b.record_success(probe=False)  # a call that started before the breaker opened
    assert b.state is BreakerState.OPEN
    clock.advance(6)
    b.acquire()
    b.record_failure(probe=False)
    assert b.state is BreakerState.HALF_OPEN


def test_trip_opens_but_does_not_extend_an_open_breaker(clock: FakeClock) -> None:
    b = breaker(clock)
    b.trip("health checks failed")
    assert b.state is BreakerState.OPEN
    opened_at = b.opened_at
    clock.advance(2)
    b.trip("still failing")
    assert b.opened_at == opened_at
    assert b.opened == 1


def test_panic_call_success_closes_an_open_breaker(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    b.record_success(probe=True)  # sent despite the open breaker, and it worked
    assert b.state is BreakerState.CLOSED
