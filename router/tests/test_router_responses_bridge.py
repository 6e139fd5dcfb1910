"""The Responses API through every adapter: natively to OpenAI's own /v1/responses, and
translated to chat completions for vLLM and, through chat, Anthropic - whole answers and
streams valid against OpenAI's schemas, tools, structured output, reasoning items."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.providers.bridge import ResponsesBridge
from router.providers.errors import ProviderRejected
from tests.support.openapi import schema_errors, stream_event_component
from tests.support.routerkit import OpenAIUpstream, Upstream

BRIDGE = ResponsesBridge()
TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}
REQUEST: dict[str, Any] = {"model": "alias", "input": "Say hello", "max_output_tokens": 32}


def native(upstream: Upstream) -> bool:
    return isinstance(upstream, OpenAIUpstream) and upstream.kind == "openai"


def answer_text(upstream: Upstream, text: str) -> None:
    if native(upstream):
        assert isinstance(upstream, OpenAIUpstream)
        upstream.streams(upstream.responses_events(text, prompt=9, cached=4))
    else:
        head, tail = upstream.events([text], prompt=9)
        upstream.streams([*head, tail])


def sent(upstream: Upstream) -> dict[str, Any]:
    (request,) = upstream.requests
    body: dict[str, Any] = orjson.loads(request.content)
    return body


def events_of(data: bytes) -> list[dict[str, Any]]:
    out = []
    for event in data.split(b"\n\n"):
        line = next((ln for ln in event.split(b"\n") if ln.startswith(b"data: ")), None)
        if line is not None:
            out.append(orjson.loads(line[6:]))
    return out


async def test_a_whole_answer_is_a_valid_response(upstream: Upstream) -> None:
    answer_text(upstream, "Hello there")
    result = await BRIDGE.complete(upstream.provider(), REQUEST, failover=False)
    response = orjson.loads(result.body)
    assert schema_errors("Response", response) == []
    assert response["output"][-1]["content"][0]["text"] == "Hello there"
    assert response["status"] == "completed"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 9
    path = upstream.requests[0].url.path
    assert path.endswith("/responses" if native(upstream) else ("/chat/completions", "/messages"))
    if native(upstream):
        assert result.usage.cached_tokens == 4
        assert sent(upstream)["max_output_tokens"] == 32


async def test_a_stream_is_the_responses_event_sequence(upstream: Upstream) -> None:
    answer_text(upstream, "Hi")
    stream = await BRIDGE.stream(upstream.provider(), REQUEST | {"stream": True}, failover=False)
    data = b"".join([chunk async for chunk in stream])
    await stream.aclose()
    events = events_of(data)
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event["type"]
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.index("response.output_item.added") < kinds.index("response.output_text.delta")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert events[-1]["response"]["output"] == done != []


async def test_a_tool_round_trip(upstream: Upstream) -> None:
    if native(upstream):
        # The request reaches OpenAI's own Responses API as the client sent it.
        answer_text(upstream, "ok")
        await BRIDGE.complete(upstream.provider(), REQUEST | {"tools": [TOOL]}, failover=False)
        assert sent(upstream)["tools"] == [TOOL]
        return
    upstream.streams(upstream.tool_events("get_weather", ['{"city": ', '"Oslo"}']))
    first = await BRIDGE.complete(upstream.provider(), REQUEST | {"tools": [TOOL]}, failover=False)
    (call,) = [i for i in orjson.loads(first.body)["output"] if i["type"] == "function_call"]
    assert (call["name"], call["arguments"]) == ("get_weather", '{"city": "Oslo"}')
    # The client sends the call and its output back; the next request carries both.
    upstream.requests.clear()
    answer_text(upstream, "Sunny")
    follow_up = REQUEST | {
        "tools": [TOOL],
        "input": [
            {"role": "user", "content": "weather in Oslo?"},
            call,
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        ],
    }
    second = await BRIDGE.complete(upstream.provider(), follow_up, failover=False)
    assert orjson.loads(second.body)["output"][-1]["content"][0]["text"] == "Sunny"
    assert b"sunny" in upstream.requests[0].content
    assert call["call_id"].encode() in upstream.requests[0].content


async def test_structured_output_is_mapped_or_refused_naming_the_field(upstream: Upstream) -> None:
    answer_text(upstream, '{"ok": true}')
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    text = {"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}}
    if upstream.kind == "anthropic":
        with pytest.raises(ProviderRejected) as caught:
            await BRIDGE.complete(upstream.provider(), REQUEST | {"text": text}, failover=False)
        assert (caught.value.status, caught.value.param) == (400, "text.format")
        return
    await BRIDGE.complete(upstream.provider(), REQUEST | {"text": text}, failover=False)
    if native(upstream):
        assert sent(upstream)["text"] == text
    else:
        assert sent(upstream)["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        }


@pytest.mark.parametrize("failover", [False, True])
async def test_reasoning_items_stay_where_they_were_made(
    upstream: Upstream, failover: bool
) -> None:
    answer_text(upstream, "ok")
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC"}
    body = REQUEST | {"input": [reasoning, {"role": "user", "content": "go on"}]}
    await BRIDGE.complete(upstream.provider(), body, failover=failover)
    passed = b"ENC" in upstream.requests[0].content
    assert passed == (native(upstream) and not failover)
