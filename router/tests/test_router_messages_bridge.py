"""Anthropic's Messages API through every adapter: natively to Anthropic (the client's
betas passed on), translated to chat completions for OpenAI and vLLM - whole answers
and streams valid as the anthropic SDK's own types, tool use, counting tokens."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import orjson
import pydantic

from router.providers.bridge import MessagesBridge
from tests.support.routerkit import AnthropicUpstream, Upstream

BRIDGE = MessagesBridge()
EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
REQUEST: dict[str, Any] = {
    "model": "alias",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "Say hello"}],
}
BETAS = {"anthropic-beta": "context-management-2025-06-27"}
TOOL = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}


def native(upstream: Upstream) -> bool:
    return isinstance(upstream, AnthropicUpstream)


def answer(upstream: Upstream, text: str) -> None:
    head, tail = upstream.events([text], prompt=9)
    upstream.streams([*head, tail])


def events_of(data: bytes) -> list[dict[str, Any]]:
    out = []
    for event in data.split(b"\n\n"):
        line = next((ln for ln in event.split(b"\n") if ln.startswith(b"data: ")), None)
        if line is not None:
            out.append(orjson.loads(line[6:]))
    return out


async def test_a_whole_answer_is_a_valid_message(upstream: Upstream) -> None:
    answer(upstream, "Hello there")
    result = await BRIDGE.complete(upstream.provider(), REQUEST, failover=False, headers=BETAS)
    message = anthropic.types.Message.model_validate(orjson.loads(result.body))
    assert [b.text for b in message.content if b.type == "text"] == ["Hello there"]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    request = upstream.requests[0]
    sent = orjson.loads(request.content)
    if native(upstream):
        assert request.url.path == "/v1/messages"
        assert request.headers["anthropic-beta"] == BETAS["anthropic-beta"]
        assert sent["system"] == REQUEST["system"]  # untouched, cache_control and all
    else:
        assert request.url.path.endswith("/chat/completions")
        assert "anthropic-beta" not in request.headers


async def test_a_stream_is_anthropics_event_sequence(upstream: Upstream) -> None:
    answer(upstream, "Hi")
    stream = await BRIDGE.stream(upstream.provider(), REQUEST | {"stream": True}, failover=False)
    data = b"".join([chunk async for chunk in stream])
    await stream.aclose()
    events = [e for e in events_of(data) if e["type"] != "ping"]  # the SDK skips pings
    for event in events:
        EVENTS.validate_python(event)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert starts == stops == list(range(len(starts))) != []


async def test_a_turn_that_ends_in_tool_calls_stops_for_tool_use(upstream: Upstream) -> None:
    upstream.streams(upstream.tool_events("get_weather", ['{"city": ', '"Oslo"}']))
    body = REQUEST | {"tools": [TOOL]}
    result = await BRIDGE.complete(upstream.provider(), body, failover=False)
    message = anthropic.types.Message.model_validate(orjson.loads(result.body))
    assert message.stop_reason == "tool_use"
    (call,) = [b for b in message.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Oslo"})


async def test_counting_uses_the_providers_tokenizer_where_there_is_one(
    upstream: Upstream,
) -> None:
    def counted(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/count_tokens"):
            return httpx.Response(200, json={"input_tokens": 42})
        if request.url.path.endswith("/tokenize"):
            return httpx.Response(200, json={"count": 41, "max_model_len": 4096, "tokens": []})
        return httpx.Response(404, json={})

    upstream.handler = counted
    expected = {"anthropic": 42, "vllm": 41, "openai": None}[upstream.kind]
    assert await upstream.provider().count_tokens(REQUEST) == expected
