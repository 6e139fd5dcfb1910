"""The response cache through every tier (docs/policy.md, "Response cache"): a repeated
request is a hit with the same bytes and no tokens; any field in the key changes it;
scopes, errors, cut streams, cache control and rpm; every API's stream replay against
its schema. Revocation's purge, with two policy replicas, is in tests/test_money.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx
import orjson
import pytest
import redis

from gateway_cli.stack import Stack
from tests.conftest import create_key
from tests.support.openapi import schema_errors, stream_event_component
from tests.support.waiting import wait_until

HELLO = [{"role": "user", "content": "Hello cache"}]
CHAT: dict[str, Any] = {"model": "sim-chat", "messages": HELLO, "max_tokens": 12}
# One request per API the gateway serves, whole.
BODIES: dict[str, dict[str, Any]] = {
    "/chat/completions": CHAT,
    "/completions": {"model": "sim-chat", "prompt": "Hello cache", "max_tokens": 12},
    "/embeddings": {"model": "sim-embed", "input": "Hello cache"},
    "/responses": {"model": "sim-chat", "input": "Hello cache", "max_output_tokens": 16},
    "/messages": {"model": "sim-chat", "max_tokens": 12, "messages": HELLO},
}
STREAMED = [p for p in BODIES if p != "/embeddings"]


class Caller:
    """One key's plain HTTP client: the bytes and headers exactly as the gateway sent."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.http = httpx.Client(
            base_url=stack.base_url, headers={"authorization": f"Bearer {key}"}, timeout=30
        )

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return self.http.post(path, json=body, headers=headers)

    def day(self) -> dict[str, Any]:
        usage: dict[str, Any] = self.http.get("/usage").json()
        return usage["day"]

    def key_id(self) -> str:
        return str(self.http.get("/usage").json()["key"]["id"])


@contextmanager
def cached_caller(stack: Stack, name: str, *plan: str) -> Iterator[Caller]:
    caller = Caller(stack, create_key(stack, name, "--cache-ttl-s", "300", *plan))
    try:
        yield caller
    finally:
        caller.http.close()


@pytest.fixture(scope="module")
def cached(stack: Stack) -> Iterator[Caller]:
    with cached_caller(stack, "cache-tests") as caller:
        yield caller


def _cache(response: httpx.Response) -> str:
    return response.headers.get("x-gateway-cache", "")


def _data(response: httpx.Response) -> list[Any]:
    return [
        orjson.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


@pytest.mark.parametrize("path", list(BODIES))
def test_the_same_request_twice_is_a_hit_with_the_same_bytes_and_no_tokens(
    cached: Caller, path: str
) -> None:
    body = BODIES[path] | {"metadata": {"test": "same"}} if path == "/responses" else BODIES[path]
    first = cached.post(path, body)
    assert first.status_code == 200, first.text
    assert _cache(first) == "miss"
    before = cached.day()
    second = cached.post(path, body)
    assert second.status_code == 200
    assert _cache(second) == "hit"
    assert second.content == first.content
    # What the hit cost: nothing (the miss's model is unpriced in this stack).
    assert (first.headers["x-gateway-cost-usd"], second.headers["x-gateway-cost-usd"]) == (
        "unknown",
        "0.000000000",
    )
    assert float(second.headers["x-gateway-overhead-ms"]) >= 0
    after = cached.day()
    for counted in ("prompt_tokens", "completion_tokens", "requests"):
        assert after[counted] == before[counted], counted
    assert after["cache_hits"] == before["cache_hits"] + 1


def test_a_plan_without_a_cache_is_never_cached(stack: Stack, api_key: str) -> None:
    plain = Caller(stack, api_key)
    for _ in range(2):
        answer = plain.post("/chat/completions", CHAT)
        assert answer.status_code == 200
        assert "x-gateway-cache" not in answer.headers


# Each changes one field the answer depends on; none may be answered from CHAT's entry.
CHANGED: dict[str, dict[str, Any]] = {
    # Another alias of the same simulated model: the same answer, another entry.
    "model alias": {"model": "sim-native"},
    "messages": {"messages": [{"role": "user", "content": "Hello cache!"}]},
    "system message": {"messages": [{"role": "system", "content": "Brief."}, *HELLO]},
    "max_tokens": {"max_tokens": 11},
    "temperature": {"temperature": 0.3},
    "top_p": {"top_p": 0.5},
    "seed": {"seed": 7},
    "stop": {"stop": ["zzz"]},
    "n": {"n": 2},
    "presence_penalty": {"presence_penalty": 0.5},
    "frequency_penalty": {"frequency_penalty": 0.5},
    "logprobs": {"logprobs": True},
    "response_format": {"response_format": {"type": "json_object"}},
    "tools": {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": "none",
    },
    "tool_choice": {"tool_choice": "none"},
    "reasoning_effort": {"reasoning_effort": "low"},
    "an unknown field": {"vendor_option": {"depth": 2}},
}


@pytest.fixture(scope="module")
def stored_chat(cached: Caller) -> Caller:
    """CHAT stored, and hit once to prove it."""
    cached.post("/chat/completions", CHAT)
    assert _cache(cached.post("/chat/completions", CHAT)) == "hit"
    return cached


@pytest.mark.parametrize("change", list(CHANGED))
def test_a_change_to_any_field_in_the_key_is_a_miss(stored_chat: Caller, change: str) -> None:
    answer = stored_chat.post("/chat/completions", CHAT | CHANGED[change])
    assert answer.status_code == 200, answer.text
    assert _cache(answer) == "miss"


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("/responses", {"text": {"format": {"type": "json_object"}}}),
        ("/responses", {"reasoning": {"effort": "low"}}),
        ("/responses", {"instructions": "Be brief."}),
        ("/messages", {"system": "Be brief."}),
        ("/messages", {"temperature": 0.2}),
        ("/completions", {"prompt": "Hello cache!"}),
        ("/embeddings", {"input": "Hello cache!"}),
    ],
)
def test_a_change_to_another_apis_field_is_a_miss(
    cached: Caller, path: str, change: dict[str, Any]
) -> None:
    body = (
        BODIES[path] | {"metadata": {"test": "changed"}} if path == "/responses" else BODIES[path]
    )
    cached.post(path, body)
    assert _cache(cached.post(path, body)) == "hit"
    answer = cached.post(path, body | change)
    assert answer.status_code == 200, answer.text
    assert _cache(answer) == "miss"


