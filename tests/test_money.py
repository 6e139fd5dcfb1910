"""Cost per request, USD budgets and the response cache through the whole stack, with
two policy replicas.

One stack for every money test: the simulator behind a priced alias (``sim-chat``, $2 in
and $8 out per million tokens) and an unpriced one (``sim-unpriced``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from edge.validation import Bodies, Limits
from gateway_cli.stack import Ports, Service, Stack
from gateway_shared.cache_layout import index_key
from gateway_shared.plans import CachePlan, Plan
from gateway_shared.wire.identity import Api
from policy.usage import KeyLayout, read_usage
from tests.conftest import create_key, gateway_cli
from tests.support.limits import PATIENT_REDIS, Caller, add_policy_replica
from tests.support.openapi import schema_errors, stream_event_component
from tests.support.waiting import eventually, wait_until

INPUT_NUSD, OUTPUT_NUSD = 2000, 8000  # per token: $2 and $8 per million
NANO = Decimal(10**9)
_BODIES = Bodies(Limits())

# Prompts the estimator (characters / 4) undercounts, with a simulator that counts as a
# finer tokenizer would (prompt_token_factor).
CODE = "def f(x):\n    return {k: [v**2 for v in x[k] if v % 2] for k in x}  # sq odd\n" * 3
CJK = "预算在所有副本之间保持不变。請求の費用は米ドルで計算されます。" * 2
FACTOR = 3.0


def _catalog(path: Path, simulator_port: int) -> Path:
    base = f"http://127.0.0.1:{simulator_port}/v1"
    path.write_text(
        "models:\n"
        "  - alias: sim-chat\n"
        "    deployments:\n"
        f"      - {{name: sim-priced, provider: vllm, base_url: '{base}', model: sim-model,\n"
        "          prices: {input: 2.0, output: 8.0}}\n"
        "  - alias: sim-unpriced\n"
        "    deployments:\n"
        f"      - {{name: sim-free, provider: vllm, base_url: '{base}', model: sim-model}}\n"
    )
    return path


@pytest.fixture(scope="module")
def mstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("money")
    ports = Ports()
    stack = Stack(
        workdir,
        ports=ports,
        catalog_path=_catalog(workdir / "catalog.yaml", ports.simulator),
        extra_env=PATIENT_REDIS,  # 50 callers
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def replica(mstack: Stack) -> Iterator[Service]:
    second = add_policy_replica(mstack)
    yield second
    second.stop()


@pytest.fixture
async def redis(mstack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(mstack.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def sim(mstack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mstack.services["simulator"].url, timeout=5) as admin:
        yield admin
        admin.post("/admin/reset").raise_for_status()


def _nusd(text: str) -> int:
    return int(Decimal(text) * NANO)


def _chat(
    content: str = "hello", max_tokens: int = 10, *, stream: bool = False
) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "sim-chat",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def _stream(
    client: httpx.AsyncClient, body: dict[str, object], headers: dict[str, str]
) -> tuple[int, int | None, tuple[int, int] | None]:
    """Status, the cost in the stream's usage chunk (nano-USD), and the chunk's tokens."""
    cost = usage = None
    async with client.stream("POST", "/chat/completions", json=body, headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: {") and (chunk := orjson.loads(line[6:])).get("usage"):
                usage = (chunk["usage"]["prompt_tokens"], chunk["usage"]["completion_tokens"])
                cost = _nusd(str(chunk["usage"]["cost"]))
        return response.status_code, cost, usage


async def _settled(redis: Redis, layout: KeyLayout) -> None:
    async def idle() -> bool:
        return await redis.zcard(layout.inflight) == 0

    await eventually(idle, timeout=10, what="every request settled")


async def test_usage_sums_the_costs_callers_saw_streams_and_cuts_included(
    mstack: Stack, redis: Redis, sim: httpx.Client
) -> None:
    key = create_key(mstack, "spender")
    headers = {"authorization": f"Bearer {key}"}
    sdk = openai.OpenAI(base_url=mstack.base_url, api_key=key, max_retries=0)
    seen: list[int] = []
    for _ in range(3):
        raw = sdk.chat.completions.with_raw_response.create(**_chat())  # type: ignore[call-overload]
        usage = raw.parse().usage
        cost = _nusd(raw.headers["x-gateway-cost-usd"])
        # The header is the provider's usage at the catalog's prices.
        assert cost == usage.prompt_tokens * INPUT_NUSD + usage.completion_tokens * OUTPUT_NUSD
        seen.append(cost)
    async with httpx.AsyncClient(base_url=mstack.base_url, timeout=30) as client:
        for _ in range(3):
            status, cost, tokens = await _stream(client, _chat(stream=True), headers)
            assert status == 200
            assert cost is not None
            assert tokens is not None
            assert cost == tokens[0] * INPUT_NUSD + tokens[1] * OUTPUT_NUSD
            seen.append(cost)
        # A stream the provider cuts reports no usage, so no cost; it is charged the
        # router's estimate all the same.
        sim.put(
            "/admin/config", json={"disconnect_after_tokens": 3, "itl_ms": 5}
        ).raise_for_status()
        assert await _stream(client, _chat(stream=True), headers) == (200, None, None)
        # A client that leaves mid-stream sees no cost either, and is charged for what it got.
        sim.put(
            "/admin/config", json={"disconnect_after_tokens": None, "itl_ms": 50}
        ).raise_for_status()
        async with client.stream(
            "POST", "/chat/completions", json=_chat(max_tokens=16, stream=True), headers=headers
        ) as response:
            async for _ in response.aiter_lines():
                break
        usage = await client.get("/usage", headers=headers)
    record_id = usage.json()["key"]["id"]
    await _settled(redis, KeyLayout(record_id))
    async with httpx.AsyncClient(base_url=mstack.base_url, timeout=30) as client:
        day = (await client.get("/usage", headers=headers)).json()["day"]
    assert day["requests"] == len(seen) + 2
    left_cost = _nusd(str(day["cost_usd"])) - sum(seen)
    assert left_cost > 0  # the cut and the disconnected requests were costed...
    # ...like every other, at the prices of the tokens charged.
    assert (
        _nusd(str(day["cost_usd"]))
        == day["prompt_tokens"] * INPUT_NUSD + day["completion_tokens"] * OUTPUT_NUSD
    )
    assert day["by_model"]["sim-chat"]["cost_usd"] == day["cost_usd"]
    metrics = httpx.get(mstack.services["policy"].url + "/metrics").text
    assert 'gateway_cost_usd_total{model="sim-chat"}' in metrics


HELLO = [{"role": "user", "content": "hello"}]
# A streamed request per API, each asking for its usage where the API makes it optional.
STREAMS: dict[str, dict[str, object]] = {
    "/chat/completions": _chat(stream=True),
    "/completions": {
        "model": "sim-chat",
        "prompt": "hello",
        "max_tokens": 10,
        "stream": True,
        "stream_options": {"include_usage": True},
    },
    "/responses": {"model": "sim-chat", "input": "hello", "max_output_tokens": 16, "stream": True},
    "/messages": {"model": "sim-chat", "max_tokens": 10, "messages": HELLO, "stream": True},
}


def _usage_event(path: str, text: str) -> dict[str, Any] | None:
    """The event in which the API reports a stream's usage, checked against its schema."""
    for line in text.splitlines():
        if not line.startswith("data: {"):
            continue
        event = orjson.loads(line[6:])
        if path == "/responses" and event["type"] == "response.completed":
            assert schema_errors(stream_event_component(event["type"]), event) == [], event
            return dict(event["response"]["usage"])
        if path == "/messages" and event["type"] == "message_delta":
            TypeAdapter(RawMessageStreamEvent).validate_python(event)
            return dict(event["usage"])
        if path in ("/chat/completions", "/completions") and event["choices"] == []:
            if path == "/chat/completions":
                assert schema_errors("CreateChatCompletionStreamResponse", event) == [], event
            return dict(event["usage"])
    return None


