"""USD budgets in the admission and settlement scripts, against a real Redis."""

from __future__ import annotations

import re
import uuid

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from gateway_shared.errors import GatewayError
from gateway_shared.plans import Plan
from gateway_shared.prices import PRICES_KEY, Prices
from gateway_shared.wire.identity import Api, Identity, RequestSummary
from gateway_shared.wire.report import Usage
from policy.admission import Admission
from policy.limits.limiter import Limiter, Reason, Settlement, _accounting_keys
from policy.prices import PriceBook
from policy.settings import PolicySettings
from policy.usage import KeyLayout, read_usage, utcnow
from tests.support.waiting import eventually

MICRO_USD = 1000  # nano-USD


def _key() -> str:
    return "key_" + uuid.uuid4().hex[:12]


def _rid() -> str:
    return "req_" + uuid.uuid4().hex


async def _settle(
    limiter: Limiter, key: str, rid: str, reserved_cost: int, cost: int | None, **kw: object
) -> None:
    await limiter.settle(
        Settlement(
            key_id=key,
            request_id=rid,
            model="m",
            reserved=10,
            prompt_tokens=5,
            completion_tokens=5,
            admitted_at=utcnow(),
            reserved_cost=reserved_cost,
            cost=cost,
            **kw,  # type: ignore[arg-type]
        )
    )


