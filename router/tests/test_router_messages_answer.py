"""Chat completion answers to the Messages API (``router.providers.messages_answer``):
whole answers and streams. Every answer and stream event is checked against the
``anthropic`` SDK's own types; a stream is also checked for Anthropic's event order and
compared with the whole answer assembled from the same chunks."""

from __future__ import annotations

import json
import os
from types import ModuleType
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter

from gateway_shared.sse import DONE
from router.providers.assembly import Assembler
from router.providers.base import Operation, Usage
from router.providers.errors import ProviderUnavailable
from router.providers.messages_answer import MessagesEvents, message_object, messages_usage
from tests.support.messages_bodies import base, translate

MESSAGE_ID = "msg_gw1"


def sdk() -> ModuleType:
    """``anthropic.types``: a failure under CI when missing, a skip elsewhere."""
    if os.environ.get("CI"):
        import anthropic.types  # noqa: PLC0415 - only the answer tests need it

        return anthropic.types
    return pytest.importorskip("anthropic.types")


# --- whole answers ---------------------------------------------------------------------


def chat_answer(
    message: dict[str, Any], finish: str | None = "stop", **choice: Any
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
                **choice,
            }
        ],
    }


def call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    return out if call_id is None else {"id": call_id, **out}


def whole(
    chat: dict[str, Any], request: dict[str, Any] | None = None, usage: Usage | None = None
) -> dict[str, Any]:
    body = message_object(
        chat, request or base(), message_id=MESSAGE_ID, usage=usage or Usage(10, 5)
    )
    sdk().Message.model_validate(body)
    return body


THINKING = {"thinking": {"type": "adaptive"}}


