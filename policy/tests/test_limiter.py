"""The admission and settlement scripts against a real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

from redis.asyncio import Redis

from gateway_shared.plans import Plan
from policy.limits.limiter import Limiter, Reason, Settlement
from policy.usage import KeyLayout, read_usage, utcnow
from tests.support.waiting import eventually


def _key() -> str:
    return "key_" + uuid.uuid4().hex[:12]


def _rid() -> str:
    return "req_" + uuid.uuid4().hex


async def test_rpm_is_exact_under_concurrency(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan = _key(), Plan(rpm=25)
    decisions = await asyncio.gather(*(limiter.admit(key, plan, _rid(), 1) for _ in range(100)))
    assert sum(d.admitted for d in decisions) == 25
    rejected = [d for d in decisions if not d.admitted]
    assert {d.reason for d in rejected} == {Reason.REQUESTS}
    assert all(0 < d.retry_after_ms <= 60_000 for d in rejected)


async def test_a_rejection_consumes_nothing(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key = _key()
    plan = Plan(rpm=100, tpm=10_000, max_concurrent=5, daily_tokens=500)
    assert (await limiter.admit(key, plan, _rid(), 400)).admitted
    layout = KeyLayout(key)
    before = (
        await redis.zcard(layout.rpm),
        await redis.get(layout.tpm_sum),
        await redis.zcard(layout.inflight),
        await redis.hget(layout.day(utcnow()), "tokens"),
    )
    rejected = await limiter.admit(key, plan, _rid(), 200)  # 400 + 200 > daily 500
    assert not rejected.admitted
    assert rejected.reason is Reason.DAILY_QUOTA
    after = (
        await redis.zcard(layout.rpm),
        await redis.get(layout.tpm_sum),
        await redis.zcard(layout.inflight),
        await redis.hget(layout.day(utcnow()), "tokens"),
    )
    assert after == before


async def test_settle_reconciles_tokens_and_frees_the_slot(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan = _key(), Plan(tpm=1000, max_concurrent=1)
    rid = _rid()
    admitted_at = utcnow()
    first = await limiter.admit(key, plan, rid, 600)
    assert first.admitted
    assert first.tokens_remaining == 400
    blocked = await limiter.admit(key, plan, _rid(), 10)
    assert blocked.reason is Reason.CONCURRENCY
    await limiter.settle(
        Settlement(
            key_id=key,
            request_id=rid,
            model="m",
            reserved=600,
            prompt_tokens=50,
            completion_tokens=50,
            admitted_at=admitted_at,
        )
    )
    layout = KeyLayout(key)
    assert int(await redis.get(layout.tpm_sum)) == 100
    assert await redis.zcard(layout.inflight) == 0
    usage = await read_usage(redis, key)
    assert usage["day"]["charged_and_reserved_tokens"] == 100
    assert usage["day"]["by_model"]["m"] == {
        "requests": 1,
        "prompt_tokens": 50,
        "completion_tokens": 50,
        "cost_usd": "unknown",  # settled without a cost
        "unpriced_requests": 1,
    }
    after = await limiter.admit(key, plan, _rid(), 900)
    assert after.admitted
    assert after.tokens_remaining == 0


async def test_tpm_rejects_a_request_larger_than_the_limit(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    decision = await limiter.admit(_key(), Plan(tpm=100), _rid(), 101)
    assert decision.reason is Reason.TOKENS_TOO_LARGE


async def test_tpm_retry_after_points_at_when_enough_tokens_free_up(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=2, lease_seconds=60)
    key, plan = _key(), Plan(tpm=100)
    assert (await limiter.admit(key, plan, _rid(), 60)).admitted
    assert (await limiter.admit(key, plan, _rid(), 30)).admitted
    decision = await limiter.admit(key, plan, _rid(), 50)
    assert decision.reason is Reason.TOKENS
    # Only the first reservation (60) leaving the window frees enough: ~2 s from now.
    assert 1000 < decision.retry_after_ms <= 2000


async def test_sliding_window_frees_slots_as_entries_age(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=0.5, lease_seconds=60)
    key, plan = _key(), Plan(rpm=2)
    assert (await limiter.admit(key, plan, _rid(), 1)).admitted
    assert (await limiter.admit(key, plan, _rid(), 1)).admitted
    rejected = await limiter.admit(key, plan, _rid(), 1)
    assert not rejected.admitted
    # Admitted again once the wait Redis told us has passed (and not before: a rejection
    # consumes nothing, so asking again meanwhile changes nothing).
    started = time.monotonic()

    async def admitted() -> bool:
        return (await limiter.admit(key, plan, _rid(), 1)).admitted

    await eventually(admitted, timeout=rejected.retry_after_ms / 1000 + 2, what="the window")
    assert time.monotonic() - started >= rejected.retry_after_ms / 1000 - 0.05


async def _lease_expired(redis: Redis, key: str, request_id: str) -> None:
    """Until Redis's clock has passed the lease's expiry (the scripts read Redis's time)."""
    expiry = await redis.zscore(KeyLayout(key).inflight, request_id)
    assert expiry is not None

    async def passed() -> bool:
        seconds, micros = await redis.time()
        return seconds * 1000 + micros // 1000 > expiry

    await eventually(passed, timeout=5, what="the lease's expiry")


async def test_expired_lease_frees_the_slot_and_tokens_of_a_dead_replica(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=0.3)
    key, plan = _key(), Plan(max_concurrent=1, daily_tokens=100)
    dead = _rid()
    assert (await limiter.admit(key, plan, dead, 80)).admitted  # never settled
    assert not (await limiter.admit(key, plan, _rid(), 1)).admitted
    await _lease_expired(redis, key, dead)
    # The dead request's 80 tokens are back: a new 90-token request fits the quota.
    assert (await limiter.admit(key, plan, _rid(), 90)).admitted
    assert int(await redis.hget(KeyLayout(key).day(utcnow()), "tokens")) == 90


async def test_settling_after_the_lease_was_reaped_charges_once(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=0.2)
    key, plan = _key(), Plan(max_concurrent=5)
    slow, admitted_at = _rid(), utcnow()
    assert (await limiter.admit(key, plan, slow, 50)).admitted
    await _lease_expired(redis, key, slow)  # it outlives its lease
    assert (await limiter.admit(key, plan, _rid(), 1)).admitted  # reaps the slow one
    await limiter.settle(
        Settlement(
            key_id=key,
            request_id=slow,
            model="m",
            reserved=50,
            prompt_tokens=10,
            completion_tokens=20,
            admitted_at=admitted_at,
        )
    )
    # 1 (still reserved by the second request) + 30 actually used by the slow one.
    assert int(await redis.hget(KeyLayout(key).day(utcnow()), "tokens")) == 31


async def test_scripts_survive_a_script_cache_flush(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan = _key(), Plan(rpm=5)
    assert (await limiter.admit(key, plan, _rid(), 1)).admitted
    await redis.script_flush()  # what a Redis restart does to loaded scripts
    assert (await limiter.admit(key, plan, _rid(), 1)).admitted


async def test_a_settlement_applied_twice_counts_once(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan, rid, admitted_at = _key(), Plan(tpm=1000, max_concurrent=2), _rid(), utcnow()
    assert (await limiter.admit(key, plan, rid, 300)).admitted
    settlement = Settlement(key, rid, "m", 300, 40, 60, admitted_at)
    first = await limiter.settle(settlement)
    again = await limiter.settle(settlement)  # a replay whose first answer was lost
    assert first == again == (100, 100)
    usage = (await read_usage(redis, key))["day"]
    assert (usage["requests"], usage["completion_tokens"]) == (1, 60)
    assert int(await redis.get(KeyLayout(key).tpm_sum)) == 100


async def test_an_admission_run_twice_consumes_once(redis: Redis) -> None:
    limiter = Limiter(redis, window_seconds=60, lease_seconds=60)
    key, plan, rid = _key(), Plan(rpm=5, tpm=1000, daily_tokens=1000), _rid()
    assert (await limiter.admit(key, plan, rid, 100)).admitted
    assert (await limiter.admit(key, plan, rid, 100)).admitted  # its answer was lost
    layout = KeyLayout(key)
    assert await redis.zcard(layout.rpm) == 1
    assert int(await redis.get(layout.tpm_sum)) == 100
    assert int(await redis.hget(layout.day(utcnow()), "tokens")) == 100