async def test_budget_reserves_the_worst_case_then_charges_the_real_cost(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan = _key(), Plan(daily_usd=0.001)  # 1000 micro-USD
    rid = _rid()
    first = await limiter.admit(key, plan, rid, 10, 600 * MICRO_USD)
    assert first.admitted
    assert first.budget_remaining == 400 * MICRO_USD
    refused = await limiter.admit(key, plan, _rid(), 10, 500 * MICRO_USD)
    assert refused.reason is Reason.DAILY_BUDGET
    assert refused.budget_remaining == 400 * MICRO_USD  # what is left, not counting it
    await _settle(limiter, key, rid, 600 * MICRO_USD, 100 * MICRO_USD)
    # The reservation's unused 500 came back: 900 fits exactly, 1 more does not.
    assert (await limiter.admit(key, plan, _rid(), 10, 900 * MICRO_USD)).budget_remaining == 0
    assert (await limiter.admit(key, plan, _rid(), 10, 1)).reason is Reason.DAILY_BUDGET
    usage = await read_usage(redis, key)
    assert usage["day"]["cost_usd"] == 0.0001
    assert usage["day"]["by_model"]["m"]["cost_usd"] == 0.0001
    assert usage["month"]["charged_and_reserved_nusd"] == 1000 * MICRO_USD


async def test_a_group_budget_is_shared_by_its_keys(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    group = "team-" + uuid.uuid4().hex[:6]
    plan = Plan(budget_group=group, group_monthly_usd=0.001, daily_usd=0.001)
    first, second = _key(), _key()
    rid = _rid()
    assert (await limiter.admit(first, plan, rid, 10, 700 * MICRO_USD)).admitted
    # The second key's own daily budget has room; the group's month has not.
    refused = await limiter.admit(second, plan, _rid(), 10, 400 * MICRO_USD)
    assert refused.reason is Reason.GROUP_MONTHLY_BUDGET
    await _settle(limiter, first, rid, 700 * MICRO_USD, 600 * MICRO_USD, group=group)
    assert (await limiter.admit(second, plan, _rid(), 10, 400 * MICRO_USD)).admitted
    usage = await read_usage(redis, first, group)
    assert usage["budget_group"]["month"]["cost_usd"] == 0.0006
    assert usage["budget_group"]["month"]["requests"] == 1
    assert usage["budget_group"]["month"]["charged_and_reserved_nusd"] == 1000 * MICRO_USD


@pytest.mark.parametrize("group", [None, "team-a"])
def test_one_requests_keys_are_in_one_cluster_slot(group: str | None) -> None:
    layout = KeyLayout(_key(), group)
    keys = [layout.rpm, *_accounting_keys(layout, utcnow())]
    tags = {re.search(r"\{([^}]*)\}", k).group(1) for k in keys}  # type: ignore[union-attr]
    assert tags == {f"g:{group}" if group else layout.key_id}


async def test_a_dead_replicas_reservation_returns_its_cost(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=0.2)
    group = "team-" + uuid.uuid4().hex[:6]
    key, plan = _key(), Plan(daily_usd=0.001, budget_group=group, group_daily_usd=0.001)
    dead = _rid()
    assert (await limiter.admit(key, plan, dead, 10, 800 * MICRO_USD)).admitted  # never settled
    expiry = await redis.zscore(KeyLayout(key, group).inflight, dead)
    assert expiry is not None

    async def passed() -> bool:
        seconds, micros = await redis.time()
        return seconds * 1000 + micros // 1000 > expiry

    await eventually(passed, timeout=5, what="the lease's expiry")
    again = await limiter.admit(key, plan, _rid(), 10, 900 * MICRO_USD)
    assert again.admitted  # the dead one's 800 came back to the key and to the group
    assert again.budget_remaining == 100 * MICRO_USD


async def test_unknown_cost_is_counted_as_unpriced_not_as_zero(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key = _key()
    await _settle(limiter, key, _rid(), 0, None)
    await _settle(limiter, key, _rid(), 0, 5)
    day = (await read_usage(redis, key))["day"]
    assert day["unpriced_requests"] == 1
    assert day["by_model"]["m"]["cost_usd"] == 5e-9  # the priced one
    only_unpriced = _key()
    await _settle(limiter, only_unpriced, _rid(), 0, None)
    assert (await read_usage(redis, only_unpriced))["day"]["cost_usd"] == "unknown"


# -- admission with prices -------------------------------------------------------------


def _settings() -> PolicySettings:
    return PolicySettings(
        redis_url=SecretStr("redis://unused"),
        internal_secret=SecretStr("x" * 32),
        default_completion_tokens=64,
    )


def _identity(plan: Plan) -> Identity:
    return Identity(_key(), "team", plan, _rid())


async def _book(redis: Redis, **aliases: Prices) -> PriceBook:
    await redis.hset(PRICES_KEY, mapping={a: p.encode() for a, p in aliases.items()})  # type: ignore[misc]
    book = PriceBook(redis, refresh_seconds=60)
    await book.refresh()
    return book


async def test_a_budgeted_request_reserves_its_worst_case_and_a_price_rise_cannot_overshoot_it(
    redis: Redis,
) -> None:
    admitted_at = Prices(input=2.0, output=8.0)
    admission = Admission(
        Limiter(redis, 60, 60), _settings(), prices=await _book(redis, m=admitted_at)
    )
    caller = _identity(Plan(daily_usd=1.0))
    ticket, decision, output = await admission.admit(
        caller, RequestSummary(Api.CHAT, "m", False, 100, None)
    )
    # No max_tokens: the default is sent to the provider, so the worst case is finite.
    assert output.output_cap == 64
    assert decision.reserved_cost == 100 * 2000 + 64 * 8000
    # The catalog was reloaded with dearer prices while the request ran.
    ticket.prices = Prices(input=20.0, output=80.0)
    await ticket.settle(Usage(100, 64))
    assert ticket.cost == decision.reserved_cost  # charged at the admission's prices
    day = (await read_usage(redis, caller.key_id))["day"]
    assert day["charged_and_reserved_nusd"] == decision.reserved_cost


async def test_a_cheaper_deployment_is_charged_its_own_price(redis: Redis) -> None:
    admission = Admission(
        Limiter(redis, 60, 60),
        _settings(),
        prices=await _book(redis, m=Prices(input=2.0, output=8.0)),
    )
    ticket, _, _ = await admission.admit(
        _identity(Plan()), RequestSummary(Api.CHAT, "m", False, 100, 10)
    )
    ticket.prices = Prices(input=1.0, cached_input=0.5, output=8.0)  # the fallback was cheaper
    await ticket.settle(Usage(100, 10, cached_tokens=40))
    assert ticket.cost == 60 * 1000 + 40 * 500 + 10 * 8000


async def test_a_budgeted_key_is_refused_a_model_without_prices(redis: Redis) -> None:
    admission = Admission(
        Limiter(redis, 60, 60), _settings(), prices=await _book(redis, half=Prices(input=1.0))
    )
    for model in ("half", "nowhere"):
        with pytest.raises(GatewayError) as caught:
            await admission.admit(
                _identity(Plan(monthly_usd=5.0)), RequestSummary(Api.CHAT, model, False, 10, 10)
            )
        assert caught.value.status == 400
        assert caught.value.code == "model_not_priced"
        assert model in str(caught.value)
