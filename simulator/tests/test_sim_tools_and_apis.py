"""Tool calls, reasoning, and the native Responses and Messages APIs, as the official SDKs
see them (in-process: the SDKs talk to the app through Starlette's test client)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from fastapi.testclient import TestClient

from simulator import generation
from simulator.app import create_app
from simulator.settings import SimulatorSettings
from simulator.tools import Tool, planned_call, schema_value

KEY = "unused"  # pragma: allowlist secret
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
ARGUMENTS = {"city": "sim", "days": 1}
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}
ASK = [{"role": "user", "content": "Use get_weather for Paris."}]


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string"}, "sim"),
        ({"type": "integer"}, 1),
        ({"type": "number"}, 1.5),
        ({"type": "boolean"}, True),
        ({"type": ["null", "integer"]}, 1),
        ({"enum": ["c", "f"]}, "c"),
        ({"const": 7, "type": "integer"}, 7),
        ({"type": "string", "default": "x"}, "x"),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1),
        ({"type": "array", "items": {"type": "string"}}, ["sim"]),
        ({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}, {"a": {}}),
        ({"type": "object"}, {}),
        ("not a schema", None),
    ],
)  # fmt: skip
def test_arguments_follow_the_schema(schema: Any, value: Any) -> None:
    assert schema_value(schema) == value


def test_a_recursive_schema_ends() -> None:
    deep: dict[str, Any] = {"type": "object", "properties": {}}
    deep["properties"]["next"] = deep
    assert json.dumps(schema_value(deep))  # finite


TOOLS = [Tool("search", {}), Tool("get_weather", PARAMETERS)]


@pytest.mark.parametrize(
    ("choice", "text", "called"),
    [
        ("auto", "please get_weather now", "get_weather"),
        ("auto", "what is the weather?", None),  # no tool named as a word
        ("auto", None, None),  # the turn ends in a tool result
        ("required", "hello", "search"),
        ("required", "use get_weather", "get_weather"),
        ("get_weather", None, "get_weather"),
        ("none", "use get_weather", None),
    ],
)
def test_which_tool_is_called(choice: str, text: str | None, called: str | None) -> None:
    call = planned_call(TOOLS, choice, text)
    assert (call.name if call else None) == called
    if call is not None:
        assert "".join(call.fragments) == call.arguments
        assert call.named is (choice == "get_weather")


@pytest.fixture(scope="module")
def http() -> Iterator[TestClient]:
    with TestClient(create_app(SimulatorSettings()), base_url="http://sim") as client:
        yield client


@pytest.fixture
def oai(http: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://sim/v1", api_key=KEY, http_client=http, max_retries=0)


@pytest.fixture
def claude(http: TestClient) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url="http://sim", api_key=KEY, http_client=http, max_retries=0)


def _data(body: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(line.removeprefix("data: "))
        for line in body.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


@pytest.mark.parametrize(
    ("fields", "finish"),
    [
        ({}, "tool_calls"),  # auto: the user named the tool
        ({"tool_choice": "required"}, "tool_calls"),
        # vLLM finishes a call the request named with "stop".
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "stop"),
    ],
)
def test_a_chat_tool_call(oai: openai.OpenAI, openapi: Any, fields: Any, finish: str) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="sim-model", messages=ASK, tools=[CHAT_TOOL], **fields
    )
    assert openapi.errors(orjson.loads(raw.content), "CreateChatCompletionResponse") == []
    choice = raw.parse().choices[0]
    assert choice.finish_reason == finish
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == ARGUMENTS  # type: ignore[union-attr]
    assert calls[0].id.startswith("chatcmpl-tool-")


def test_no_call_when_none_or_after_the_tool_result(oai: openai.OpenAI) -> None:
    refused = oai.chat.completions.create(
        model="sim-model", messages=ASK, tools=[CHAT_TOOL], tool_choice="none"
    )
    assert refused.choices[0].message.tool_calls == []
    assert refused.choices[0].finish_reason == "stop"
    after: Any = [*ASK, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                  "function": {"name": "get_weather", "arguments": "{}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]  # fmt: skip
    answer = oai.chat.completions.create(model="sim-model", messages=after, tools=[CHAT_TOOL])
    assert answer.choices[0].message.content == generation.completion_text(16)


def test_only_what_the_user_typed_last_asks_for_a_tool(oai: openai.OpenAI) -> None:
    reminder = {"type": "text", "text": "<system-reminder>get_weather exists</system-reminder>"}
    typed = {"type": "text", "text": "say hi"}

    def called(parts: list[Any]) -> bool:
        answer = oai.chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": parts}], tools=[CHAT_TOOL]
        )
        return bool(answer.choices[0].message.tool_calls)

    assert not called([reminder, typed])
    assert called([typed, reminder])


def test_a_streamed_tool_call_is_in_vllms_delta_format(http: TestClient, openapi: Any) -> None:
    body = {"model": "sim-model", "messages": ASK, "tools": [CHAT_TOOL], "stream": True}
    chunks = _data(http.post("/v1/chat/completions", json=body).text)
    for chunk in chunks:
        assert openapi.errors(chunk, "CreateChatCompletionStreamResponse") == []
    deltas = [c["choices"][0]["delta"].get("tool_calls") for c in chunks[1:-1]]
    first, *rest = [d[0] for d in deltas if d]
    assert first.keys() == {"index", "id", "type", "function"}
    assert first["function"] == {"name": "get_weather"}
    assert all(d.keys() == {"index", "function"} for d in rest)
    assert json.loads("".join(d["function"]["arguments"] for d in rest)) == ARGUMENTS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    "fields", [{"reasoning_effort": "low"}, {"chat_template_kwargs": {"enable_thinking": True}}]
)
def test_reasoning_when_asked_whole_and_streamed(http: TestClient, fields: Any) -> None:
    body = {"model": "sim-model", "messages": ASK, "max_tokens": 10, **fields}
    whole = http.post("/v1/chat/completions", json=body).json()
    reasoning = "".join(generation.REASONING)
    assert whole["choices"][0]["message"]["reasoning"] == reasoning
    thinking = len(generation.REASONING)
    assert whole["choices"][0]["message"]["content"] == generation.completion_text(10 - thinking)
    assert whole["usage"]["completion_tokens"] == 10
    assert whole["usage"]["completion_tokens_details"] == {"reasoning_tokens": thinking}
    stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
    chunks = _data(http.post("/v1/chat/completions", json=stream).text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning", "") for d in deltas) == reasoning
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all("reasoning" not in d for d in deltas[first_content:])
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": thinking}


def test_no_reasoning_unless_asked(http: TestClient) -> None:
    whole = http.post("/v1/chat/completions", json={"model": "sim-model", "messages": ASK}).json()
    assert "reasoning" not in whole["choices"][0]["message"]
    assert "completion_tokens_details" not in whole["usage"]


RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": PARAMETERS}


def test_native_responses_whole(oai: openai.OpenAI, openapi: Any) -> None:
    raw = oai.responses.with_raw_response.create(
        model="sim-model", input="Hello", instructions="Be brief.", reasoning={"effort": "low"}
    )
    assert openapi.errors(orjson.loads(raw.content), "Response") == []
    response = raw.parse()
    assert response.id.startswith("resp_")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == generation.completion_text(16)
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert response.usage.output_tokens == 16 + len(generation.REASONING)
    assert response.usage.output_tokens_details.reasoning_tokens == len(generation.REASONING)
    called = oai.responses.create(model="sim-model", input=ASK[0]["content"],
                                  tools=[RESPONSES_TOOL])  # type: ignore[list-item]  # fmt: skip
    call = called.output[0]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("get_weather", ARGUMENTS)
    cut = oai.responses.create(model="sim-model", input="Hello", max_output_tokens=3)
    assert (cut.status, cut.incomplete_details.reason) == ("incomplete", "max_output_tokens")  # type: ignore[union-attr]


# Checked here by the simulator's own small checker; the whole-stack tests check every
# event against the whole schema (tests/test_responses_clients.py).
_EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
}


def test_native_responses_stream(http: TestClient, openapi: Any) -> None:
    body = {"model": "sim-model", "input": "Hello", "stream": True}
    answer = http.post("/v1/responses", json=body)
    events = _data(answer.text)
    assert "[DONE]" not in answer.text
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]  # fmt: skip
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]  # fmt: skip
    assert events[-1]["response"]["output"] == [events[-2]["item"]]
    for event in events:
        if member := _EVENT_SCHEMAS.get(event["type"]):
            assert openapi.errors(event, member) == []


def test_native_responses_refusals(http: TestClient) -> None:
    unknown = http.post("/v1/responses", json={"model": "nope", "input": "x"})
    assert unknown.status_code == 404
    no_input = http.post("/v1/responses", json={"model": "sim-model"})
    assert no_input.status_code == 400
    assert "input" in no_input.json()["error"]["message"]


MESSAGES_TOOL: Any = {"name": "get_weather", "input_schema": PARAMETERS}


def test_native_messages_tool_use_and_thinking(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="sim-model", max_tokens=100, messages=ASK, tools=[MESSAGES_TOOL],  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 1024},
    )  # fmt: skip
    assert message.id.startswith("msg_")
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["thinking", "tool_use"]
    assert message.content[1].input == ARGUMENTS  # type: ignore[union-attr]
    assert message.usage.output_tokens == len(generation.REASONING) + 1 + len(
        planned_call([Tool("get_weather", PARAMETERS)], "auto", "get_weather").fragments  # type: ignore[union-attr]
    )
    with claude.messages.stream(model="sim-model", max_tokens=100, messages=ASK,
                                tools=[MESSAGES_TOOL]) as stream:  # type: ignore[arg-type]  # fmt: skip
        kinds = [e.type for e in stream if e.type not in ("input_json", "text")]
        final = stream.get_final_message()
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].input == ARGUMENTS  # type: ignore[union-attr]
    text = claude.messages.create(model="sim-model", max_tokens=5, messages=ASK)
    assert (text.stop_reason, text.content[0].text) == ("max_tokens", generation.completion_text(5))  # type: ignore[union-attr]


def test_native_messages_refusals_are_anthropics(
    claude: anthropic.Anthropic, http: TestClient
) -> None:
    bad = http.post("/v1/messages", json={"model": "sim-model", "messages": ASK})
    assert bad.status_code == 400
    assert bad.json() == {"type": "error", "error": {"type": "invalid_request_error",
                          "message": bad.json()["error"]["message"]}}  # fmt: skip
    assert "max_tokens" in bad.json()["error"]["message"]
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="nope", max_tokens=5, messages=ASK)  # type: ignore[arg-type]


def test_counting_matches_what_is_billed(claude: anthropic.Anthropic, http: TestClient) -> None:
    billed = claude.messages.create(model="sim-model", max_tokens=5, messages=ASK,
                                    tools=[MESSAGES_TOOL])  # type: ignore[arg-type]  # fmt: skip
    counted = claude.messages.count_tokens(model="sim-model", messages=ASK, tools=[MESSAGES_TOOL])  # type: ignore[arg-type]
    assert counted.input_tokens == billed.usage.input_tokens
    chat = {"model": "sim-model", "messages": ASK, "tools": [CHAT_TOOL]}
    tokenized = http.post("/tokenize", json=chat).json()
    completion = http.post("/v1/chat/completions", json=chat | {"tool_choice": "none"}).json()
    assert tokenized["count"] == completion["usage"]["prompt_tokens"] == len(tokenized["tokens"])
    assert (
        http.post("/tokenize", json={"model": "sim-model", "prompt": "abcdefgh"}).json()["count"]
        == 2
    )
    assert http.post("/tokenize", json={"model": "sim-model"}).status_code == 400
