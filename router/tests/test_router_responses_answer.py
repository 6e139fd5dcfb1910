"""Chat completion answers to the Responses API (``providers/responses_answer.py``).

Whole answers, each a valid OpenAI ``Response``; streams, each event valid as its
``ResponseStreamEvent`` member, in order (items opened before their deltas, closed once,
sequential; sequence numbers 0, 1, 2...; the last event's output equal to the items
done), and read by the openai SDK's own stream reader."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pytest

from router.providers.base import Usage
from router.providers.errors import ProviderUnavailable
from router.providers.responses_answer import (
    ResponsesEvents,
    response_object,
    responses_usage,
)
from tests.support.openapi import schema_errors, stream_event_component
from tests.support.responses_bodies import (
    AGENTS_RUN_REQ1,
    AGENTS_SETTINGS_REQ3,
    AGENTS_STREAM_REQ1,
    CODEX_TURN1,
    FN,
    GET_WEATHER,
    NS,
    WEB_SEARCH,
)

RID = "resp_7f3a"
CREATED = 1_796_142_049
USAGE = Usage(10, 4)


# --- whole answers ---------------------------------------------------------------------


def chat_answer(message: dict[str, Any], finish: str = "stop", **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
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
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


def message_item(*parts: dict[str, Any], n: int = 0, status: str = "completed") -> dict[str, Any]:
    return {
        "id": f"msg_7f3a_{n}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": list(parts),
    }


def output_text(value: str, logprobs: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": [], "logprobs": logprobs or []}


def call_item(n: int, call_id: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"fc_7f3a_{n}",
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
        **extra,
    }


def reasoning_item(value: str, n: int = 0) -> dict[str, Any]:
    return {
        "id": f"rs_7f3a_{n}",
        "type": "reasoning",
        "status": "completed",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": value}],
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


REQUEST = {"model": "chat", "input": "hi", "tools": [FN, NS, WEB_SEARCH]}
CHAT_LOGPROBS = {
    "content": [
        {
            "token": "Hi",
            "logprob": -0.1,
            "bytes": [72, 105],
            "top_logprobs": [
                {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                {"token": "Yo", "logprob": -2.5, "bytes": None},
            ],
        },
        {"token": "!", "logprob": -0.3, "bytes": None, "top_logprobs": []},
    ]
}
RESPONSES_LOGPROBS = [
    {
        "token": "Hi",
        "logprob": -0.1,
        "bytes": [72, 105],
        "top_logprobs": [
            {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
            {"token": "Yo", "logprob": -2.5, "bytes": [89, 111]},
        ],
    },
    {"token": "!", "logprob": -0.3, "bytes": [33], "top_logprobs": []},
]

WHOLE: dict[str, tuple[dict[str, Any], list[dict[str, Any]], str, str | None]] = {
    "text": (
        chat_answer({"content": "Hello!"}),
        [message_item(output_text("Hello!"))],
        "completed",
        None,
    ),
    "text with logprobs": (
        chat_answer({"content": "Hi!"}, logprobs=CHAT_LOGPROBS),
        [message_item(output_text("Hi!", RESPONSES_LOGPROBS))],
        "completed",
        None,
    ),
    "a tool call, after whitespace": (
        chat_answer(
            {"content": "\n\n", "tool_calls": [tool_call("call_1", "f", '{"a": 1}')]}, "tool_calls"
        ),
        [call_item(0, "call_1", "f", '{"a": 1}')],
        "completed",
        None,
    ),
    "text and parallel tool calls, one namespaced": (
        chat_answer(
            {
                "content": "Let me check.",
                "tool_calls": [
                    tool_call("call_1", "f", "{}"),
                    tool_call("call_2", "ns__g", '{"x": 2}'),
                ],
            },
            "tool_calls",
        ),
        [
            message_item(output_text("Let me check.")),
            call_item(1, "call_1", "f", "{}"),
            call_item(2, "call_2", "g", '{"x": 2}', namespace="ns"),
        ],
        "completed",
        None,
    ),
    "reasoning then text": (
        chat_answer({"content": "42", "reasoning": "Think."}),
        [reasoning_item("Think."), message_item(output_text("42"), n=1)],
        "completed",
        None,
    ),
    "reasoning_content, as older vLLM names it": (
        chat_answer({"content": "42", "reasoning_content": "Think."}),
        [reasoning_item("Think."), message_item(output_text("42"), n=1)],
        "completed",
        None,
    ),
    "refusal": (
        chat_answer({"content": None, "refusal": "I can't help with that."}),
        [message_item({"type": "refusal", "refusal": "I can't help with that."})],
        "completed",
        None,
    ),
    "length: incomplete, max_output_tokens": (
        chat_answer({"content": "Once upon"}, "length"),
        [message_item(output_text("Once upon"), status="incomplete")],
        "incomplete",
        "max_output_tokens",
    ),
    "content_filter: incomplete": (
        chat_answer({"content": ""}, "content_filter"),
        [],
        "incomplete",
        "content_filter",
    ),
    "a call without an id gets one": (
        chat_answer({"content": None, "tool_calls": [tool_call(None, "f", "{}")]}, "tool_calls"),  # type: ignore[arg-type]
        [call_item(0, "call_7f3a_0", "f", "{}")],
        "completed",
        None,
    ),
}


@pytest.mark.parametrize(("chat", "output", "status", "reason"), WHOLE.values(), ids=WHOLE.keys())
def test_whole_answers(
    chat: dict[str, Any], output: list[dict[str, Any]], status: str, reason: str | None
) -> None:
    response = response_object(chat, REQUEST, response_id=RID, usage=USAGE)
    assert schema_errors("Response", response) == []
    assert response["output"] == output
    assert response["status"] == status
    assert response["incomplete_details"] == ({"reason": reason} if reason else None)
    assert response["created_at"] == CREATED
    assert response["error"] is None


def test_the_response_echoes_the_request() -> None:
    request = {
        **AGENTS_SETTINGS_REQ3,
        "user": "u-1",
        "top_logprobs": 2,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "tool_choice": {"type": "function", "name": "get_weather"},
    }
    response = response_object(
        chat_answer({"content": "{}"}), request, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert {k: v for k, v in response.items() if k not in ("output", "usage")} == {
        "id": RID,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": "You are a probe agent.",
        "max_output_tokens": 256,
        "model": "sim-chat",
        "parallel_tool_calls": False,
        "previous_response_id": None,
        "reasoning": {"effort": "low", "summary": None},
        "store": False,
        "temperature": 0.2,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "tool_choice": {"type": "function", "name": "get_weather"},
        "tools": [GET_WEATHER],
        "top_p": 0.9,
        "truncation": "disabled",
        "metadata": {"k": "v"},
        "top_logprobs": 2,
        "user": "u-1",
    }


def test_defaults_when_the_request_says_nothing() -> None:
    response = response_object(
        chat_answer({"content": "hi"}), {"input": "x"}, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert response["model"] == ""
    assert (response["tools"], response["tool_choice"], response["metadata"]) == ([], "auto", {})
    assert response["parallel_tool_calls"] is True
    assert (response["temperature"], response["top_p"], response["instructions"]) == (
        None,
        None,
        None,
    )
    assert response["text"] == {"format": {"type": "text"}}
    assert "user" not in response


def test_codex_request_echo_validates() -> None:
    # Namespace and web_search tools, tool_choice auto, reasoning summary.
    response = response_object(
        chat_answer({"content": "hi"}), CODEX_TURN1, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert response["tools"][-1] == WEB_SEARCH
    assert response["reasoning"] == {"effort": None, "summary": "auto"}


def test_usage_with_cached_and_reasoning_tokens() -> None:
    usage = Usage(100, 40, cached_tokens=64, reasoning_tokens=25)
    expected = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 25},
        "total_tokens": 140,
    }
    assert responses_usage(usage) == expected
    assert schema_errors("ResponseUsage", expected) == []
    response = response_object(chat_answer({"content": "x"}), REQUEST, response_id=RID, usage=usage)
    assert response["usage"] == expected


# --- streams ---------------------------------------------------------------------------


def chunk(finish: str | None = None, logprobs: Any = None, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "m",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def tool_delta(
    index: int, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name:
        function["name"] = name
    delta: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        delta |= {"id": call_id, "type": "function"}
    return delta


ROLE = chunk(role="assistant", content="")
USAGE_CHUNK = b'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":10}}\n\n'
DONE = b"data: [DONE]\n\n"


def parse(frame: bytes) -> dict[str, Any]:
    head, data, tail = frame.split(b"\n", 2)
    assert head.startswith(b"event: ")
    assert data.startswith(b"data: ")
    assert tail == b"\n"
    event: dict[str, Any] = orjson.loads(data[6:])
    assert head[7:].decode() == event["type"]
    return event


def check(events: list[dict[str, Any]]) -> None:
    """Each event valid as its schema member, and the stream's order."""
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    parts_open: dict[int, set[int]] = {}
    for event in events[2:-1]:
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(added)  # the next one, never seen before
            assert set(added) == set(done)  # sequential: the previous ones are closed
            added[index] = event["item"]
            parts_open[index] = set()
        elif kind == "response.output_item.done":
            assert index in added
            assert index not in done  # closed once
            assert not parts_open[index]
            assert event["item"]["id"] == added[index]["id"]
            done[index] = event["item"]
        else:  # about an open item
            assert index in added, event  # opened before its deltas
            assert index not in done, event
            assert event["item_id"] == added[index]["id"]
            if kind == "response.content_part.added":
                parts_open[index].add(event["content_index"])
            elif kind == "response.content_part.done":
                parts_open[index].remove(event["content_index"])
            elif "content_index" in event and added[index]["type"] == "message":
                assert event["content_index"] in parts_open[index], event
    assert set(added) == set(done) or events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["output"] == [done[i] for i in sorted(done)]


