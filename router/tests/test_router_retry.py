"""The dispatcher: failover, retries only where safe, backoff, Retry-After, budget,
fallback across priority groups, concurrency caps, breakers and panic routing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from gateway_shared.errors import GatewayError
from router.catalog import Catalog, Strategy
from router.providers.base import Completion, Operation
from router.providers.bridge import Direct
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from router.routing.breaker import BreakerState
from router.routing.dispatcher import Dispatcher
from tests.support.routerkit import (
    FakeClock,
    build_table,
    fake_catalog,
    fake_deployment,
    ok,
    provider_of,
)
from tests.support.waiting import eventually

BODY: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


class Harness:
    def __init__(self, catalog: Catalog) -> None:
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self.table, _ = build_table(catalog, self.clock)
        self.dispatcher = Dispatcher(clock=self.clock, sleep=self._sleep)
        self.policy = catalog.routing.retry

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def script(self, name: str, *outcomes: Any) -> None:
        provider = provider_of(self.table, name)
        provider.script = [o if not isinstance(o, str) else ok(o) for o in outcomes]

    def calls(self, name: str) -> int:
        return provider_of(self.table, name).calls

    def state(self, name: str) -> Any:
        return self.table.states[name]

    async def complete(self, operation: Operation = Operation.CHAT) -> Completion:
        route = self.table.get("chat")
        assert route is not None
        return await self.dispatcher.complete(route, Direct(operation), BODY, self.policy)

    async def served_by(self) -> str:
        return str(orjson.loads((await self.complete()).body)["served_by"])


def two(
    strategy: Strategy = Strategy.WEIGHTED, routing: dict[str, Any] | None = None, **b: Any
) -> Harness:
    catalog = fake_catalog(
        fake_deployment("a"),
        fake_deployment("b", **b),
        strategy=strategy,
        routing={"breaker": {"consecutive_failures": 3, "cooldown_seconds": 10}} | (routing or {}),
    )
    return Harness(catalog)


def one(routing: dict[str, Any] | None = None) -> Harness:
    return Harness(fake_catalog(fake_deployment("a"), routing=routing))


async def test_a_failing_deployment_is_routed_around_and_its_breaker_opens() -> None:
    h = two()
    h.script("a", ProviderUnavailable())
    h.script("b", "b")
    served = [await h.served_by() for _ in range(30)]
    assert served == ["b"] * 30  # every request succeeded
    assert h.state("a").breaker.state is BreakerState.OPEN
    assert h.calls("a") == 3  # then skipped while open
    assert h.sleeps == [0.0] * 3  # moving to another deployment does not wait
    assert h.dispatcher.counters.failovers == 3


async def test_traffic_returns_after_the_cooldown_probe_succeeds() -> None:
    h = two(Strategy.ROUND_ROBIN)
    h.script("a", ProviderUnavailable(), ProviderUnavailable(), ProviderUnavailable(), "a")
    h.script("b", "b")
    for _ in range(10):
        await h.served_by()
    assert h.state("a").breaker.state is BreakerState.OPEN
    h.clock.advance(10.1)
    served = [await h.served_by() for _ in range(10)]
    assert h.state("a").breaker.state is BreakerState.CLOSED
    assert served.count("a") >= 4


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_provider_4xx_goes_back_as_is_and_is_not_retried(status: int) -> None:
    h = two()
    rejected = ProviderRejected("bad max_tokens", status, "invalid_value")
    h.script("a", rejected)
    h.script("b", rejected)
    with pytest.raises(ProviderRejected) as caught:
        await h.complete()
    assert caught.value.status == status
    assert h.calls("a") + h.calls("b") == 1
    assert h.state("a").breaker.consecutive_failures == 0


async def test_non_retryable_provider_error_is_not_retried() -> None:
    h = two()
    misconfigured = ProviderError("The gateway is misconfigured for this model provider.")
    h.script("a", misconfigured)
    h.script("b", misconfigured)
    with pytest.raises(ProviderError):
        await h.complete()
    assert h.calls("a") + h.calls("b") == 1


async def test_same_deployment_is_retried_after_jittered_backoff() -> None:
    h = one({"retry": {"backoff_initial_seconds": 0.2}})
    h.script("a", ProviderTimeout(), "a")
    assert await h.served_by() == "a"
    assert h.calls("a") == 2
    (slept,) = h.sleeps
    assert 0 <= slept <= 0.2


async def test_backoff_grows_and_is_capped() -> None:
    h = one(
        {
            "retry": {
                "max_attempts": 6,
                "backoff_initial_seconds": 1,
                "backoff_max_seconds": 3,
                "budget_seconds": 100,
            },
            "breaker": {"consecutive_failures": 100},
        }
    )
    h.script("a", ProviderUnavailable())
    with pytest.raises(ProviderUnavailable):
        await h.complete()
    assert h.calls("a") == 6
    assert all(s <= 3 for s in h.sleeps)


async def test_retry_after_is_honoured_for_the_same_deployment() -> None:
    h = one()
    h.script("a", ProviderRateLimited(retry_after=2.0), "a")
    assert await h.served_by() == "a"
    assert h.sleeps[0] >= 2.0


async def test_retry_after_beyond_the_budget_answers_429_at_once() -> None:
    h = one({"retry": {"budget_seconds": 5}})
    h.script("a", ProviderRateLimited(retry_after=60.0))
    with pytest.raises(ProviderRateLimited) as caught:
        await h.complete()
    assert h.sleeps == []
    assert caught.value.headers == {"retry-after": "60"}
    # Meanwhile the deployment is skipped by other requests too.
    with pytest.raises(ProviderRateLimited) as again:
        await h.complete()
    assert h.calls("a") == 1
    assert again.value.status == 429


async def test_rate_limited_deployment_is_skipped_for_its_retry_after() -> None:
    h = two(Strategy.ROUND_ROBIN)
    h.script("a", ProviderRateLimited(retry_after=5.0), "a")
    h.script("b", "b")
    served = [await h.served_by() for _ in range(6)]
    assert served == ["b"] * 6
    assert h.sleeps == [0.0]
    assert h.state("a").breaker.state is BreakerState.CLOSED  # a 429 is not a fault
    h.clock.advance(5)
    assert "a" in [await h.served_by() for _ in range(2)]


async def test_attempts_are_bounded() -> None:
    h = one({"retry": {"max_attempts": 3}, "breaker": {"consecutive_failures": 100}})
    h.script("a", ProviderUnavailable())
    with pytest.raises(ProviderUnavailable):
        await h.complete()
    assert h.calls("a") == 3
    assert h.dispatcher.counters.exhausted == 1
    assert h.dispatcher.counters.retries == 2


async def test_no_backoff_past_the_budget() -> None:
    h = one(
        {
            "retry": {
                "max_attempts": 10,
                "backoff_initial_seconds": 20,
                "backoff_max_seconds": 20,
                "budget_seconds": 5,
            },
            "breaker": {"consecutive_failures": 1000},
        }
    )
    # Full jitter draws waits of 0..20 s: whatever it draws, a request's waits stay
    # within its 5 s budget (a wait that would overrun it ends the request instead).
    for _ in range(30):
        h.sleeps.clear()
        h.script("a", ProviderUnavailable())
        with pytest.raises(ProviderUnavailable):
            await h.complete()
        assert sum(h.sleeps) <= 5


async def test_fallback_group_is_used_only_when_the_first_is_exhausted() -> None:
    h = two(priority=1)
    h.script("a", "a")
    h.script("b", "b")
    assert {await h.served_by() for _ in range(20)} == {"a"}
    h.script("a", ProviderUnavailable())
    assert await h.served_by() == "b"
    assert h.dispatcher.counters.fallbacks == 1


async def test_unhealthy_group_is_skipped_without_an_attempt() -> None:
    h = two(priority=1)
    h.state("a").breaker.trip("health checks failed")
    h.script("b", "b")
    assert await h.served_by() == "b"
    assert h.calls("a") == 0
    assert h.dispatcher.counters.panics == 0


async def test_deployment_at_its_cap_is_skipped() -> None:
    catalog = fake_catalog(
        fake_deployment("a", max_concurrency=1, weight=100), fake_deployment("b")
    )
    h = Harness(catalog)
    h.script("b", "b")
    held = h.state("a").acquire()
    assert h.state("a").at_capacity()
    assert {await h.served_by() for _ in range(10)} == {"b"}
    held.release()
    assert not h.state("a").at_capacity()


async def test_everything_at_capacity_is_503_overloaded() -> None:
    h = Harness(fake_catalog(fake_deployment("a", max_concurrency=1)))
    held = h.state("a").acquire()
    with pytest.raises(GatewayError) as caught:
        await h.complete()
    assert caught.value.status == 503
    assert caught.value.code == "model_overloaded"
    held.release()


async def test_panic_routing_keeps_a_lone_deployment_in_service() -> None:
    h = one({"breaker": {"consecutive_failures": 1}})
    h.script("a", ProviderUnavailable(), "a")
    with pytest.raises(ProviderUnavailable):
        await h.complete()
    assert h.state("a").breaker.state is BreakerState.OPEN
    # Nothing else can serve: the request goes anyway, and its success closes the breaker.
    assert await h.served_by() == "a"
    assert h.dispatcher.counters.panics == 1
    assert h.state("a").breaker.state is BreakerState.CLOSED


async def test_without_panic_routing_an_open_breaker_fails_fast() -> None:
    h = one({"breaker": {"consecutive_failures": 1, "panic_routing": False, "cooldown_seconds": 7}})
    h.script("a", ProviderUnavailable())
    with pytest.raises(ProviderUnavailable):
        await h.complete()
    with pytest.raises(GatewayError) as caught:
        await h.complete()
    assert caught.value.status == 503
    assert caught.value.code == "no_healthy_deployment"
    assert caught.value.headers == {"retry-after": "7"}
    assert h.calls("a") == 1


async def test_operations_go_only_to_deployments_that_support_them() -> None:
    catalog = fake_catalog(
        fake_deployment("a", provider="fake-chat", weight=100), fake_deployment("b")
    )
    h = Harness(catalog)
    h.script("b", "b")
    route = h.table.get("chat")
    assert route is not None
    for _ in range(5):
        await h.dispatcher.complete(route, Direct(Operation.EMBEDDINGS), BODY, h.policy)
    assert h.calls("a") == 0
    only_chat = Harness(fake_catalog(fake_deployment("a", provider="fake-chat")))
    with pytest.raises(GatewayError) as caught:
        await only_chat.complete(Operation.EMBEDDINGS)
    assert caught.value.status == 400
    assert caught.value.code == "unsupported_operation"


async def test_stream_is_retried_before_its_first_token_and_holds_its_lease() -> None:
    h = one()
    h.script("a", ProviderTimeout(), "a")
    route = h.table.get("chat")
    assert route is not None
    stream = await h.dispatcher.stream(route, Direct(Operation.CHAT), BODY, h.policy)
    assert h.calls("a") == 2
    assert h.state("a").in_flight == 1  # until the stream is over
    assert [chunk async for chunk in stream] == [b"data: {}\n\n"]
    assert h.state("a").in_flight == 1
    await stream.aclose()
    await stream.aclose()  # idempotent
    assert h.state("a").in_flight == 0
    assert h.state("a").counters.cancelled == 0  # it ended: nobody left early


async def test_a_stream_the_client_leaves_releases_its_lease_as_cancelled() -> None:
    h = one()
    route = h.table.get("chat")
    assert route is not None
    stream = await h.dispatcher.stream(route, Direct(Operation.CHAT), BODY, h.policy)
    await stream.aclose()
    assert h.state("a").in_flight == 0
    assert h.state("a").counters.cancelled == 1


async def test_a_cancelled_request_releases_its_slot_and_blames_nobody() -> None:
    h = one()
    h.script("a", 10.0)  # hangs
    task = asyncio.create_task(h.complete())

    async def started() -> bool:
        return h.state("a").in_flight == 1

    await eventually(started, timeout=5, what="the attempt under way")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = h.state("a")
    assert state.in_flight == 0
    assert state.counters.cancelled == 1
    assert state.breaker.consecutive_failures == 0


async def test_timeouts_count_against_the_latency_average() -> None:
    h = one()
    h.script("a", ProviderTimeout(), "a")
    await h.complete()
    assert h.state("a").counters.failures == 1
    assert h.state("a").ttft_ewma is not None
