"""Load- and prefix-aware balancing, the saturation guard, and the vLLM adapter's part:
reading /metrics and passing the plan's priority."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import httpx
import orjson
import pytest

from gateway_shared.errors import Envelope
from gateway_shared.plans import Priority
from router.catalog import BreakerPolicy, LoadPolicy, ModelEntry, Strategy
from router.providers.base import PRIORITY_HINT, EngineLoad, Operation
from router.providers.openai_compatible import VLLM
from router.providers.vllm_metrics import parse_load
from router.routing.affinity import Prefix, prefix_key
from router.routing.balancer import Balancer
from router.routing.deployment import DeploymentState
from router.routing.placement import rank
from router.routing.saturation import overloaded
from router.routing.table import Route
from tests.support.routerkit import UNUSED_CLIENT, FakeClock, FakeProvider, fake_deployment

NOW = 100.0
POLICY = LoadPolicy()

VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen"} 7.0
vllm:num_requests_running{engine="0",model_name="other"} 99.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="qwen"} 3.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="qwen"} 0.42
# HELP vllm:prefix_cache_hits_total Prefix cache hits.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="qwen"} 1234.0
"""


def states(count: int, *, load: EngineLoad | None = None) -> list[DeploymentState]:
    out = []
    for i in range(count):
        deployment = fake_deployment(f"vllm-{i}")
        provider = FakeProvider(deployment, UNUSED_CLIENT)
        state = DeploymentState("chat", deployment, provider, BreakerPolicy(), FakeClock())
        if load is not None:
            state.observe_load(load, NOW)
        out.append(state)
    return out


def idle() -> EngineLoad:
    return EngineLoad(running=0, waiting=0, kv_usage=0.0)


def balancer(seed: int = 1) -> Balancer:
    return Balancer(Strategy.LOAD_AWARE, random.Random(seed), POLICY)


# --- reading vLLM's metrics ---------------------------------------------------------


def test_the_load_is_read_from_vllms_metric_names() -> None:
    assert parse_load(VLLM_METRICS, "qwen") == EngineLoad(running=7, waiting=3, kv_usage=0.42)


def test_kv_use_falls_back_to_the_name_before_vllm_0_11() -> None:
    text = VLLM_METRICS.replace("kv_cache_usage_perc", "gpu_cache_usage_perc")
    assert parse_load(text, "qwen") == EngineLoad(running=7, waiting=3, kv_usage=0.42)


def test_the_families_around_the_gauges_do_not_change_the_reading() -> None:
    histogram = "".join(
        f'vllm:time_to_first_token_seconds_bucket{{le="{b}",model_name="qwen"}} 5.0\n'
        for b in ("0.1", "1.0", "+Inf")
    )
    text = f"# TYPE vllm:time_to_first_token_seconds histogram\n{histogram}{VLLM_METRICS}"
    assert parse_load(text, "qwen") == parse_load(VLLM_METRICS, "qwen")


def test_the_kv_caches_size_is_read_from_vllms_cache_config_info() -> None:
    info = (
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
        "# TYPE vllm:cache_config_info gauge\n"
        'vllm:cache_config_info{block_size="16",enable_prefix_caching="True",'
        'num_gpu_blocks="450"} 1.0\n'
    )
    load = parse_load(info + VLLM_METRICS, "qwen")
    assert load is not None
    assert load.cache_tokens == 450 * 16
    unsized = parse_load(info.replace('"450"', '"None"') + VLLM_METRICS, "qwen")
    assert unsized is not None
    assert unsized.cache_tokens is None


def test_metrics_without_the_queue_gauges_say_nothing() -> None:
    assert parse_load("# nothing here\n", "qwen") is None
    assert parse_load(VLLM_METRICS, "not-served") is None


def _vllm(handler: Any, **kw: Any) -> VLLM:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return VLLM(fake_deployment("v", provider="vllm", model="qwen", **kw), client)


async def test_the_vllm_adapter_reads_metrics_beside_v1() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, text=VLLM_METRICS)

    assert await _vllm(handler).load() == EngineLoad(running=7, waiting=3, kv_usage=0.42)
    assert seen == ["/metrics"]


