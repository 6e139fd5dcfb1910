"""Anthropic specifics beyond the shared contract: request and answer translation (system
prompt, tools, images, stop sequences), tool-call streaming, error events, HTTPS rule."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from router.catalog import Deployment
from router.providers.anthropic import Anthropic
from router.providers.anthropic_format import completion_body, request_body
from router.providers.base import Operation
from router.providers.errors import ProviderRejected, ProviderUnavailable, StreamInterrupted
from tests.support.routerkit import KEY_ENV, AnthropicUpstream, sse


def test_request_translation() -> None:
    body = {
        "model": "alias",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "No emojis."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "found it"},
            {"role": "user", "content": "Thanks"},
        ],
        "max_completion_tokens": 50,
        "stop": "END",
        "temperature": 1.7,
        "top_p": 0.9,
        "user": "u-1",
        "presence_penalty": 0.5,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    out = request_body(body, "claude-x", stream=True)
    assert out["model"] == "claude-x"
    assert out["system"] == "Be brief.\n\nNo emojis."
    assert out["max_tokens"] == 50
    assert out["stop_sequences"] == ["END"]
    assert out["temperature"] == 1.0
    assert out["top_p"] == 0.9
    assert out["metadata"] == {"user_id": "u-1"}
    assert out["stream"] is True
    assert "presence_penalty" not in out
    assert out["tools"] == [
        {
            "name": "lookup",
            "description": "Look up",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    roles = [m["role"] for m in out["messages"]]
    # The tool result and the following user message merge into one user turn.
    assert roles == ["user", "assistant", "user"]
    user, assistant, result_turn = out["messages"]
    assert user["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "x"}}
    ]
    assert result_turn["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "found it"},
        {"type": "text", "text": "Thanks"},
    ]


def test_max_tokens_defaults_because_anthropic_requires_it() -> None:
    out = request_body({"messages": [{"role": "user", "content": "hi"}]}, "m", stream=False)
    assert out["max_tokens"] == 4096
    assert "stream" not in out


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages"),
    ],
)
def test_untranslatable_requests_are_the_callers_fault(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ProviderRejected) as caught:
        request_body(body, "m", stream=False)
    assert caught.value.status == 400
    assert caught.value.param == param
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("stop_sequence", "stop"),
    ],
)
def test_answer_translation(stop_reason: str, finish: str) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
        ],
        "stop_reason": stop_reason,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 3,
            "cache_read_input_tokens": 5,
            "output_tokens": 4,
        },
    }
    body, usage = completion_body(message)
    assert body["object"] == "chat.completion"
    assert body["model"] == "claude-x"
    choice = body["choices"][0]
    assert choice["finish_reason"] == finish
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q":"x"}'},
        }
    ]
    # Cached prompt tokens are prompt tokens too (billing must see them).
    assert body["usage"] == {
        "prompt_tokens": 18,
        "completion_tokens": 4,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 5},
    }
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (18, 4)


async def test_streamed_tool_call_becomes_openai_tool_call_deltas(
    anthropic_upstream: AnthropicUpstream,
) -> None:
    head, _ = anthropic_upstream.events([])
    parts = [
        *head,
        sse(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_9",
                    "name": "lookup",
                    "input": {},
                },
            },
            "content_block_start",
        ),
        sse(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"q": '},
            },
            "content_block_delta",
        ),
        sse(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"x"}'},
            },
            "content_block_delta",
        ),
        sse({"type": "content_block_stop", "index": 1}, "content_block_stop"),
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 12},
            },
            "message_delta",
        ),
        sse({"type": "message_stop"}, "message_stop"),
    ]
    anthropic_upstream.stream(parts)
    provider = anthropic_upstream.provider()
    stream = await provider.stream(Operation.CHAT, {"messages": [{"role": "user", "content": "x"}]})
    out = b"".join([chunk async for chunk in stream])
    payloads = [orjson.loads(line[6:]) for line in out.split(b"\n") if line.startswith(b"data: {")]
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in payloads
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_9",
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    assert "".join(c["function"]["arguments"] for c in calls) == '{"q": "x"}'
    assert payloads[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert out.endswith(b"data: [DONE]\n\n")
    assert stream.usage.completion_tokens == 12
    assert not stream.usage.estimated


async def test_error_event_before_first_token_is_retryable(
    anthropic_upstream: AnthropicUpstream,
) -> None:
    head, _ = anthropic_upstream.events([])
    overloaded = sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
    )
    anthropic_upstream.stream([head[0], overloaded])
    with pytest.raises(ProviderUnavailable) as caught:
        await anthropic_upstream.provider().stream(
            Operation.CHAT, {"messages": [{"role": "user", "content": "x"}]}
        )
    assert caught.value.retryable
    assert "overloaded_error" in caught.value.message


async def test_error_event_mid_stream_interrupts(anthropic_upstream: AnthropicUpstream) -> None:
    head, _ = anthropic_upstream.events(["partial"])
    overloaded = sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
    )
    anthropic_upstream.stream([*head, overloaded])
    stream = await anthropic_upstream.provider().stream(
        Operation.CHAT, {"messages": [{"role": "user", "content": "x"}]}
    )
    with pytest.raises(StreamInterrupted):
        async for _ in stream:
            pass
    assert stream.usage.estimated
    assert stream.usage.completion_tokens == 1
    assert stream.usage.prompt_tokens == 7  # from message_start: the provider's own count


async def test_only_chat_and_messages_are_supported(anthropic_upstream: AnthropicUpstream) -> None:
    provider = anthropic_upstream.provider()
    assert provider.operations == frozenset({Operation.CHAT, Operation.MESSAGES})
    with pytest.raises(ProviderRejected):
        await provider.complete(Operation.EMBEDDINGS, {"input": "x"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.anthropic.com", True),
        ("http://127.0.0.1:9999", True),
        ("http://localhost:9999", True),
        ("http://api.anthropic.com", False),
        ("http://10.0.0.5", False),
    ],
)
def test_https_only_except_loopback(
    url: str, allowed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "k")
    deployment = Deployment(
        name="a", provider="anthropic", base_url=url, model="m", api_key_env=KEY_ENV
    )
    if allowed:
        Anthropic(deployment, httpx.AsyncClient())
    else:
        with pytest.raises(ValueError, match="HTTPS"):
            Anthropic(deployment, httpx.AsyncClient())


def test_key_is_required() -> None:
    deployment = Deployment(name="a", provider="anthropic", base_url="https://x.test", model="m")
    with pytest.raises(ValueError, match="api_key_env"):
        Anthropic(deployment, httpx.AsyncClient())