def test_anthropics_beta_header_is_in_the_key(cached: Caller) -> None:
    body = BODIES["/messages"] | {"messages": [{"role": "user", "content": "beta?"}]}
    cached.post("/messages", body)
    assert _cache(cached.post("/messages", body)) == "hit"
    answer = cached.post("/messages", body, **{"anthropic-beta": "some-beta-2025-01-01"})
    assert _cache(answer) == "miss"


def test_transport_fields_are_not_in_the_key(cached: Caller) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "transport"}]}
    first = cached.post("/chat/completions", body)
    assert _cache(first) == "miss"
    with_user = cached.post("/chat/completions", body | {"user": "someone-else"})
    assert _cache(with_user) == "hit"
    assert with_user.content == first.content
    streamed = cached.post(
        "/chat/completions", body | {"stream": True, "stream_options": {"include_usage": True}}
    )
    assert _cache(streamed) == "hit"
    assert streamed.headers["content-type"].startswith("text/event-stream")


def test_another_key_misses_and_a_shared_namespace_hits(stack: Stack, cached: Caller) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "scopes"}]}
    cached.post("/chat/completions", body)
    assert _cache(cached.post("/chat/completions", body)) == "hit"
    with cached_caller(stack, "cache-other") as other:
        assert _cache(other.post("/chat/completions", body)) == "miss"
    with (
        cached_caller(stack, "cache-team-1", "--cache-namespace", "team") as one,
        cached_caller(stack, "cache-team-2", "--cache-namespace", "team") as two,
    ):
        first = one.post("/chat/completions", body)
        assert _cache(first) == "miss"
        shared = two.post("/chat/completions", body)
        assert _cache(shared) == "hit"
        assert shared.content == first.content


def test_an_error_is_never_stored(cached: Caller, simulator: httpx.Client) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "errors"}]}
    simulator.put("/admin/config", json={"error_rate": 1.0, "error_status": 400}).raise_for_status()
    failed = cached.post("/chat/completions", body)
    assert failed.status_code == 400
    assert _cache(failed) == "miss"
    simulator.post("/admin/reset").raise_for_status()
    answered = cached.post("/chat/completions", body)
    assert answered.status_code == 200
    assert _cache(answered) == "miss"
    assert _cache(cached.post("/chat/completions", body)) == "hit"


@pytest.mark.parametrize("path", STREAMED)
def test_a_cut_stream_is_never_stored(cached: Caller, simulator: httpx.Client, path: str) -> None:
    body = BODIES[path] | {"stream": True, "max_tokens": 10, "temperature": 0.9}
    if path == "/responses":
        body = BODIES[path] | {"stream": True, "metadata": {"test": "cut"}}
    simulator.put("/admin/config", json={"disconnect_after_tokens": 2}).raise_for_status()
    try:
        cut = cached.post(path, body)
        assert _cache(cut) == "miss"
        assert b"error" in cut.content
    except httpx.HTTPError:
        pass  # the cut reached the client as a broken stream
    simulator.post("/admin/reset").raise_for_status()
    whole = cached.post(path, body)
    assert _cache(whole) == "miss"
    assert _cache(cached.post(path, body)) == "hit"