@pytest.mark.parametrize(
    "response",
    [httpx.Response(503, text="down"), httpx.Response(200, text="{not prometheus")],
)
async def test_an_unreadable_metrics_page_is_no_reading(response: httpx.Response) -> None:
    assert await _vllm(lambda _: response).load() is None


async def test_a_dead_metrics_endpoint_is_no_reading() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert await _vllm(refuse).load() is None


# --- passing the plan's priority -------------------------------------------------------


def _capture(bodies: list[dict[str, Any]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(orjson.loads(request.content))
        return httpx.Response(200, json={"object": "list", "data": []})

    return handler


@pytest.mark.parametrize(
    ("priority", "sent"), [(Priority.HIGH, -1), (Priority.NORMAL, 0), (Priority.LOW, 1)]
)
async def test_priority_scheduling_gets_the_plans_priority(priority: Priority, sent: int) -> None:
    bodies: list[dict[str, Any]] = []
    adapter = _vllm(_capture(bodies), priority_scheduling=True, can_stream=False)
    body = {"input": "x", "priority": -100}  # a client's own is overridden
    await adapter.complete(Operation.EMBEDDINGS, body, {PRIORITY_HINT: priority.value})
    assert bodies[0]["priority"] == sent


async def test_without_priority_scheduling_no_priority_is_sent() -> None:
    bodies: list[dict[str, Any]] = []
    adapter = _vllm(_capture(bodies), can_stream=False)
    await adapter.complete(
        Operation.EMBEDDINGS, {"input": "x", "priority": 5}, {PRIORITY_HINT: "high"}
    )
    assert "priority" not in bodies[0]


# --- the prefix key --------------------------------------------------------------------

SYSTEM = "You are the support assistant of Example Corp. " * 40


def _chat(system: str, *turns: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}]
    messages += [{"role": "user", "content": t} for t in turns]
    return {"model": "chat", "messages": messages}


def _key(body: dict[str, Any]) -> int:
    prefix = prefix_key(body)
    assert prefix is not None
    return prefix.key


def test_every_turn_of_a_conversation_shares_its_prefix_key() -> None:
    first = _key(_chat(SYSTEM, "hello"))
    later = _key(_chat(SYSTEM, "hello", "and another question"))
    assert first == later
    assert first != _key(_chat("A different system prompt. " * 40, "hello"))


def test_the_prefix_key_reads_every_apis_fields() -> None:
    messages = {"system": [{"type": "text", "text": SYSTEM}], "messages": []}
    responses = {"instructions": SYSTEM, "input": "hi"}
    assert _key(messages) == _key(responses) == _key({"prompt": SYSTEM})
    assert prefix_key({"messages": []}) is None


def test_a_prefix_carries_the_whole_prompts_size() -> None:
    short, long = prefix_key(_chat(SYSTEM, "hi")), prefix_key(_chat(SYSTEM, "hi", "x" * 4000))
    assert short is not None
    assert long is not None
    assert short.tokens == -(-(len(SYSTEM) + 2) // 4)
    assert long.tokens == short.tokens + 1000


# --- choosing ----------------------------------------------------------------------------


def test_a_prefix_goes_to_the_same_deployment_from_every_router() -> None:
    # Two routers: their own states (in-flight counts), the same engines' readings.
    # Fed the same prefixes in the same order, each places them alike.
    keys = _keys(40)
    one, other = states(4, load=idle()), states(4, load=idle())
    router_one, router_other = balancer(1), balancer(2)
    picks_one = [router_one.choose(one, k, NOW).name for k in keys]
    picks_other = [router_other.choose(list(reversed(other)), k, NOW).name for k in keys]
    assert picks_one == picks_other
    assert len(set(picks_one)) == 4  # and the prefixes spread over the fleet


def test_a_session_sticks_to_its_deployment() -> None:
    group = states(4, load=idle())
    key = prefix_key(_chat(SYSTEM, "hi"))
    assert len({balancer().choose(group, key, NOW).name for _ in range(20)}) == 1


def test_an_overloaded_affinity_target_is_passed_over() -> None:
    group = states(4, load=idle())
    key = prefix_key(_chat(SYSTEM, "hi"))
    home = balancer().choose(group, key, NOW)
    home.observe_load(EngineLoad(running=20, waiting=10, kv_usage=0.9), NOW)
    moved = balancer().choose(group, key, NOW)
    assert moved is not home
    # Bounded loads: back home as soon as it has room again.
    home.observe_load(idle(), NOW)
    assert balancer().choose(group, key, NOW) is home


def test_a_spilled_prefix_goes_to_its_next_engine_within_the_bound() -> None:
    group = states(4, load=idle())
    key = prefix_key(_chat(SYSTEM, "hi"))
    home = balancer().choose(group, key, NOW)
    queue = EngineLoad(running=20, waiting=10, kv_usage=0.9)
    home.observe_load(queue, NOW)
    # One next engine, from every router alike, so that it alone pays the prefill...
    spilled = {balancer(seed).choose(group, key, NOW) for seed in range(5)}
    assert len(spilled) == 1
    (second,) = spilled
    # ...and keeps the prefix while it has room, busier than the others or not.
    second.observe_load(EngineLoad(running=3, waiting=0, kv_usage=0.5), NOW)
    assert balancer().choose(group, key, NOW) is second
    # Once it queues too, the next one in the key's order takes over.
    second.observe_load(queue, NOW)
    thirds = {balancer(seed).choose(group, key, NOW) for seed in range(5)}
    assert len(thirds) == 1
    assert thirds.isdisjoint({home, second})


def test_with_every_engine_queueing_a_prefix_still_finds_one_within_the_bound() -> None:
    group = states(4, load=idle())
    key = prefix_key(_chat(SYSTEM, "hi"))
    home = balancer().choose(group, key, NOW)
    for waiting, d in zip(
        (40, 30, 20, 10), [home, *(d for d in group if d is not home)], strict=True
    ):
        d.observe_load(EngineLoad(running=20, waiting=waiting, kv_usage=0.9), NOW)
    # The bound is 1.5x the average backlog (25): the home (40) is past it, the rest not.
    assert balancer().choose(group, key, NOW).load.waiting < 40


def test_a_busy_batch_keeps_the_home_and_a_queue_moves_the_prefix() -> None:
    group = states(3, load=idle())
    key = prefix_key(_chat(SYSTEM, "hi"))
    home = balancer().choose(group, key, NOW)
    # Running requests: continuous batching takes the next one in at once.
    home.observe_load(EngineLoad(running=30, waiting=0, kv_usage=0.8), NOW)
    assert balancer().choose(group, key, NOW) is home
    # Requests sent since a reading that showed no queue were taken in too.
    for _ in range(3):
        home.acquire()
    assert balancer().choose(group, key, NOW) is home
    # Requests waiting for the next step on an engine with room are no queue...
    home.observe_load(EngineLoad(running=2, waiting=1, kv_usage=0.3), NOW)
    home.acquire()
    assert balancer().choose(group, key, NOW) is home
    # ...a queue behind a full KV cache is, and those sent since join it.
    home.observe_load(EngineLoad(running=30, waiting=1, kv_usage=1.0), NOW)
    assert balancer().choose(group, key, NOW) is home
    home.acquire()
    assert balancer().choose(group, key, NOW) is not home


# --- where a spilled prefix finds room ---------------------------------------------------

# Each engine's KV cache holds three of these prefixes.
CACHE = 3 * 2000


def _cache_load(waiting: int = 0) -> EngineLoad:
    return EngineLoad(running=4, waiting=waiting, kv_usage=1.0, cache_tokens=CACHE)


def _spill_order(
    group: list[DeploymentState], key: Prefix, home: DeploymentState
) -> list[DeploymentState]:
    others = [d for d in group if d is not home]
    return sorted(others, key=lambda d: -rank(key.key, d))


def _fill(state: DeploymentState, tag: str) -> None:
    for i in range(3):
        state.resident.sent(Prefix(hash((tag, i)), 2000), CACHE)


def test_the_residency_keeps_the_most_recent_prefixes_that_fit_the_cache() -> None:
    state = states(1)[0]
    a, b, c, d = (Prefix(n, 2000) for n in range(4))
    for p in (a, b, c):
        state.resident.sent(p, CACHE)
    assert not state.resident.has_room(d, CACHE)
    assert state.resident.has_room(a, CACHE)  # it holds that one
    state.resident.sent(a, CACHE)  # a is the most recent now: b goes first
    state.resident.sent(d, CACHE)
    assert not state.resident.has_room(b, CACHE)
    assert all(state.resident.has_room(p, CACHE) for p in (a, c, d))
    # A server that does not report its cache's size is taken to have room.
    assert state.resident.has_room(Prefix(9, 10**9), None)


def test_a_spill_passes_over_an_engine_whose_cache_has_no_room_for_the_prefix() -> None:
    group = states(4, load=_cache_load())
    key = Prefix(_key(_chat(SYSTEM, "hi")), 2000)
    home = balancer().choose(group, key, NOW)
    second, third, _ = _spill_order(group, key, home)
    _fill(second, "second's own")
    home.observe_load(_cache_load(waiting=10), NOW)
    assert balancer().choose(group, key, NOW) is third
    # An engine that holds the prefix already takes it, its cache full or not.
    _fill(third, "third's own")
    second.resident.sent(key, CACHE)
    assert balancer().choose(group, key, NOW) is second


def test_with_no_room_anywhere_a_prefix_stays_home_until_its_backlog_is_long() -> None:
    group = states(4, load=_cache_load())
    key = Prefix(_key(_chat(SYSTEM, "hi")), 2000)
    home = balancer().choose(group, key, NOW)
    second, third, fourth = _spill_order(group, key, home)
    for d in (second, third, fourth):
        _fill(d, d.name)
    # Past the bound (1.5x the average backlog, at least 2), not past 8.
    home.observe_load(_cache_load(waiting=POLICY.evicting_spill_backlog - 1), NOW)
    assert balancer().choose(group, key, NOW) is home
    # Past it: the first engine within the bound, evicting or not.
    home.acquire()
    assert balancer().choose(group, key, NOW) is second


# --- placing prefixes ---------------------------------------------------------------------


def _keys(count: int, prefix: str = "tenant") -> list[Prefix]:
    keys = [prefix_key(_chat(f"{prefix} {i} " * 200, "hi")) for i in range(count)]
    return [k for k in keys if k is not None]


def test_prefixes_are_spread_evenly_where_hashing_alone_is_lopsided() -> None:
    keys = _keys(12)
    group = states(4, load=idle())
    hashed = Counter(max(group, key=lambda d: rank(k.key, d)).name for k in keys)
    assert max(hashed.values()) >= 5  # what rendezvous hashing alone does with these
    shared = balancer()
    homes = Counter(shared.choose(group, k, NOW).name for k in keys)
    assert sorted(homes.values()) == [3, 3, 3, 3]
    # And each stays where it was put.
    assert Counter(shared.choose(group, k, NOW + 1).name for k in reversed(keys)) == homes


def test_weights_set_each_engines_share_of_prefixes() -> None:
    group = states(2, load=idle())
    group[0].deployment = group[0].deployment.model_copy(update={"weight": 3.0})
    shared = balancer()
    homes = Counter(shared.choose(group, k, NOW).name for k in _keys(8))
    assert homes == {"vllm-0": 6, "vllm-1": 2}


def test_a_prefix_unseen_for_the_window_frees_its_share() -> None:
    group = states(2, load=idle())
    shared = balancer()
    old, new = _keys(2, "old"), _keys(2, "new")
    for k in old:
        shared.choose(group, k, NOW)
    assert len(shared.placement) == 2
    later = NOW + POLICY.affinity_window_seconds + 1
    for state in group:
        state.observe_load(idle(), later)
    homes = Counter(shared.choose(group, k, later).name for k in new)
    assert len(shared.placement) == 2
    assert sorted(homes.values()) == [1, 1]


def test_an_unavailable_home_lends_its_prefix_and_gets_it_back() -> None:
    group = states(4, load=idle())
    shared = balancer()
    key = _keys(1)[0]
    home = shared.choose(group, key, NOW)
    others = [d for d in group if d is not home]
    stand_in = shared.choose(others, key, NOW)  # its breaker is open, say
    assert stand_in is not home
    assert shared.choose(others, key, NOW) is stand_in
    assert shared.choose(group, key, NOW) is home


def test_a_request_done_since_the_reading_no_longer_counts() -> None:
    group = states(2, load=idle())
    group[0].acquire().release()
    assert group[0].sent_since_load == 0
    group[0].acquire()
    assert group[0].sent_since_load == 1


def test_without_a_prefix_the_least_loaded_engine_wins() -> None:
    group = states(3, load=EngineLoad(running=5, waiting=2, kv_usage=0.5))
    group[1].observe_load(EngineLoad(running=1, waiting=0, kv_usage=0.9), NOW)
    assert {balancer().choose(group, None, NOW).name for _ in range(20)} == {"vllm-1"}


def test_requests_sent_since_the_reading_count_as_load() -> None:
    group = states(2, load=idle())
    group[0].acquire()
    group[0].acquire()
    assert {balancer().choose(group, None, NOW).name for _ in range(20)} == {"vllm-1"}


def test_a_stale_reading_falls_back_to_least_in_flight() -> None:
    group = states(3, load=idle())
    group[2].observe_load(idle(), NOW - POLICY.stale_seconds - 1)  # its metrics stopped
    group[0].in_flight = group[2].in_flight = 2
    key = prefix_key(_chat(SYSTEM, "hi"))
    picks = Counter(balancer().choose(group, key, NOW).name for _ in range(20))
    assert picks == {"vllm-1": 20}


def test_no_reading_at_all_is_least_in_flight() -> None:
    group = states(2)
    group[0].in_flight = 1
    assert {balancer().choose(group, 7, NOW).name for _ in range(10)} == {"vllm-1"}


# --- the saturation guard ---------------------------------------------------------------


def route(group: list[DeploymentState], depth: int | None = 4) -> Route:
    entry = ModelEntry(
        alias="chat",
        strategy=Strategy.LOAD_AWARE,
        shed_queue_depth=depth,
        deployments=tuple(s.deployment for s in group),
    )
    return Route(entry, tuple(group), balancer())


def _queueing(group: list[DeploymentState], waiting: int) -> None:
    for state in group:
        state.observe_load(EngineLoad(running=64, waiting=waiting, kv_usage=1.0), NOW)


@pytest.mark.parametrize(
    ("waiting", "shed"),
    [
        (3, set()),
        (4, {Priority.LOW}),
        (8, {Priority.LOW, Priority.NORMAL}),
        (16, {Priority.LOW, Priority.NORMAL, Priority.HIGH}),
    ],
)
def test_the_lowest_priority_is_shed_first(waiting: int, shed: set[Priority]) -> None:
    group = states(3)
    _queueing(group, waiting)
    refused = {p for p in Priority if overloaded(route(group), p, NOW, POLICY) is not None}
    assert refused == shed


def test_requests_sent_since_the_reading_count_as_waiting_at_once() -> None:
    group = states(2)
    _queueing(group, 3)
    assert overloaded(route(group), Priority.LOW, NOW, POLICY) is None
    for state in group:
        state.acquire()
    assert overloaded(route(group), Priority.LOW, NOW, POLICY) is not None


def test_nothing_is_shed_while_one_engine_has_room() -> None:
    group = states(3)
    _queueing(group, 50)
    group[1].observe_load(EngineLoad(running=10, waiting=0, kv_usage=0.3), NOW)
    assert overloaded(route(group), Priority.LOW, NOW, POLICY) is None


def test_nothing_is_shed_without_fresh_evidence() -> None:
    group = states(2)
    _queueing(group, 50)
    group[0].observe_load(idle(), NOW - 60)
    assert overloaded(route(group), Priority.LOW, NOW, POLICY) is None
    assert overloaded(route(states(2), depth=None), Priority.LOW, NOW, POLICY) is None


def test_a_shed_request_is_told_when_to_retry_in_each_apis_shape() -> None:
    group = states(2)
    _queueing(group, 50)
    refusal = overloaded(route(group), Priority.LOW, NOW, POLICY)
    assert refusal is not None
    openai = refusal.to_response(Envelope.OPENAI)
    assert openai.status_code == 503
    assert orjson.loads(openai.body)["error"]["code"] == "server_overloaded"
    assert openai.headers["retry-after"] == "2"
    anthropic = refusal.to_response(Envelope.ANTHROPIC)
    assert anthropic.status_code == 529
    assert orjson.loads(anthropic.body)["error"]["type"] == "overloaded_error"
    assert anthropic.headers["retry-after"] == "2"