@pytest.mark.parametrize("path", list(STREAMS))
async def test_a_streams_usage_carries_the_cost_usage_counted(
    mstack: Stack, redis: Redis, path: str
) -> None:
    key = create_key(mstack, "stream-cost" + path.replace("/", "-"))
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=mstack.base_url, headers=headers, timeout=30) as client:
        response = await client.post(path, json=STREAMS[path])
        assert response.status_code == 200, response.text
        usage = _usage_event(path, response.text)
        assert usage is not None, response.text
        key_id = (await client.get("/usage")).json()["key"]["id"]
        await _settled(redis, KeyLayout(key_id))
        day = (await client.get("/usage")).json()["day"]
    assert isinstance(usage["cost"], float)  # a JSON number of USD, as OpenRouter's
    assert _nusd(str(usage["cost"])) == _nusd(str(day["cost_usd"])) > 0


def test_an_unpriced_streams_cost_is_null_and_a_stream_without_usage_gets_none(
    mstack: Stack,
) -> None:
    key = create_key(mstack, "stream-unpriced")
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=mstack.base_url, headers=headers, timeout=30) as client:
        unpriced = client.post(
            "/chat/completions", json=_chat(stream=True) | {"model": "sim-unpriced"}
        )
        usage = _usage_event("/chat/completions", unpriced.text)
        assert usage is not None
        assert usage["cost"] is None  # unknown, never 0
        # No usage asked for: the stream is its chunks and [DONE], nothing more.
        plain = client.post("/chat/completions", json=_chat() | {"stream": True})
    chunks = [line for line in plain.text.splitlines() if line]
    assert chunks[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in chunks)
    assert all(orjson.loads(line[6:])["choices"] for line in chunks[:-1])