@pytest.mark.parametrize(
    ("chat", "request_fields", "content", "stop"),
    [
        pytest.param(
            chat_answer({"content": "Hello!"}),
            {},
            [{"type": "text", "text": "Hello!"}],
            ("end_turn", None),
            id="text",
        ),
        pytest.param(
            chat_answer(
                {"content": None, "tool_calls": [call("call_1", "f", '{"a": 1}')]}, "tool_calls"
            ),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}],
            ("tool_use", None),
            id="a tool call",
        ),
        pytest.param(
            chat_answer(
                {
                    "content": "Let me check both.",
                    "tool_calls": [
                        call("call_1", "weather", '{"city":"Paris"}'),
                        call("call_2", "time", ""),
                    ],
                },
                "tool_calls",
            ),
            {},
            [
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
            ],
            ("tool_use", None),
            id="text then parallel tool calls",
        ),
        pytest.param(
            chat_answer({"content": None, "tool_calls": [call("call_1", "f", "{}")]}, "stop"),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}],
            ("tool_use", None),
            id="tool calls with finish_reason stop are still tool_use",
        ),
        pytest.param(
            chat_answer({"content": "The answer is"}, "length"),
            {},
            [{"type": "text", "text": "The answer is"}],
            ("max_tokens", None),
            id="length",
        ),
        pytest.param(
            chat_answer({"content": None, "tool_calls": [call("call_1", "f", '{"a": ')]}, "length"),
            {},
            [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"_raw": '{"a": '}}],
            ("max_tokens", None),
            id="cut inside a tool call is max_tokens, the broken arguments kept raw",
        ),
        pytest.param(
            chat_answer({"content": "No."}, "content_filter"),
            {},
            [{"type": "text", "text": "No."}],
            ("refusal", None),
            id="content filter",
        ),
        pytest.param(
            chat_answer({"content": None, "refusal": "I can't help with that."}),
            {},
            [{"type": "text", "text": "I can't help with that."}],
            ("end_turn", None),
            id="an OpenAI refusal is text",
        ),
        pytest.param(
            chat_answer({"content": "a, b"}, "stop", stop_reason="END"),
            {"stop_sequences": ["END", "STOP"]},
            [{"type": "text", "text": "a, b"}],
            ("stop_sequence", "END"),
            id="vLLM names the stop sequence that matched",
        ),
        pytest.param(
            chat_answer({"content": "a"}, "stop", stop_reason=151645),
            {"stop_sequences": ["END"]},
            [{"type": "text", "text": "a"}],
            ("end_turn", None),
            id="a stop token id is no stop sequence",
        ),
        pytest.param(
            chat_answer({"content": "a"}, "abort"),
            {},
            [{"type": "text", "text": "a"}],
            ("end_turn", None),
            id="an unknown finish reason is never max_tokens",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning": "2 + 2 = 4"}),
            THINKING,
            [
                {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
                {"type": "text", "text": "4"},
            ],
            ("end_turn", None),
            id="reasoning becomes a thinking block first",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning_content": "2 + 2 = 4"}),
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            [
                {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
                {"type": "text", "text": "4"},
            ],
            ("end_turn", None),
            id="reasoning_content too",
        ),
        pytest.param(
            chat_answer({"content": "4", "reasoning": "2 + 2 = 4"}),
            {},
            [{"type": "text", "text": "4"}],
            ("end_turn", None),
            id="no thinking block for a client that did not ask for thinking",
        ),
        pytest.param(
            chat_answer({"content": ""}),
            {},
            [],
            ("end_turn", None),
            id="empty",
        ),
        pytest.param(
            chat_answer(
                {
                    "content": None,
                    "tool_calls": [
                        call(None, "f", "not json"),
                        call("call.with:odd/chars", "g", "[1, 2]"),
                    ],
                },
                "tool_calls",
            ),
            {},
            [
                {
                    "type": "tool_use",
                    "id": "toolu_gw1_0",
                    "name": "f",
                    "input": {"_raw": "not json"},
                },
                {
                    "type": "tool_use",
                    "id": "call_with_odd_chars",
                    "name": "g",
                    "input": {"_raw": "[1, 2]"},
                },
            ],
            ("tool_use", None),
            id="ids made or cleaned, arguments that are no JSON object kept raw",
        ),
    ],
)
def test_whole_answer(
    chat: dict[str, Any],
    request_fields: dict[str, Any],
    content: list[dict[str, Any]],
    stop: tuple[str, str | None],
) -> None:
    body = whole(chat, base(**request_fields))
    assert body["content"] == content
    assert (body["stop_reason"], body["stop_sequence"]) == stop
    assert body["id"] == MESSAGE_ID
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "alias"  # the name the client asked for


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            Usage(10, 5),
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        ),
        (
            Usage(1000, 50, cached_tokens=768),
            {
                "input_tokens": 232,
                "output_tokens": 50,
                "cache_read_input_tokens": 768,
                "cache_creation_input_tokens": 0,
            },
        ),
        (
            Usage(100, 50, reasoning_tokens=30),
            {
                "input_tokens": 100,
                "output_tokens": 50,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "output_tokens_details": {"thinking_tokens": 30},
            },
        ),
        (
            Usage(10, 5, cached_tokens=99),  # a backend counting more cached than prompt
            {
                "input_tokens": 0,
                "output_tokens": 5,
                "cache_read_input_tokens": 10,
                "cache_creation_input_tokens": 0,
            },
        ),
    ],
)
def test_usage(usage: Usage, expected: dict[str, Any]) -> None:
    assert messages_usage(usage) == expected
    assert whole(chat_answer({"content": "x"}), usage=usage)["usage"] == expected


def test_an_answer_sent_back_as_history_keeps_its_tool_ids() -> None:
    chat = chat_answer(
        {
            "content": "Checking.",
            "tool_calls": [call("call_9", "f", '{"q":"x"}'), call(None, "g", "")],
        },
        "tool_calls",
    )
    answer = whole(chat)
    history = base(
        messages=[
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": answer["content"]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}
                    for b in answer["content"]
                    if b["type"] == "tool_use"
                ],
            },
        ]
    )
    messages = translate(history)["messages"]
    ids = [c["id"] for c in messages[1]["tool_calls"]]
    assert ids == ["call_9", "toolu_gw1_1"]
    assert [m["tool_call_id"] for m in messages[2:]] == ids
    assert json.loads(messages[1]["tool_calls"][0]["function"]["arguments"]) == {"q": "x"}


# --- streams ---------------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **choice: Any) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish, **choice}
        ],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def usage_chunk(prompt: int, completion: int) -> bytes:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def tool_delta(
    index: int | None, call_id: str | None = None, name: str | None = None, args: str = ""
) -> dict[str, Any]:
    part: dict[str, Any] = {"function": {"arguments": args}}
    if index is not None:
        part["index"] = index
    if call_id is not None:
        part.update(id=call_id, type="function")
    if name is not None:
        part["function"]["name"] = name
    return {"tool_calls": [part]}


