"""Chaos on loopback at the provider edge: a provider outage, and latency on a hop.

Two simulators stand in for a primary deployment (priority 0) and a fallback (priority
1). Each experiment runs a bounded load, injects the fault, prints its figures and checks
its hypothesis; a control load on an alias *without* a fallback, under the same fault,
must break the hypothesis - the proof that the check can fail.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gateway_cli.ports import free_port
from gateway_cli.stack import Stack
from gateway_shared.keys import Registry
from policy.usage import KeyLayout, read_usage
from tests.chaos.harness import DelayingProxy, Experiment, Load, wait_for
from tests.conftest import create_key

FIRST_TOKEN = 0.5  # the catalog's first_token timeout for the primaries
FAILOVER_BUDGET = 1.5  # hypothesis: no request takes longer during the fault
PRIMARY, FALLBACK = "sim-model", "sim-model-b"


def _deployment(name: str, url: str, model: str, extra: str) -> str:
    return f"      - {{name: {name}, provider: vllm, base_url: '{url}', model: {model}{extra}}}\n"


def _catalog(primary: str, proxied: str, fallback: str) -> str:
    fast = (
        f", timeouts: {{connect: 0.5, first_token: {FIRST_TOKEN}, total: 10}}, health_interval: 0.2"
    )
    later = ", priority: 1"
    return (
        "routing:\n"
        "  retry: {max_attempts: 3, budget_seconds: 5, backoff_initial_seconds: 0.05,"
        " backoff_max_seconds: 0.2}\n"
        "  breaker: {consecutive_failures: 3, cooldown_seconds: 1}\n"
        "  health: {timeout_seconds: 0.5, unhealthy_after: 2}\n"
        "models:\n"
        "  - alias: outage-chat\n    deployments:\n"
        + _deployment("out-primary", primary, PRIMARY, fast)
        + _deployment("out-fallback", fallback, FALLBACK, later)
        + "  - alias: lonely-chat\n    deployments:\n"
        + _deployment("lonely-primary", primary, PRIMARY, fast)
        + "  - alias: hop-chat\n    deployments:\n"
        + _deployment("hop-primary", proxied, PRIMARY, fast)
        + _deployment("hop-fallback", fallback, FALLBACK, later)
        + "  - alias: hop-lonely-chat\n    deployments:\n"
        + _deployment("hop-lonely", proxied, PRIMARY, fast)
    )


@pytest.fixture(scope="module")
def fstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, DelayingProxy]]:
    workdir: Path = tmp_path_factory.mktemp("faults")
    catalog = workdir / "catalog.yaml"
    stack = Stack(
        workdir,
        catalog_path=catalog,
        extra_simulators={"sim-b": {"SIM_MODELS": f"{FALLBACK},sim-embed"}},
    )
    proxy = DelayingProxy(stack.services["simulator"].port, free_port())
    proxy.start()
    catalog.write_text(
        _catalog(
            stack.services["simulator"].url + "/v1",
            f"http://127.0.0.1:{proxy.port}/v1",
            stack.services["sim-b"].url + "/v1",
        )
    )
    try:
        stack.start()
        yield stack, proxy
    finally:
        stack.stop()
        proxy.stop()


@pytest.fixture
async def redis(fstack: tuple[Stack, DelayingProxy]) -> AsyncIterator[Redis]:
    client = Redis.from_url(fstack[0].redis_url)
    yield client
    await client.aclose()


def _body(model: str, stream: bool = False) -> dict[str, object]:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _violations(exp: Experiment, served_by: str | None = None) -> list[str]:
    """What breaks 'every request during the fault succeeds, within the failover budget'."""
    problems = [f"status {o.status} ({o.code})" for o in exp.during_fault() if o.status != 200]
    problems += [
        f"took {o.seconds:.2f} s" for o in exp.during_fault() if o.seconds > FAILOVER_BUDGET
    ]
    if served_by:
        problems += [f"served by {o.model}" for o in exp.during_fault() if o.model != served_by]
    return problems


async def _accounted(redis: Redis, stack: Stack, name: str, *loads: Load) -> None:
    key_id = Registry.load(stack.registry_path).find(name).id
    deadline = time.monotonic() + 10
    while await redis.zcard(KeyLayout(key_id).inflight):
        assert time.monotonic() < deadline, "a concurrency slot leaked"
        await asyncio.sleep(0.05)
    usage = await read_usage(redis, key_id)
    served = sum(o.tokens for load in loads for o in load.experiment.outcomes)
    assert usage["day"]["charged_and_reserved_tokens"] == served


async def test_provider_outage_fails_over(
    fstack: tuple[Stack, DelayingProxy], redis: Redis
) -> None:
    stack, _ = fstack
    key = create_key(stack, "chaos-outage", "--rpm", "1000000", "--max-concurrent", "64")
    exp = Experiment(
        "provider outage (primary simulator killed)",
        f"every request succeeds within {FAILOVER_BUDGET} s, served by the fallback "
        "deployment while the primary is down; traffic returns to the primary after it "
        "recovers; no slot leaks; tokens charged = tokens served",
    )
    control = Experiment("provider outage, alias without a fallback (control)", "must fail")
    outage = Load(exp, [stack.base_url], key, body=_body("outage-chat"))
    lonely = Load(control, [stack.base_url], key, body=_body("lonely-chat"), workers=1)
    primary = stack.services["simulator"]
    async with outage, lonely:
        await wait_for(lambda: len(exp.outcomes) >= 20, 10, "steady state")
        exp.fault_started = control.fault_started = time.monotonic()
        primary.stop(signal.SIGKILL)
        await asyncio.sleep(1.5)  # the outage's deliberate length
        await asyncio.to_thread(primary.start)
        await asyncio.to_thread(primary.wait_ready, 30)
        exp.fault_ended = control.fault_ended = time.monotonic()
        await wait_for(
            lambda: any(o.model == PRIMARY for o in exp.outcomes if o.started > exp.fault_ended),
            10,
            "traffic back on the primary",
        )
    exp.report()
    control.report()
    assert _violations(exp) == []
    assert any(o.model == FALLBACK for o in exp.during_fault())
    assert _violations(control), "the control without a fallback should have failed"
    await _accounted(redis, stack, "chaos-outage", outage, lonely)


async def test_latency_on_a_hop_fails_over_past_the_first_token_budget(
    fstack: tuple[Stack, DelayingProxy], redis: Redis
) -> None:
    stack, proxy = fstack
    key = create_key(stack, "chaos-latency", "--rpm", "1000000", "--max-concurrent", "64")

    async def run(exp: Experiment, control: Experiment, delay: float) -> tuple[Load, Load]:
        hop = Load(exp, [stack.base_url], key, body=_body("hop-chat", stream=True), workers=3)
        lonely = Load(
            control, [stack.base_url], key, body=_body("hop-lonely-chat", stream=True), workers=1
        )
        async with hop, lonely:
            # Steady state first: the primary serving again (its breaker may still be
            # half-open from the outage experiment, until a request probes it).
            await wait_for(
                lambda: any(o.model == PRIMARY for o in exp.outcomes[-3:]), 15, "steady state"
            )
            exp.fault_started = control.fault_started = time.monotonic()
            proxy.delay = delay
            started = exp.fault_started
            await wait_for(
                lambda: (
                    sum(o.started >= started for o in exp.outcomes) >= 15
                    and sum(o.started >= started for o in control.outcomes) >= 3
                ),
                30,
                "requests under the delay",
            )
            proxy.delay = 0.0
            exp.fault_ended = control.fault_ended = time.monotonic()
        exp.report()
        return hop, lonely

    small = Experiment(
        "50 ms added per chunk on the router-provider hop",
        f"a delay under the first-token budget ({FIRST_TOKEN} s) only adds latency: every "
        "stream succeeds from the primary",
    )
    small_control = Experiment("50 ms, no fallback (control)", "succeeds as well")
    loads = await run(small, small_control, 0.05)
    assert _violations(small, served_by=PRIMARY) == []
    assert _violations(small_control, served_by=PRIMARY) == []

    large = Experiment(
        "1 s added per chunk on the router-provider hop",
        f"past the first-token budget every stream fails over and succeeds from the "
        f"fallback within {FAILOVER_BUDGET} s",
    )
    large_control = Experiment("1 s, no fallback (control)", "must fail")
    loads += await run(large, large_control, 1.0)
    large_control.report()
    assert _violations(large, served_by=FALLBACK) == []
    assert _violations(large_control), "the control without a fallback should have failed"
    await _accounted(redis, stack, "chaos-latency", *loads)
