"""Whole answers assembled from their stream: content, tool calls, reasoning, log
probabilities, several choices, usage - each a valid OpenAI answer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.providers.assembly import Assembler
from router.providers.base import Operation, Usage
from router.providers.errors import ProviderUnavailable
from tests.support.openapi import schema_errors

HEAD = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 17, "model": "m"}
USAGE = Usage(5, 4)


def chunk(*choices: dict[str, Any], **extra: Any) -> bytes:
    return b"data: " + orjson.dumps({**HEAD, "choices": list(choices), **extra}) + b"\n\n"


def delta(index: int = 0, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish}


def assemble(events: list[bytes], operation: Operation = Operation.CHAT) -> dict[str, Any]:
    assembler = Assembler(operation)
    for event in events:
        # Split anywhere, as a socket may deliver it.
        for i in range(0, len(event), 7):
            assembler.feed(event[i : i + 7])
    answer = assembler.answer(USAGE)
    component = (
        "CreateChatCompletionResponse"
        if operation is Operation.CHAT
        else "CreateCompletionResponse"
    )
    assert schema_errors(component, answer) == []
    return answer


def test_text_and_the_usage_chunk() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
             "prompt_tokens_details": {"cached_tokens": 3}}  # fmt: skip
    answer = assemble(
        [
            chunk(delta(role="assistant", content="")),
            chunk(delta(content="Hel")),
            chunk(delta(content="lo")),
            chunk(delta(finish="stop")),
            chunk(usage=usage, system_fingerprint="fp_1"),
            b"data: [DONE]\n\n",
        ]
    )
    assert answer == {
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 17,
        "model": "m",
        "system_fingerprint": "fp_1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def test_parallel_tool_calls_are_merged_by_index() -> None:
    first = {"index": 0, "id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
    second = {"index": 1, "id": "call_b", "type": "function",
              "function": {"name": "get_time", "arguments": '{"tz"'}}  # fmt: skip
    answer = assemble(
        [
            chunk(delta(role="assistant")),
            chunk(delta(tool_calls=[first])),
            chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}])),
            chunk(delta(tool_calls=[second])),
            chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": ' "Oslo"}'}}])),
            chunk(delta(tool_calls=[{"index": 1, "function": {"arguments": ': "UTC"}'}}])),
            chunk(delta(finish="tool_calls")),
        ]
    )
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "call_b", "type": "function",
         "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}},
    ]  # fmt: skip
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}


def test_reasoning_under_either_name_logprobs_and_several_choices() -> None:
    token = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    answer = assemble(
        [
            chunk(delta(0, role="assistant", reasoning="think")),
            chunk(delta(1, role="assistant", reasoning_content="ponder")),
            chunk(
                {"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [token]}},
                {"index": 1, "delta": {"content": "b"}},
            ),
            chunk({"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [token]}}),
            chunk(delta(1, finish="length"), delta(0, finish="stop")),
        ]
    )
    first, second = answer["choices"]
    assert (first["message"]["content"], first["message"]["reasoning"]) == ("aa", "think")
    assert first["logprobs"] == {"content": [token, token], "refusal": None}
    assert (second["message"]["reasoning_content"], second["finish_reason"]) == ("ponder", "length")
    assert second["logprobs"] is None


def test_a_refusal_is_kept_apart_from_the_content() -> None:
    answer = assemble(
        [chunk(delta(role="assistant", refusal="I can't")), chunk(delta(finish="stop"))]
    )
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": "",
        "refusal": "I can't",
    }


def test_text_completions_with_logprobs() -> None:
    def piece(text: str, finish: str | None = None) -> bytes:
        logprobs = {"tokens": [text], "token_logprobs": [-0.5], "top_logprobs": [{text: -0.5}],
                    "text_offset": [0]}  # fmt: skip
        choice = {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}
        return chunk(choice, object="text_completion")

    answer = assemble([piece("x"), piece("y", "length")], Operation.COMPLETIONS)
    assert answer["object"] == "text_completion"
    (choice,) = answer["choices"]
    assert (choice["text"], choice["finish_reason"]) == ("xy", "length")
    assert choice["logprobs"]["tokens"] == ["x", "y"]
    assert choice["logprobs"]["token_logprobs"] == [-0.5, -0.5]


def test_an_unreadable_event_is_a_provider_failure() -> None:
    with pytest.raises(ProviderUnavailable):
        Assembler(Operation.CHAT).feed(b"data: {not json\n\n")