ROLE = chunk({"role": "assistant", "content": ""})


def parse(raw: bytes) -> tuple[str, dict[str, Any]]:
    """One Anthropic SSE event: its name and data, the name equal to the data's type."""
    assert raw.endswith(b"\n\n")
    head, data, *rest = raw[:-2].split(b"\n")
    assert not rest
    assert head.startswith(b"event: ")
    assert data.startswith(b"data: ")
    name, payload = head[7:].decode(), json.loads(data[6:])
    assert payload["type"] == name
    return name, payload


def check_stream(raw: list[bytes]) -> dict[str, Any]:
    """Every event valid as the SDK's types and in Anthropic's order; the message the
    events build (as a client accumulates them), checked by the SDK too."""
    types = sdk()
    adapter = TypeAdapter(types.RawMessageStreamEvent)
    events = [parse(e) for e in raw]
    names = [n for n, _ in events if n != "ping"]
    assert names[0] == "message_start"
    assert events[1][0] == "ping"
    message: dict[str, Any] = {}
    open_index: int | None = None
    json_parts: dict[int, list[str]] = {}
    closed: list[int] = []
    for position, (name, payload) in enumerate(events):
        if name == "ping":
            continue
        if name == "error":
            types.ErrorResponse.model_validate(payload)
            assert position == len(events) - 1, "an error event ends the stream"
            message["error"] = payload["error"]
            continue
        adapter.validate_python(payload)
        if name == "message_start":
            assert position == 0
            message = payload["message"]
            assert message["content"] == []
            assert message["stop_reason"] is None
            assert message["stop_sequence"] is None
        elif name == "content_block_start":
            assert open_index is None, "blocks are strictly sequential"
            assert payload["index"] == len(message["content"])
            open_index = payload["index"]
            message["content"].append(dict(payload["content_block"]))
        elif name == "content_block_delta":
            assert payload["index"] == open_index, "a delta belongs to the open block"
            block, delta = message["content"][open_index], payload["delta"]
            kind = {
                "text_delta": "text",
                "input_json_delta": "tool_use",
                "thinking_delta": "thinking",
            }
            assert block["type"] == kind[delta["type"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            else:
                json_parts.setdefault(open_index, []).append(delta["partial_json"])
        elif name == "content_block_stop":
            assert payload["index"] == open_index
            closed.append(payload["index"])
            open_index = None
        elif name == "message_delta":
            assert open_index is None, "every block is closed before message_delta"
            assert names[-2:] == ["message_delta", "message_stop"]
            message.update(payload["delta"])
            message["usage"] = {**message["usage"], **payload["usage"]}
        elif name == "message_stop":
            assert position == len(events) - 1
    if "error" not in message:
        assert closed == list(range(len(message["content"]))), "each block closed once"
        for index, parts in json_parts.items():
            message["content"][index]["input"] = json.loads("".join(parts))
        types.Message.model_validate(message)
    return message


def run(
    chunks: list[bytes], request: dict[str, Any] | None = None, usage: Usage | None = None
) -> list[bytes]:
    events = MessagesEvents(request or base(stream=True), MESSAGE_ID, prompt_tokens=42)
    out = events.start()
    for c in chunks:
        out += events.feed(c)
    return out + events.finish(usage or Usage(40, 7))


def assembled(chunks: list[bytes], request: dict[str, Any], usage: Usage) -> dict[str, Any]:
    """The whole answer for the same chunks, as the router assembles it."""
    assembler = Assembler(Operation.CHAT)
    for c in chunks:
        assembler.feed(c)
    return whole(assembler.answer(usage), request, usage)


STREAMS: dict[str, tuple[list[bytes], dict[str, Any], list[dict[str, Any]], str]] = {
    "text": (
        [
            ROLE,
            chunk({"content": "Hel"}),
            chunk({"content": "lo!"}),
            chunk(finish="stop"),
            usage_chunk(40, 7),
            DONE,
        ],
        {},
        [{"type": "text", "text": "Hello!"}],
        "end_turn",
    ),
    "text then two tool calls": (
        [
            ROLE,
            chunk({"content": "Let me check."}),
            chunk(tool_delta(0, "call_a", "weather")),
            chunk(tool_delta(0, args='{"city": ')),
            chunk(tool_delta(0, args='"Paris"}')),
            chunk(tool_delta(1, "call_b", "time", '{"tz": "CET"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        {},
        [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "time", "input": {"tz": "CET"}},
        ],
        "tool_use",
    ),
    "tool calls ending in finish_reason stop": (
        [ROLE, chunk(tool_delta(0, "call_a", "f", "{}")), chunk(finish="stop")],
        {},
        [{"type": "tool_use", "id": "call_a", "name": "f", "input": {}}],
        "tool_use",
    ),
    "a tool call with no arguments and no id": (
        [ROLE, chunk(tool_delta(0, None, "f")), chunk(finish="tool_calls")],
        {},
        [{"type": "tool_use", "id": "toolu_gw1_0", "name": "f", "input": {}}],
        "tool_use",
    ),
    "reasoning then text": (
        [
            ROLE,
            chunk({"reasoning": "2 + 2"}),
            chunk({"reasoning": " = 4"}),
            chunk({"content": "4"}),
            chunk(finish="stop"),
        ],
        THINKING,
        [
            {"type": "thinking", "thinking": "2 + 2 = 4", "signature": ""},
            {"type": "text", "text": "4"},
        ],
        "end_turn",
    ),
    "reasoning_content, not asked for": (
        [ROLE, chunk({"reasoning_content": "hmm"}), chunk({"content": "4"}), chunk(finish="stop")],
        {},
        [{"type": "text", "text": "4"}],
        "end_turn",
    ),
    "reasoning, text, tool call": (
        [
            ROLE,
            chunk({"reasoning_content": "need weather"}),
            chunk({"content": "Checking."}),
            chunk(tool_delta(0, "call_a", "weather", '{"city":"Oslo"}')),
            chunk(finish="tool_calls"),
        ],
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        [
            {"type": "thinking", "thinking": "need weather", "signature": ""},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Oslo"}},
        ],
        "tool_use",
    ),
    "length": (
        [ROLE, chunk({"content": "The answer is"}), chunk(finish="length")],
        {},
        [{"type": "text", "text": "The answer is"}],
        "max_tokens",
    ),
    "content filter": (
        [ROLE, chunk({"content": "I"}), chunk(finish="content_filter")],
        {},
        [{"type": "text", "text": "I"}],
        "refusal",
    ),
    "no finish reason at all": (
        [ROLE, chunk({"content": "hi"})],
        {},
        [{"type": "text", "text": "hi"}],
        "end_turn",
    ),
    "nothing": ([ROLE, chunk(finish="stop")], {}, [], "end_turn"),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream(name: str) -> None:
    chunks, fields, content, stop_reason = STREAMS[name]
    request, usage = base(stream=True, **fields), Usage(40, 7, cached_tokens=30)
    message = check_stream(run(chunks, request, usage))
    assert message["content"] == content
    assert message["stop_reason"] == stop_reason
    assert message["stop_sequence"] is None
    assert message["id"] == MESSAGE_ID
    assert message["model"] == "alias"
    assert message["usage"] == messages_usage(usage)
    assert message["usage"]["input_tokens"] == 10  # prompt less cached
    # The same chunks, assembled into a whole answer, translate to the same message.
    answer = assembled(chunks, request, usage)
    assert (answer["content"], answer["stop_reason"]) == (content, stop_reason)


def test_message_start_carries_the_prompt_estimate_and_one_ping_follows() -> None:
    start, ping = MessagesEvents(base(), MESSAGE_ID, prompt_tokens=1234).start()
    assert parse(start)[1]["message"]["usage"] == {
        "input_tokens": 1234,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 1,
    }
    assert parse(ping) == ("ping", {"type": "ping"})


def test_stream_stop_sequence_from_vllms_stop_reason() -> None:
    chunks = [ROLE, chunk({"content": "a, b"}), chunk(finish="stop", stop_reason="END")]
    message = check_stream(run(chunks, base(stream=True, stop_sequences=["END"])))
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "END")


def test_parallel_calls_sharing_index_0_with_their_own_ids_are_two_blocks() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, "call_a", "f", '{"n": 1}')),
        chunk(tool_delta(0, "call_b", "f", '{"n": 2}')),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [(b["id"], b["input"]) for b in message["content"]] == [
        ("call_a", {"n": 1}),
        ("call_b", {"n": 2}),
    ]


def test_text_after_a_tool_call_opens_a_new_block() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, "call_a", "f", "{}")),
        chunk({"content": "done"}),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [b["type"] for b in message["content"]] == ["tool_use", "text"]
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    "resumed",
    [tool_delta(0, args="1}"), tool_delta(0, "call_a", args="1}")],
    ids=["by index", "by id"],
)
def test_a_tool_call_resumed_after_another_began_fails_the_stream(
    resumed: dict[str, Any],
) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    events.feed(chunk(tool_delta(0, "call_a", "f", '{"a":')))
    events.feed(chunk(tool_delta(1, "call_b", "g", "{}")))
    with pytest.raises(ProviderUnavailable):
        events.feed(chunk(resumed))


