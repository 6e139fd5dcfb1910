"""The response cache's pure parts: the key, cache control, which answers are stored, the
entry's encoding and the stream rebuilt from a whole answer (tool calls included, which
the simulator never makes)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from gateway_shared.plans import CachePlan, Plan
from gateway_shared.sse import DONE, data_event
from gateway_shared.wire.identity import Api
from policy.cache import replay
from policy.cache.entry import Entry, Form, StreamRecorder, storable_answer
from policy.cache.request import Mode, digest, mode
from tests.support.openapi import schema_errors, stream_event_component

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}


def test_transport_fields_and_key_order_leave_the_key_alone() -> None:
    key = digest(Api.CHAT, CHAT, None)
    reordered = dict(reversed(list(CHAT.items())))
    transport = CHAT | {"stream": True, "stream_options": {"include_usage": True}, "user": "u"}
    assert digest(Api.CHAT, reordered, None) == key
    assert digest(Api.CHAT, transport, None) == key


def test_the_endpoint_the_beta_header_and_nested_fields_change_the_key() -> None:
    key = digest(Api.CHAT, CHAT, None)
    assert digest(Api.COMPLETIONS, CHAT, None) != key
    assert digest(Api.CHAT, CHAT, "a-beta") != key
    nested = CHAT | {"messages": [{"role": "user", "content": "hi", "name": "x"}]}
    assert digest(Api.CHAT, nested, None) != key


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Mode.USE),
        ("max-age=60", Mode.USE),
        ("no-cache", Mode.REFRESH),
        ("No-Cache", Mode.REFRESH),
        ("no-cache, no-store", Mode.BYPASS),
        ("private,no-store", Mode.BYPASS),
    ],
)
def test_cache_control(header: str | None, expected: Mode) -> None:
    assert mode(header) is expected


def test_a_plans_namespace_is_bounded() -> None:
    assert Plan(cache=CachePlan(ttl_s=60, namespace="team")).cache is not None
    with pytest.raises(ValueError, match="ttl_s"):
        CachePlan(ttl_s=0)


TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


@pytest.mark.parametrize(
    ("status", "answer", "allowed", "stored"),
    [
        (200, CHAT_ANSWER, True, True),
        (200, CHAT_ANSWER, False, False),  # calls a tool, the plan does not allow it
        (400, {"error": {"message": "bad"}}, True, False),
        (200, {"error": {"message": "in a 200"}}, True, False),
    ],
)
def test_which_whole_answers_are_stored(
    status: int, answer: dict[str, Any], allowed: bool, stored: bool
) -> None:
    content = orjson.dumps(answer)
    assert storable_answer(Api.CHAT, status, content, tool_calls=allowed) is stored


def test_a_response_that_failed_is_not_stored() -> None:
    failed = orjson.dumps({"object": "response", "status": "failed", "output": []})
    assert not storable_answer(Api.RESPONSES, 200, failed, tool_calls=True)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return data_event({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def _recorded(events: list[bytes], *, tool_calls: bool = False, max_bytes: int = 10_000) -> Any:
    recorder = StreamRecorder(Api.CHAT, tool_calls=tool_calls, max_bytes=max_bytes)
    for event in events:
        recorder.feed(event)
    return recorder.entry("text/event-stream", "m")


HELLO_STREAM = [_chunk({"role": "assistant", "content": "Hel"}), _chunk({"content": "lo"}, "stop")]


def _usage_chunk(**extra: object) -> bytes:
    return data_event(
        {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, **extra}}
    )


def test_a_complete_stream_is_stored_without_its_usage_chunk_whose_cost_is_a_hits() -> None:
    # As the miss's caller saw it: with the miss's cost.
    entry = _recorded([*HELLO_STREAM, _usage_chunk(cost=0.000038), DONE])
    assert entry is not None
    assert entry.body == b"".join([*HELLO_STREAM, DONE])
    assert entry.usage_event == _usage_chunk(cost=0.0)
    replayed = replay.stream(entry, Api.CHAT, include_usage=True)
    assert replayed.endswith(_usage_chunk(cost=0.0) + DONE)
    assert replay.stream(entry, Api.CHAT, include_usage=False) == entry.body


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(HELLO_STREAM, id="cut: no [DONE]"),
        pytest.param([*HELLO_STREAM, data_event({"error": {"message": "x"}}), DONE], id="error"),
        pytest.param([HELLO_STREAM[0], b"data: {not json\n\n", DONE], id="unreadable"),
        pytest.param([*HELLO_STREAM, DONE[:-1]], id="half an event"),
    ],
)
def test_a_stream_that_did_not_end_well_is_not_stored(events: list[bytes]) -> None:
    assert _recorded(events) is None


def test_a_streamed_tool_call_is_stored_only_when_allowed() -> None:
    events = [_chunk({"tool_calls": [{"index": 0, **TOOL_CALL}]}, "tool_calls"), DONE]
    assert _recorded(events) is None
    assert _recorded(events, tool_calls=True) is not None


def test_a_stream_over_the_size_cap_is_not_stored() -> None:
    assert _recorded([*HELLO_STREAM, DONE], max_bytes=50) is None


def test_an_entry_round_trips() -> None:
    entry = Entry(Form.SSE, "text/event-stream", b"data: {}\n\n", "m", b"data: {}\n\n")
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(b"not an entry") is None


def _events(stream: bytes) -> list[Any]:
    return [orjson.loads(line[6:]) for line in stream.split(b"\n") if line.startswith(b"data: {")]


def test_a_chat_tool_call_replays_as_chunks() -> None:
    entry = Entry(Form.JSON, "application/json", orjson.dumps(CHAT_ANSWER))
    chunks = _events(replay.stream(entry, Api.CHAT, include_usage=True))
    for chunk in chunks:
        assert schema_errors("CreateChatCompletionStreamResponse", chunk) == [], chunk
    assert chunks[0]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, **TOOL_CALL}]
    assert chunks[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"] == CHAT_ANSWER["usage"] | {"cost": 0}  # a hit costs nothing


def test_a_responses_function_call_replays_as_its_events() -> None:
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "f",
        "arguments": '{"a":1}',
        "status": "completed",
    }
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "m",
        "output": [call],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": None,
        "top_p": None,
    }
    entry = Entry(Form.JSON, "application/json", orjson.dumps(response))
    events = _events(replay.stream(entry, Api.RESPONSES, include_usage=False))
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"a":1}'
    assert events[-1]["response"] == response


def test_a_messages_tool_use_replays_as_its_blocks() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    entry = Entry(Form.JSON, "application/json", orjson.dumps(message))
    events = _events(replay.stream(entry, Api.MESSAGES, include_usage=False))
    for event in events:  # the anthropic SDK's own types are the reference
        TypeAdapter(RawMessageStreamEvent).validate_python(event)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_stop"] * 2,
        "message_delta",
        "message_stop",
    ]
    assert events[5]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":1}'}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"] == message["usage"] | {"cost": 0}
    assert "cost" not in events[0]["message"]["usage"]  # only the usage that counts has it