def stream(
    request: dict[str, Any], frames: list[bytes], finish: bool = True
) -> list[dict[str, Any]]:
    translator = ResponsesEvents(request, RID, CREATED)
    out = translator.start()
    for frame in frames:
        out += translator.feed(frame)
    out += translator.finish(USAGE) if finish else translator.fail("server_error", "cut")
    events = [parse(e) for e in out]
    check(events)
    assert events[-1]["response"] == translator.response(USAGE if finish else None)
    return events


def deltas(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The stream in short: (type, output_index, delta or text) per item event."""
    out = []
    for e in events:
        value = e.get("delta", e.get("text", e.get("arguments", e.get("item", {}).get("type"))))
        out.append((e["type"].removeprefix("response."), e.get("output_index"), value))
    return out


def test_stream_text() -> None:
    events = stream(
        REQUEST,
        [ROLE, chunk(content="Hel"), chunk(content="lo"), chunk(finish="stop"), USAGE_CHUNK, DONE],
    )
    assert deltas(events) == [
        ("created", None, None),
        ("in_progress", None, None),
        ("output_item.added", 0, "message"),
        ("content_part.added", 0, None),
        ("output_text.delta", 0, "Hel"),
        ("output_text.delta", 0, "lo"),
        ("output_text.done", 0, "Hello"),
        ("content_part.done", 0, None),
        ("output_item.done", 0, "message"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [message_item(output_text("Hello"))]
    assert events[-1]["response"]["usage"] == responses_usage(USAGE)
    assert events[0]["response"]["status"] == "in_progress"
    assert "usage" not in events[0]["response"]


def test_stream_text_then_two_parallel_tool_calls() -> None:
    frames = [
        ROLE,
        chunk(content="Checking both."),
        chunk(content="\n"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f")]),
        chunk(tool_calls=[tool_delta(0, arguments='{"a":')]),
        chunk(tool_calls=[tool_delta(0, arguments="1}")]),
        chunk(tool_calls=[tool_delta(1, "call_2", "ns__g", '{"x"')]),
        chunk(tool_calls=[tool_delta(1, arguments=":2}")]),
        chunk(finish="tool_calls"),
        DONE,
    ]
    events = stream(REQUEST, frames)
    assert deltas(events)[2:] == [
        ("output_item.added", 0, "message"),
        ("content_part.added", 0, None),
        ("output_text.delta", 0, "Checking both."),
        ("output_text.delta", 0, "\n"),
        ("output_text.done", 0, "Checking both.\n"),
        ("content_part.done", 0, None),
        ("output_item.done", 0, "message"),
        ("output_item.added", 1, "function_call"),
        ("function_call_arguments.delta", 1, '{"a":'),
        ("function_call_arguments.delta", 1, "1}"),
        ("function_call_arguments.done", 1, '{"a":1}'),
        ("output_item.done", 1, "function_call"),
        ("output_item.added", 2, "function_call"),
        ("function_call_arguments.delta", 2, '{"x"'),
        ("function_call_arguments.delta", 2, ":2}"),
        ("function_call_arguments.done", 2, '{"x":2}'),
        ("output_item.done", 2, "function_call"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [
        message_item(output_text("Checking both.\n")),
        call_item(1, "call_1", "f", '{"a":1}'),
        call_item(2, "call_2", "g", '{"x":2}', namespace="ns"),
    ]
    arguments_done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [e["name"] for e in arguments_done] == ["f", "g"]
    assert events[9]["item"]["status"] == "in_progress"  # function call 1 as added
    assert events[9]["item"]["arguments"] == ""


def test_stream_reasoning_then_text() -> None:
    frames = [
        ROLE,
        chunk(reasoning="Think"),
        chunk(reasoning="ing."),
        chunk(content="42"),
        chunk(finish="stop"),
    ]
    events = stream(REQUEST, frames)
    assert deltas(events)[2:] == [
        ("output_item.added", 0, "reasoning"),
        ("reasoning_text.delta", 0, "Think"),
        ("reasoning_text.delta", 0, "ing."),
        ("reasoning_text.done", 0, "Thinking."),
        ("output_item.done", 0, "reasoning"),
        ("output_item.added", 1, "message"),
        ("content_part.added", 1, None),
        ("output_text.delta", 1, "42"),
        ("output_text.done", 1, "42"),
        ("content_part.done", 1, None),
        ("output_item.done", 1, "message"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [
        reasoning_item("Thinking."),
        message_item(output_text("42"), n=1),
    ]


def test_stream_whitespace_around_tool_calls_is_dropped() -> None:
    frames = [
        ROLE,
        chunk(content="\n\n"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", "{}")]),
        chunk(content="\n"),
        chunk(finish="tool_calls"),
    ]
    events = stream(REQUEST, frames)
    assert events[-1]["response"]["output"] == [call_item(0, "call_1", "f", "{}")]


def test_stream_whitespace_only_answer_is_kept() -> None:
    events = stream(REQUEST, [ROLE, chunk(content=" "), chunk(finish="stop")])
    assert events[-1]["response"]["output"] == [message_item(output_text(" "))]


def test_stream_refusal_and_logprobs() -> None:
    first, second = CHAT_LOGPROBS["content"]
    frames = [
        chunk(content="Hi", logprobs={"content": [first]}),
        chunk(content="!", logprobs={"content": [second]}),
        chunk(refusal="No."),
        chunk(finish="stop"),
    ]
    events = stream(REQUEST, frames)
    text_deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert text_deltas[0]["logprobs"] == [
        {
            "token": "Hi",
            "logprob": -0.1,
            "top_logprobs": [{"token": "Hi", "logprob": -0.1}, {"token": "Yo", "logprob": -2.5}],
        }
    ]
    assert events[-1]["response"]["output"] == [
        message_item(output_text("Hi!", RESPONSES_LOGPROBS), {"type": "refusal", "refusal": "No."})
    ]
    assert [e["content_index"] for e in events if e["type"] == "response.content_part.added"] == [
        0,
        1,
    ]


def test_stream_length_is_incomplete() -> None:
    events = stream(REQUEST, [chunk(content="Once upon"), chunk(finish="length")])
    assert events[-1]["type"] == "response.incomplete"
    response = events[-1]["response"]
    assert (response["status"], response["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert response["output"] == [message_item(output_text("Once upon"), status="incomplete")]


def test_stream_without_finish_reason_completes() -> None:
    events = stream(REQUEST, [chunk(tool_calls=[tool_delta(0, "call_1", "f", "{}")])])
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"] == [call_item(0, "call_1", "f", "{}")]


def test_stream_with_nothing_completes_empty() -> None:
    events = stream(REQUEST, [ROLE, chunk(finish="stop"), DONE])
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert events[-1]["response"]["output"] == []


def test_stream_cut_fails_closing_nothing() -> None:
    frames = [
        ROLE,
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", '{"a"')]),
    ]
    events = stream(REQUEST, frames, finish=False)
    assert deltas(events)[-3:] == [
        ("output_item.added", 1, "function_call"),
        ("function_call_arguments.delta", 1, '{"a"'),
        ("failed", None, None),
    ]
    response = events[-1]["response"]
    assert response["status"] == "failed"
    assert response["error"] == {"code": "server_error", "message": "cut"}
    assert response["output"] == [message_item(output_text("Hello"))]  # only what was done
    assert "usage" not in response


def test_after_the_end_nothing_more() -> None:
    translator = ResponsesEvents(REQUEST, RID, CREATED)
    translator.start()
    translator.finish(USAGE)
    assert translator.feed(chunk(content="late")) == []
    assert translator.finish(USAGE) == []
    assert translator.fail("server_error", "x") == []


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([b"data: {not json\n\n"], "unreadable"),
        ([b'data: {"error": {"message": "boom"}}\n\n'], "reported an error"),
        (
            [
                chunk(tool_calls=[tool_delta(0, "call_1", "f", "{")]),
                chunk(tool_calls=[tool_delta(1, "call_2", "f", "{}")]),
                chunk(tool_calls=[tool_delta(0, arguments="}")]),
            ],
            "out of order",
        ),
    ],
    ids=["unreadable", "error event", "tool call deltas out of order"],
)
def test_stream_provider_faults(frames: list[bytes], message: str) -> None:
    translator = ResponsesEvents(REQUEST, RID, CREATED)
    translator.start()
    for frame in frames[:-1]:
        translator.feed(frame)
    with pytest.raises(ProviderUnavailable, match=message):
        translator.feed(frames[-1])


def test_stream_ignores_comments_done_and_other_choices() -> None:
    other = b'data: {"choices":[{"index":1,"delta":{"content":"other"}}]}\n\n'
    frames = [b": keepalive\n\n", other, chunk(content="x"), DONE]
    events = stream(REQUEST, frames)
    assert events[-1]["response"]["output"] == [message_item(output_text("x"))]


def test_streamed_and_whole_answers_agree() -> None:
    calls = [tool_call("call_1", "f", '{"a":1}'), tool_call("call_2", "ns__g", "{}")]
    whole = response_object(
        chat_answer({"content": "ok", "reasoning": "hmm", "tool_calls": calls}, "tool_calls"),
        REQUEST,
        response_id=RID,
        usage=USAGE,
    )
    frames = [
        chunk(reasoning="hmm"),
        chunk(content="ok"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", '{"a":1}')]),
        chunk(tool_calls=[tool_delta(1, "call_2", "ns__g", "{}")]),
        chunk(finish="tool_calls"),
    ]
    streamed = stream(REQUEST, frames)[-1]["response"]
    assert streamed == whole


# --- the openai SDK reads them ---------------------------------------------------------


def sdk_client(body: bytes, content_type: str) -> openai.OpenAI:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return openai.OpenAI(
        api_key="unused",  # pragma: allowlist secret
        base_url="http://gateway.test/v1",
        http_client=http,
    )


def test_the_sdk_reads_a_stream() -> None:
    translator = ResponsesEvents(AGENTS_STREAM_REQ1, RID, CREATED)
    frames = [
        ROLE,
        chunk(content="Checking."),
        chunk(reasoning="x"),
        chunk(tool_calls=[tool_delta(0, "call_1", "get_weather", '{"city":')]),
        chunk(tool_calls=[tool_delta(0, arguments='"Paris"}')]),
        chunk(finish="tool_calls"),
    ]
    sse = b"".join(translator.start() + [e for f in frames for e in translator.feed(f)])
    client = sdk_client(sse + b"".join(translator.finish(USAGE)), "text/event-stream")
    with client.responses.stream(
        model="sim-chat", input="weather in Paris?", tools=[GET_WEATHER]
    ) as events:  # type: ignore[list-item]
        kinds = [event.type for event in events]
        final = events.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert final.output_text == "Checking."
    assert [item.type for item in final.output] == ["message", "reasoning", "function_call"]
    function_call = final.output[-1]
    assert function_call.type == "function_call"
    assert (function_call.call_id, function_call.arguments) == ("call_1", '{"city":"Paris"}')
    assert final.usage is not None
    assert final.usage.total_tokens == 14


def test_the_sdk_reads_a_whole_answer() -> None:
    answer = chat_answer({"content": "hello from capture"})
    response = response_object(answer, AGENTS_RUN_REQ1, response_id=RID, usage=USAGE)
    client = sdk_client(orjson.dumps(response), "application/json")
    parsed = client.responses.create(model="sim-chat", input="weather in Paris?")
    assert parsed.id == RID
    assert parsed.output_text == "hello from capture"
    assert parsed.status == "completed"
