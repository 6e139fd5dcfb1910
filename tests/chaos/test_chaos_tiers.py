"""Chaos on loopback: a tier (or Redis) killed and restarted while a bounded load runs.

Each experiment states its hypothesis, prints its figures, and checks afterwards that no
concurrency slot leaked and that the tokens charged equal the tokens clients were told
they used. The same hypotheses drive the Chaos Mesh experiments in chaos-mesh/.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from gateway_cli.ports import free_port
from gateway_cli.stack import Service, Stack
from gateway_shared.keys import Registry
from policy.usage import KeyLayout, read_usage
from tests.chaos.harness import Experiment, Load, wait_for
from tests.conftest import create_key

FAULT_SECONDS = 1.0
LEASE_SECONDS = 3.0  # POLICY_LEASE_SECONDS here: how long a dead replica's slot is held
HANG_BOUND = 2.0  # no request may take longer than this during a fault
RECOVERY_BOUND = 5.0  # first success at most this long after the fault ends


@pytest.fixture(scope="module")
def cstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("chaos"),
        extra_env={"POLICY_LEASE_SECONDS": str(LEASE_SECONDS)},
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def second_edge(cstack: Stack) -> Iterator[Service]:
    edge = cstack.services["edge"]
    port = free_port()
    replica = Service("edge-2", "edge", edge.env | {"EDGE_PORT": str(port)}, port, edge.logdir)
    replica.start()
    replica.wait_ready(30)
    yield replica
    replica.stop()


@pytest.fixture
async def redis(cstack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(cstack.redis_url)
    yield client
    await client.aclose()


def _key(stack: Stack, name: str) -> tuple[str, str]:
    key = create_key(stack, name, "--rpm", "1000000", "--max-concurrent", "64")
    return key, Registry.load(stack.registry_path).find(name).id


async def _restart(service: Service) -> None:
    await asyncio.to_thread(service.start)
    await asyncio.to_thread(service.wait_ready, 30)


async def _run(exp: Experiment, load: Load, kill: object, restore: object) -> None:
    successes = lambda: sum(o.status == 200 for o in exp.outcomes)  # noqa: E731
    async with load:
        await wait_for(lambda: successes() >= 20, 10, "steady state before the fault")
        exp.fault_started = time.monotonic()
        await kill()  # type: ignore[operator]
        await asyncio.sleep(FAULT_SECONDS)  # the fault's deliberate length
        await restore()  # type: ignore[operator]
        exp.fault_ended = time.monotonic()
        await wait_for(
            lambda: exp.recovery_seconds() is not None, RECOVERY_BOUND, "the first success"
        )
        await asyncio.sleep(0.3)  # a little traffic after recovery, for the figures
    exp.report()


async def _settled(
    redis: Redis, key_id: str, load: Load, *, flushed: bool, lost_in_flight: bool = False
) -> None:
    """No slot or reservation leaked, and tokens charged = tokens clients were served.

    With ``lost_in_flight``, answers that were complete (and so charged) when a dying tier
    dropped them may add at most one request's tokens per load worker.

    Slots of requests a killed policy replica held are freed when their lease expires,
    by the key's next admission: so keep a trickle of requests going meanwhile.
    """
    deadline = time.monotonic() + LEASE_SECONDS + 5
    async with httpx.AsyncClient(timeout=10) as client:
        while await redis.zcard(KeyLayout(key_id).inflight):
            assert time.monotonic() < deadline, "a concurrency slot leaked"
            await load.send(client, load.urls[0])
            await asyncio.sleep(0.2)  # pacing the trickle
    if not flushed:
        usage = await read_usage(redis, key_id)
        served = sum(o.tokens for o in load.experiment.outcomes)
        charged = usage["day"]["charged_and_reserved_tokens"]
        per_request = max(o.tokens for o in load.experiment.outcomes)
        bound = load.workers * per_request if lost_in_flight else 0
        assert 0 <= charged - served <= bound, (charged, served, bound)


def _check(exp: Experiment, allowed: dict[int, set[str]]) -> None:
    assert 500 not in {o.status for o in exp.outcomes}
    for outcome in exp.outcomes:
        if outcome.status != 200:
            assert outcome.status in allowed, outcome
            assert outcome.code in allowed[outcome.status], outcome
    assert max(o.seconds for o in exp.outcomes) < HANG_BOUND
    recovery = exp.recovery_seconds()
    assert recovery is not None
    assert recovery < RECOVERY_BOUND
    assert any(o.status != 200 for o in exp.during_fault()) or exp.name.startswith("edge")


@pytest.mark.parametrize("tier", ["router", "policy"])
async def test_inner_tier_killed_and_restarted(cstack: Stack, redis: Redis, tier: str) -> None:
    key, key_id = _key(cstack, f"chaos-{tier}")
    exp = Experiment(
        f"{tier} killed (SIGKILL) and restarted",
        f"while {tier} is down every request fails fast (< {HANG_BOUND} s) with 503 "
        f"upstream_unavailable or succeeds; the first success comes < {RECOVERY_BOUND} s "
        "after it is back; no slot leaks; tokens charged = tokens served (plus, for "
        "policy, at most the answers it had settled but not yet sent)",
    )
    service = cstack.services[tier]

    async def kill() -> None:
        service.stop(signal.SIGKILL)

    load = Load(exp, [cstack.base_url], key)
    await _run(exp, load, kill, lambda: _restart(service))
    _check(exp, {503: {"upstream_unavailable"}})
    # A policy replica killed after settling but before answering loses a charged answer.
    await _settled(redis, key_id, load, flushed=False, lost_in_flight=tier == "policy")


async def test_one_of_two_edges_killed(cstack: Stack, second_edge: Service, redis: Redis) -> None:
    key, key_id = _key(cstack, "chaos-edge")
    urls = [cstack.base_url, second_edge.url + "/v1"]
    exp = Experiment(
        "edge: one of two replicas killed and restarted",
        "requests to the dead replica fail at once with a connection error, the other "
        "replica serves the rest; no slot leaks; tokens charged = tokens served, plus at "
        "most the answers in flight at the killed replica",
    )

    async def kill() -> None:
        second_edge.stop(signal.SIGKILL)

    load = Load(exp, urls, key)
    await _run(exp, load, kill, lambda: _restart(second_edge))
    _check(exp, {0: {"ConnectError", "RemoteProtocolError", "ReadError"}})
    assert any(o.status == 200 for o in exp.during_fault())  # the other replica served
    await _settled(redis, key_id, load, flushed=False, lost_in_flight=True)


async def test_redis_killed_and_restarted_empty(cstack: Stack, redis: Redis) -> None:
    assert cstack.redis is not None
    key, key_id = _key(cstack, "chaos-redis")
    exp = Experiment(
        "Redis killed and restarted empty (fail-closed)",
        f"while Redis is down every request fails fast (< {HANG_BOUND} s) with 503 or "
        f"succeeds; keys and limits work again < {RECOVERY_BOUND} s after it is back, "
        "with no manual step",
    )
    server = cstack.redis

    async def kill() -> None:
        await asyncio.to_thread(server.stop)

    async def restore() -> None:
        await asyncio.to_thread(server.start)

    load = Load(exp, [cstack.base_url], key)
    await _run(exp, load, kill, restore)
    _check(exp, {503: {"rate_limiter_unavailable", "key_store_unavailable"}})
    await _settled(redis, key_id, load, flushed=True)