def _assert_valid_stream(path: str, answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = _data(answer)
    assert events
    for event in events:
        if path == "/chat/completions":
            assert schema_errors("CreateChatCompletionStreamResponse", event) == [], event
        elif path == "/completions":
            # The chunks before the last have finish_reason null, as OpenAI's do (and usage
            # null, as vLLM's do); the only schema for them is the whole answer's, which has
            # no room for either.
            choices = [
                c | {"finish_reason": c["finish_reason"] or "stop"} for c in event["choices"]
            ]
            chunk = {k: v for k, v in event.items() if v is not None} | {"choices": choices}
            assert schema_errors("CreateCompletionResponse", chunk) == [], event
        elif path == "/responses":
            errors = schema_errors(stream_event_component(event["type"]), event)
            assert errors == [], event
    assert answer.text.endswith("data: [DONE]\n\n") == (
        path in ("/chat/completions", "/completions")
    )


def _answer(miss: httpx.Response) -> bytes:
    """A missed stream as a hit replays it: byte for byte, but for the cost in its usage
    (docs/policy.md), which is the request's: the miss's unknown, the hit's 0."""
    assert miss.content.count(b'"cost":null') <= 1
    return miss.content.replace(b'"cost":null', b'"cost":0.0')


@pytest.mark.parametrize("stored", ["whole", "stream"])
@pytest.mark.parametrize("path", [p for p in STREAMED if p != "/messages"])
def test_stream_replay_validates_against_the_apis_schema(
    cached: Caller, path: str, stored: str
) -> None:
    # Its own entry per case: ``stream`` is not in the key.
    body = BODIES[path] | {"metadata": {"replay": stored}} if path == "/responses" else BODIES[path]
    body = body | {"max_tokens": 9, "seed": len(stored)} if path != "/responses" else body
    first = cached.post(path, body | {"stream": stored == "stream"})
    assert _cache(first) == "miss"
    replayed = cached.post(path, body | {"stream": True})
    assert _cache(replayed) == "hit"
    _assert_valid_stream(path, replayed)
    if path == "/responses":
        assert _data(replayed)[-1]["response"]["usage"]["cost"] == 0
    if stored == "stream":
        assert replayed.content == _answer(first)
    elif path == "/chat/completions":
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in _data(replayed)
                       if c["choices"])  # fmt: skip
        assert text == first.json()["choices"][0]["message"]["content"]


def test_a_replayed_chat_stream_sends_its_usage_only_when_asked(cached: Caller) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "usage chunk"}], "stream": True}
    asked = body | {"stream_options": {"include_usage": True}}
    first = cached.post("/chat/completions", asked)
    assert _cache(first) == "miss"
    without = cached.post("/chat/completions", body)
    assert _cache(without) == "hit"
    assert all(chunk["choices"] for chunk in _data(without))
    again = cached.post("/chat/completions", asked)
    assert again.content == _answer(first)
    assert _data(first)[-1]["usage"]["cost"] is None  # unpriced in this stack
    usage = _data(again)[-1]["usage"]
    assert usage["completion_tokens"] > 0
    assert usage["cost"] == 0  # what the hit cost


@pytest.mark.parametrize("stored", ["whole", "stream"])
def test_a_replayed_messages_stream_is_anthropics(
    stack: Stack, cached: Caller, stored: str
) -> None:
    key = cached.http.headers["authorization"].removeprefix("Bearer ")
    claude = anthropic.Anthropic(
        base_url=stack.base_url.removesuffix("/v1"), api_key=key, max_retries=0
    )
    body = BODIES["/messages"] | {"messages": [{"role": "user", "content": f"sdk {stored}"}]}
    if stored == "whole":
        original = claude.messages.create(**body)
    else:
        with claude.messages.stream(**body) as stream:
            original = stream.get_final_message()
    with claude.messages.stream(**body) as stream:
        events = list(stream)
        replayed = stream.get_final_message()
        assert stream.response.headers["x-gateway-cache"] == "hit"
    kinds = [event.type for event in events]
    delta = next(e for e in events if e.type == "message_delta")
    assert getattr(delta.usage, "cost", None) == 0  # what the hit cost (an extra field)
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert [b.model_dump() for b in replayed.content] == [
        b.model_dump(exclude={"parsed_output"}) for b in original.content
    ]
    assert replayed.stop_reason == original.stop_reason
    assert replayed.usage.output_tokens == original.usage.output_tokens