def test_an_id_first_seen_after_the_calls_first_delta_continues_it() -> None:
    chunks = [
        ROLE,
        chunk(tool_delta(0, None, "f", '{"a": ')),
        chunk(tool_delta(0, "call_late", args="1}")),
        chunk(finish="tool_calls"),
    ]
    message = check_stream(run(chunks))
    assert [(b["id"], b["input"]) for b in message["content"]] == [("toolu_gw1_0", {"a": 1})]


def test_a_cut_stream_ends_with_an_error_event() -> None:
    events = MessagesEvents(base(stream=True), MESSAGE_ID, 42)
    out = events.start() + events.feed(ROLE) + events.feed(chunk({"content": "Hal"}))
    out += events.fail(
        "api_error", "The model provider's stream was interrupted before it finished."
    )
    message = check_stream(out)
    assert message["error"] == {
        "type": "api_error",
        "message": "The model provider's stream was interrupted before it finished.",
    }
    assert [parse(e)[0] for e in out][-3:] == [
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    # Over: nothing more, whatever the caller does.
    assert events.feed(chunk({"content": "more"})) == []
    assert events.finish(Usage(1, 1)) == []
    assert events.fail("api_error", "again") == []


def test_after_finish_nothing_more() -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    assert events.finish(Usage(1, 1))
    assert events.finish(Usage(1, 1)) == []
    assert events.feed(chunk({"content": "late"})) == []
    assert events.fail("api_error", "late") == []


@pytest.mark.parametrize(
    "event",
    [
        b"data: [DONE]\n\n",
        b": gateway-usage {}\n\n",
        usage_chunk(1, 1),
        b'data: {"choices": [{"index": 1, "delta": {"content": "second choice"}}]}\n\n',
        b"data: [1, 2]\n\n",
    ],
)
def test_events_that_produce_nothing(event: bytes) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    assert events.feed(event) == []


@pytest.mark.parametrize(
    "event",
    [b"data: {not json\n\n", b'data: {"error": {"message": "boom", "code": 500}}\n\n'],
)
def test_unreadable_and_error_events_raise(event: bytes) -> None:
    events = MessagesEvents(base(), MESSAGE_ID, 1)
    events.start()
    with pytest.raises(ProviderUnavailable):
        events.feed(event)


def sse_event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


START = MessagesEvents(base(), MESSAGE_ID, 1).start()
TEXT = sse_event(
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
)
DELTA = sse_event(
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
)
STOP = sse_event({"type": "content_block_stop", "index": 0})
END = MessagesEvents(base(), MESSAGE_ID, 1).finish(Usage(1, 1))


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([*START, DELTA, STOP, *END], id="a delta before its block"),
        pytest.param([*START, TEXT, DELTA, *END], id="a block never closed"),
        pytest.param([*START, TEXT, TEXT, STOP, *END], id="two blocks open"),
        pytest.param(
            [*START, TEXT.replace(b'"index": 0', b'"index": 1'), *END], id="an index skipped"
        ),
        pytest.param([*START, TEXT, DELTA, STOP, END[1], END[0]], id="message_stop first"),
        pytest.param([TEXT, *START, STOP, *END], id="no message_start first"),
        pytest.param(
            [*START, DELTA.replace(b"text_delta", b"input_json_delta"), *END], id="a wrong delta"
        ),
    ],
)
def test_the_stream_check_catches_a_broken_stream(events: list[bytes]) -> None:
    with pytest.raises((AssertionError, ValueError)):
        check_stream(events)