def test_an_unpriced_model_costs_unknown_and_a_budgeted_key_is_refused_it(mstack: Stack) -> None:
    key = create_key(mstack, "unpriced-user")
    sdk = openai.OpenAI(base_url=mstack.base_url, api_key=key, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(**_chat() | {"model": "sim-unpriced"})  # type: ignore[call-overload]
    assert raw.headers["x-gateway-cost-usd"] == "unknown"
    usage = httpx.get(mstack.base_url + "/usage", headers={"authorization": f"Bearer {key}"}).json()
    assert usage["day"]["by_model"]["sim-unpriced"]["cost_usd"] == "unknown"
    assert usage["day"]["unpriced_requests"] == 1
    budgeted = create_key(mstack, "budgeted", "--daily-usd", "1")
    limited = openai.OpenAI(base_url=mstack.base_url, api_key=budgeted, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        limited.chat.completions.create(**_chat() | {"model": "sim-unpriced"})  # type: ignore[call-overload]
    assert caught.value.code == "model_not_priced"
    assert "sim-unpriced" in caught.value.message
    raw = limited.chat.completions.with_raw_response.create(**_chat())  # type: ignore[call-overload]
    remaining = _nusd(raw.headers["x-gateway-budget-remaining-usd"])
    assert 0 < remaining < 10**9


async def _spend_until_refused(
    callers: list[Caller], urls: list[str], workers: int
) -> tuple[list[tuple[Caller, int, int]], list[str]]:
    """``workers`` callers in all, spread over the keys and the replicas, each sending
    code and CJK prompts until its budget refuses it. Returns, per answered request, its
    caller, cost seen and prompt undercount (provider's count minus the estimate); and
    the refusals' messages."""
    answered: list[tuple[Caller, int, int]] = []
    refusals: list[str] = []
    clients = [httpx.AsyncClient(base_url=u + "/v1", timeout=30) for u in urls]

    async def worker(i: int) -> None:
        caller, client = callers[i % len(callers)], clients[(i // len(callers)) % len(clients)]
        while True:
            body = _chat(CODE if i % 2 else CJK, max_tokens=20)
            estimate = _BODIES.check(Api.CHAT, orjson.dumps(body))[1].prompt_tokens
            _, headers = caller.headers(body)
            response = await client.post("/chat/completions", json=body, headers=headers)
            if response.status_code == 429:
                assert response.json()["error"]["code"] == "insufficient_quota"
                refusals.append(response.json()["error"]["message"])
                return
            assert response.status_code == 200, response.text
            prompt = response.json()["usage"]["prompt_tokens"]
            answered.append(
                (caller, _nusd(response.headers["x-gateway-cost-usd"]), prompt - estimate)
            )

    try:
        await asyncio.gather(*(worker(i) for i in range(workers)))
    finally:
        for c in clients:
            await c.aclose()
    return answered, refusals


def _bound(answered: list[tuple[Caller, int, int]], concurrent: int) -> int:
    """docs/policy.md's bound: the prompt undercount of the requests in flight when the
    budget ran out, at the input rate; at most ``concurrent`` of the largest ones."""
    undercounts = sorted((u for _, _, u in answered), reverse=True)[:concurrent]
    return sum(max(u, 0) for u in undercounts) * INPUT_NUSD


async def test_a_key_budget_holds_under_50_callers_across_replicas(
    mstack: Stack, replica: Service, redis: Redis, sim: httpx.Client
) -> None:
    sim.put(
        "/admin/config", json={"prompt_token_factor": FACTOR, "output_tokens": 20, "itl_ms": 2}
    ).raise_for_status()
    budget = Decimal("0.05")
    caller = Caller(mstack, Plan(daily_usd=float(budget)))
    urls = [mstack.services["policy"].url, replica.url]
    answered, refusals = await _spend_until_refused([caller], urls, 50)
    await _settled(redis, KeyLayout(caller.key_id))
    spent = _nusd(str((await read_usage(redis, caller.key_id))["day"]["cost_usd"]))
    assert spent == sum(c for _, c, _ in answered)  # what callers saw is what was charged
    assert all(u > 0 for _, _, u in answered)  # the estimator did undercount every prompt
    assert spent <= budget * NANO + _bound(answered, 50)
    # The budget was really used up, and the refusal named it.
    worst = max(c for _, c, _ in answered)
    assert spent >= budget * NANO - 50 * worst
    assert "this key's daily budget of $0.05" in refusals[0]


async def test_a_group_budget_holds_over_its_keys_under_50_callers(
    mstack: Stack, replica: Service, redis: Redis, sim: httpx.Client
) -> None:
    sim.put(
        "/admin/config", json={"prompt_token_factor": FACTOR, "output_tokens": 20, "itl_ms": 2}
    ).raise_for_status()
    group = "team-" + uuid.uuid4().hex[:6]
    budget = Decimal("0.05")
    plan = Plan(budget_group=group, group_daily_usd=float(budget), daily_usd=1.0)
    callers = [Caller(mstack, plan), Caller(mstack, plan)]
    urls = [mstack.services["policy"].url, replica.url]
    answered, refusals = await _spend_until_refused(callers, urls, 50)
    for caller in callers:
        await _settled(redis, KeyLayout(caller.key_id, group))
    usage = await read_usage(redis, callers[0].key_id, group)
    spent = _nusd(str(usage["budget_group"]["day"]["cost_usd"]))
    assert spent == sum(c for _, c, _ in answered)
    assert {c.key_id for c, _, _ in answered} == {c.key_id for c in callers}  # both keys spent
    assert spent <= budget * NANO + _bound(answered, 50)
    worst = max(c for _, c, _ in answered)
    assert spent >= budget * NANO - 50 * worst
    assert f"budget group '{group}''s daily budget" in refusals[0]


async def test_the_cache_is_shared_by_the_replicas_and_a_revoked_keys_entries_go_for_both(
    mstack: Stack, replica: Service
) -> None:
    """An answer stored through one policy replica is a hit through the other (one cache
    Redis), both ways; revoking the key purges its entries for both."""
    key = create_key(mstack, "cache-replicas", "--cache-ttl-s", "300")
    with httpx.Client(base_url=mstack.base_url, timeout=30) as client:
        usage = client.get("/usage", headers={"authorization": f"Bearer {key}"})
    key_id = usage.json()["key"]["id"]
    caller = Caller(mstack, Plan(cache=CachePlan(ttl_s=300)), key_id)
    replicas = [mstack.services["policy"].url + "/v1", replica.url + "/v1"]
    bodies = [_chat("stored by the first"), _chat("stored by the second")]

    def send(url: str, body: dict[str, object]) -> httpx.Response:
        response = httpx.post(url + "/chat/completions", json=body, headers=caller.headers(body)[1])
        assert response.status_code == 200, response.text
        return response

    for stored_by, body in enumerate(bodies):
        miss = send(replicas[stored_by], body)
        assert miss.headers["x-gateway-cache"] == "miss"
        hit = send(replicas[1 - stored_by], body)
        assert hit.headers["x-gateway-cache"] == "hit"
        assert hit.content == miss.content
    cache = SyncRedis.from_url(mstack.cache_redis_url)
    try:
        entries = cache.zrange(index_key(f"key:{key_id}"), 0, -1)
        assert len(entries) == len(bodies)
        gateway_cli(mstack, "keys", "revoke", "cache-replicas")
        # Edge's registry check purges (every few seconds): the entries, then their index,
        # one call after the other (gateway_shared.cache_layout.purge_keys).
        index = index_key(f"key:{key_id}")
        wait_until(lambda: cache.exists(*entries, index) == 0, timeout=20, what="the purge")
    finally:
        cache.close()
    # Each replica misses what it hit before (and stores it again).
    for stored_by, body in enumerate(bodies):
        assert send(replicas[1 - stored_by], body).headers["x-gateway-cache"] == "miss"