def test_no_store_bypasses_and_no_cache_refreshes(cached: Caller) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "control"}]}
    bypassed = cached.post("/chat/completions", body, **{"cache-control": "no-store"})
    assert _cache(bypassed) == "bypass"
    assert _cache(cached.post("/chat/completions", body)) == "miss"  # nothing was stored
    assert _cache(cached.post("/chat/completions", body)) == "hit"
    refreshed = cached.post("/chat/completions", body, **{"cache-control": "no-cache"})
    assert _cache(refreshed) == "miss"
    again = cached.post("/chat/completions", body)
    assert _cache(again) == "hit"
    assert again.content == refreshed.content


def test_a_hit_counts_against_rpm(stack: Stack) -> None:
    with cached_caller(stack, "cache-rpm", "--rpm", "2") as caller:
        assert _cache(caller.post("/chat/completions", CHAT)) == "miss"
        hit = caller.post("/chat/completions", CHAT)
        assert _cache(hit) == "hit"
        assert hit.headers["x-ratelimit-remaining-requests"] == "0"
        refused = caller.post("/chat/completions", CHAT)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"


def _calls(server: redis.Redis, command: str) -> int:
    stats: dict[str, Any] = server.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_a_hit_costs_one_round_trip_to_each_redis_and_never_reaches_a_provider(
    stack: Stack, cached: Caller, simulator: httpx.Client
) -> None:
    body = CHAT | {"messages": [{"role": "user", "content": "round trips"}]}
    assert _cache(cached.post("/chat/completions", body)) == "miss"
    state = redis.Redis.from_url(stack.redis_url)
    cache = redis.Redis.from_url(stack.cache_redis_url)
    served = simulator.get("/admin/stats").json()["requests"]
    before = [_calls(state, "evalsha"), _calls(cache, "get"), _calls(cache, "set")]
    assert _cache(cached.post("/chat/completions", body)) == "hit"
    after = [_calls(state, "evalsha"), _calls(cache, "get"), _calls(cache, "set")]
    # The hit's admission (one script, no settlement), the entry's read, no store.
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 0]
    assert simulator.get("/admin/stats").json()["requests"] == served
    state.close()
    cache.close()


def test_the_state_redis_never_evicts_and_the_cache_redis_evicts_lru_under_a_cap(
    stack: Stack,
) -> None:
    # What `gateway dev` (and these tests) run; Compose and Kubernetes: tests/deploy.
    state = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    cache = redis.Redis.from_url(stack.cache_redis_url, decode_responses=True)
    assert state.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert cache.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert int(cache.config_get("maxmemory")["maxmemory"]) > 0
    state.close()
    cache.close()


def test_a_cache_redis_down_costs_only_the_cache(stack: Stack, cached: Caller) -> None:
    assert stack.cache_redis is not None
    body = CHAT | {"messages": [{"role": "user", "content": "cache down"}]}
    stack.cache_redis.stop()
    try:
        for _ in range(2):  # neither read nor stored, and answered all the same
            answer = cached.post("/chat/completions", body)
            assert answer.status_code == 200, answer.text
            assert _cache(answer) == "miss"
    finally:
        stack.cache_redis.start()
    # Back: the next store and the hit after it (policy reconnects by itself).
    wait_until(lambda: _cache(cached.post("/chat/completions", body)) == "hit", what="a hit again")


SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
# A request per API that the simulator answers with a call of its one tool.
TOOL_CALLS: dict[str, dict[str, Any]] = {
    "/chat/completions": CHAT
    | {
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": SCHEMA}}],
        "tool_choice": "required",
    },
    "/responses": BODIES["/responses"]
    | {
        "tools": [{"type": "function", "name": "lookup", "parameters": SCHEMA}],
        "tool_choice": "required",
    },
    "/messages": BODIES["/messages"]
    | {
        "tools": [{"name": "lookup", "input_schema": SCHEMA}],
        "tool_choice": {"type": "any"},
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("path", list(TOOL_CALLS))
def test_a_tool_call_is_stored_only_when_the_plan_allows_it(
    stack: Stack, cached: Caller, path: str, stream: bool
) -> None:
    body = TOOL_CALLS[path] | {"stream": stream}
    first = cached.post(path, body)
    assert first.status_code == 200, first.text
    call = {"/chat/completions": b"tool_calls", "/responses": b"function_call"}
    assert call.get(path, b"tool_use") in first.content  # the simulator called the tool
    assert _cache(cached.post(path, body)) == "miss"
    with cached_caller(stack, f"cache-tools-{path[1:4]}-{stream}", "--cache-tool-calls") as tools:
        assert _cache(tools.post(path, body)) == "miss"
        assert _cache(tools.post(path, body)) == "hit"
