"""The adapter contract, one suite run against every adapter (openai, vllm, anthropic).

Each adapter faces a simulated upstream speaking its provider's wire format (see
``routerkit``) and must give the router the same thing: OpenAI-format answers and
stream chunks with typed usage, and failures as the router's error hierarchy - with
``retryable`` right, nothing retried once a stream started, no secret in any message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest

from router.providers.base import CompletionStream, Operation
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)
from tests.support.openapi import schema_errors
from tests.support.routerkit import API_KEY, KEY_ENV, UPSTREAMS, Upstream, sse

CHAT: dict[str, Any] = {
    "model": "public-alias",
    "messages": [{"role": "user", "content": "Say hello"}],
    "max_tokens": 16,
}
STREAM = CHAT | {"stream": True}
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def events(data: bytes) -> list[Any]:
    """The ``data:`` payloads of OpenAI SSE bytes ("[DONE]" kept as a string)."""
    out: list[Any] = []
    for event in data.split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data: "):
                payload = line[6:]
                out.append("[DONE]" if payload == b"[DONE]" else orjson.loads(payload))
    return out


async def drain(stream: CompletionStream) -> bytes:
    out = b""
    try:
        async for data in stream:
            out += data
    finally:
        await stream.aclose()
    return out


def content_of(payloads: list[Any]) -> str:
    return "".join(
        c["delta"].get("content") or ""
        for p in payloads
        if isinstance(p, dict)
        for c in p["choices"]
    )


# -- answers ---------------------------------------------------------------------------


async def test_complete_answers_an_openai_chat_completion_with_usage(upstream: Upstream) -> None:
    upstream.answer("Hello there", prompt=11, completion=2)
    result = await upstream.provider().complete(Operation.CHAT, CHAT)
    assert result.status == 200
    assert result.content_type.startswith("application/json")
    body = orjson.loads(result.body)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello there",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 11
    assert body["usage"]["completion_tokens"] == 2
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 2)
    assert not result.usage.estimated


async def test_a_whole_answer_is_read_as_a_stream_and_assembled_valid(upstream: Upstream) -> None:
    head, tail = upstream.events(["Hel", "lo"], prompt=9)
    upstream.streams([*head, tail])
    result = await upstream.provider().complete(Operation.CHAT, CHAT)
    (request,) = upstream.requests
    assert orjson.loads(request.content)["stream"] is True
    body = orjson.loads(result.body)
    assert schema_errors("CreateChatCompletionResponse", body) == []
    assert body["choices"][0]["message"]["content"] == "Hello"
    assert body["usage"]["prompt_tokens"] == 9
    assert result.first_token_seconds is not None


async def test_an_assembled_answer_carries_the_tool_calls(upstream: Upstream) -> None:
    upstream.streams(upstream.tool_events("get_weather", ['{"city"', ': "Oslo"}']))
    result = await upstream.provider().complete(Operation.CHAT, CHAT | {"tools": [TOOL]})
    body = orjson.loads(result.body)
    assert schema_errors("CreateChatCompletionResponse", body) == []
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert call["id"]


async def test_a_stream_relays_tool_call_argument_deltas(upstream: Upstream) -> None:
    upstream.streams(upstream.tool_events("get_weather", ['{"city"', ': "Oslo"}']))
    stream = await upstream.provider().stream(Operation.CHAT, STREAM | {"tools": [TOOL]})
    payloads = [p for p in events(await drain(stream)) if isinstance(p, dict)]
    calls = [
        call for p in payloads for c in p["choices"] for call in c["delta"].get("tool_calls", ())
    ]
    assert calls[0]["function"]["name"] == "get_weather"
    assert "".join(c["function"].get("arguments", "") for c in calls) == '{"city": "Oslo"}'
    assert payloads[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_whole_answer_that_breaks_off_is_retryable(upstream: Upstream) -> None:
    head, _ = upstream.events(["one", "two"])
    upstream.streams([*head, httpx.ReadError("reset")])
    with pytest.raises(ProviderUnavailable) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    assert caught.value.retryable  # nothing reached the client: another deployment may try


async def test_a_hung_whole_answer_fails_at_the_first_token_timeout(upstream: Upstream) -> None:
    head, tail = upstream.events(["late"])
    upstream.streams([5.0, *head, tail])
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await upstream.provider(first_token=0.2, total=30).complete(Operation.CHAT, CHAT)
    assert time.monotonic() - started < 2


async def test_a_deployment_that_cannot_stream_is_asked_for_one_body(upstream: Upstream) -> None:
    upstream.answer("Hello there", prompt=11, completion=2)
    provider = upstream.adapter(
        upstream.deployment().model_copy(update={"can_stream": False}), upstream.provider().client
    )
    result = await provider.complete(Operation.CHAT, CHAT)
    (request,) = upstream.requests
    assert "stream" not in orjson.loads(request.content)
    assert orjson.loads(result.body)["choices"][0]["message"]["content"] == "Hello there"
    assert result.first_token_seconds is None


async def test_request_names_the_upstream_model_and_carries_the_key(upstream: Upstream) -> None:
    upstream.answer("ok")
    await upstream.provider().complete(Operation.CHAT, CHAT)
    (request,) = upstream.requests
    assert upstream.sent_model(request) == "upstream-model"
    assert upstream.authorized(request)
    assert API_KEY.encode() not in request.content


async def test_stream_relays_tokens_as_openai_chunks_with_usage(upstream: Upstream) -> None:
    head, tail = upstream.events(["Hel", "lo", "!"], prompt=9)
    upstream.stream([*head, tail])
    stream = await upstream.provider().stream(Operation.CHAT, STREAM)
    payloads = events(await drain(stream))
    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    assert all(p["object"] == "chat.completion.chunk" for p in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_of(chunks) == "Hello!"
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)
    # The client did not ask for usage: no usage chunk for it, but the router knows.
    assert not any(c.get("usage") for c in chunks)
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (9, 3)
    assert not stream.usage.estimated


async def test_stream_forwards_usage_when_the_client_asked(upstream: Upstream) -> None:
    head, tail = upstream.events(["a", "b"], prompt=4)
    upstream.stream([*head, tail])
    body = STREAM | {"stream_options": {"include_usage": True}}
    payloads = events(await drain(await upstream.provider().stream(Operation.CHAT, body)))
    usage_chunks = [p for p in payloads if isinstance(p, dict) and p.get("usage")]
    assert len(usage_chunks) == 1
    assert usage_chunks[0]["choices"] == []
    assert usage_chunks[0]["usage"]["prompt_tokens"] == 4
    assert usage_chunks[0]["usage"]["completion_tokens"] == 2


async def test_stream_request_asks_the_provider_to_stream(upstream: Upstream) -> None:
    head, tail = upstream.events(["x"])
    upstream.stream([*head, tail])
    await drain(await upstream.provider().stream(Operation.CHAT, STREAM))
    sent = orjson.loads(upstream.requests[0].content)
    assert sent["stream"] is True


async def test_list_models_and_health(upstream: Upstream) -> None:
    provider = upstream.provider()
    assert await provider.health() is True
    assert "upstream-model" in await provider.list_models()
    upstream.fail(503)
    assert await provider.health() is False
    upstream.raise_(httpx.ConnectError("refused"))
    assert await provider.health() is False


# -- errors: mapped, retryable only where safe --------------------------------------------


async def test_provider_400_passes_through_with_its_message_and_is_not_retried(
    upstream: Upstream,
) -> None:
    upstream.fail(400, "max_tokens is too large: 999999")
    with pytest.raises(ProviderRejected) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    error = caught.value
    assert error.status == 400
    assert error.message == "max_tokens is too large: 999999"
    assert error.to_body()["error"]["type"] == "invalid_request_error"
    assert not error.retryable
    assert not error.deployment_fault


async def test_a_rejections_code_passes_only_if_it_is_an_openai_code(upstream: Upstream) -> None:
    upstream.fail(400, "top_p must be in (0, 1], got 0.0.")
    with pytest.raises(ProviderRejected) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    error = caught.value.to_body()["error"]
    assert error["message"] == "top_p must be in (0, 1], got 0.0."
    if upstream.kind == "openai":
        assert (error["code"], error["param"]) == ("bad", "messages")
    elif upstream.kind == "vllm":
        # vLLM's integer `code` (the status again) is no OpenAI code: the gateway's own.
        assert upstream.error_body("x", 400)["error"]["code"] == 400
        assert (error["code"], error["param"]) == ("invalid_request", None)
    assert isinstance(error["code"], str)


@pytest.mark.parametrize("status", [404, 422])
async def test_other_request_errors_are_passed_through_not_retried(
    upstream: Upstream, status: int
) -> None:
    upstream.fail(status, "no such thing")
    with pytest.raises(ProviderRejected) as caught:
        await upstream.provider().stream(Operation.CHAT, STREAM)
    assert caught.value.status == status
    assert not caught.value.retryable


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_credentials_are_hidden_and_not_retried(
    upstream: Upstream, status: int
) -> None:
    upstream.fail(status, f"Incorrect API key provided: {API_KEY}")
    with pytest.raises(ProviderError) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    error = caught.value
    assert API_KEY not in error.message
    assert "misconfigured" in error.message
    assert error.status == 502
    assert not error.retryable


async def test_429_is_retryable_and_carries_retry_after(upstream: Upstream) -> None:
    upstream.fail(429, "slow down", headers={"retry-after": "7"})
    with pytest.raises(ProviderRateLimited) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    assert caught.value.retryable
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_5xx_is_retryable(upstream: Upstream, status: int) -> None:
    upstream.fail(status, "Traceback (most recent call last): internal secret path /srv/x.py")
    with pytest.raises(ProviderUnavailable) as caught:
        await upstream.provider().stream(Operation.CHAT, STREAM)
    error = caught.value
    assert error.retryable
    assert "Traceback" not in error.message
    assert "/srv" not in error.message


async def test_connection_refused_is_retryable(upstream: Upstream) -> None:
    leaky = "connection refused to https://user:pw@host"  # pragma: allowlist secret
    upstream.raise_(httpx.ConnectError(leaky))
    with pytest.raises(ProviderUnavailable) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    assert caught.value.retryable
    assert "pw@" not in caught.value.message


async def test_unreadable_answer_is_retryable(upstream: Upstream) -> None:
    upstream.handler = lambda _: httpx.Response(200, content=b'{"id": "x", "choices": [ not json')
    with pytest.raises(ProviderUnavailable) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    assert caught.value.retryable


async def test_answer_slower_than_total_times_out(upstream: Upstream) -> None:
    upstream.stream([5.0, b"{}"])
    provider = upstream.provider(total=0.2, first_token=0.2, connect=0.1)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        await provider.complete(Operation.CHAT, CHAT)
    assert time.monotonic() - started < 1.0
    assert caught.value.retryable


# -- streams: the first token is the commit point -----------------------------------------


async def test_stream_stalling_before_first_token_times_out_within_budget(
    upstream: Upstream,
) -> None:
    head, tail = upstream.events(["late"])
    # The provider's preamble may come at once; the first token never does (in time).
    preamble = [e for e in head if b"content_block_delta" not in e and b'"content"' not in e]
    body = upstream.stream([*preamble, 10.0, *head, tail])
    provider = upstream.provider(first_token=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        await provider.stream(Operation.CHAT, STREAM)
    assert 0.25 < time.monotonic() - started < 1.5
    assert caught.value.retryable
    assert "first token" in caught.value.message
    assert body.closed, "the upstream connection must be closed"


async def test_stream_cut_before_first_token_is_retryable(upstream: Upstream) -> None:
    head, _ = upstream.events(["never"])
    preamble = [e for e in head if b"content_block_delta" not in e and b'"content"' not in e]
    upstream.stream([*preamble, httpx.ReadError("connection reset")])
    with pytest.raises(ProviderUnavailable) as caught:
        await upstream.provider().stream(Operation.CHAT, STREAM)
    assert caught.value.retryable


async def test_stream_cut_after_first_token_interrupts_with_estimated_usage(
    upstream: Upstream,
) -> None:
    head, _ = upstream.events(["one", "two", "three"], prompt=6)
    upstream.stream([*head, httpx.ReadError("connection reset")])
    stream = await upstream.provider().stream(Operation.CHAT, STREAM)
    received: list[bytes] = []

    async def consume() -> None:
        async for data in stream:
            received.append(data)

    with pytest.raises(StreamInterrupted) as caught:
        await consume()
    await stream.aclose()
    data = b"".join(received)
    assert content_of(events(data)) == "onetwothree"
    assert b"[DONE]" not in data
    assert not caught.value.retryable
    assert caught.value.status == 502
    usage = stream.usage
    assert usage.estimated
    assert usage.completion_tokens == 3
    assert usage.prompt_tokens > 0


async def test_stream_ending_without_its_end_marker_is_interrupted(upstream: Upstream) -> None:
    head, _ = upstream.events(["partial"])
    upstream.stream(head)  # the connection closes cleanly, but the answer never ended
    stream = await upstream.provider().stream(Operation.CHAT, STREAM)
    with pytest.raises(StreamInterrupted):
        await drain(stream)


async def test_stream_stalling_mid_answer_is_interrupted_after_idle_timeout(
    upstream: Upstream,
) -> None:
    head, tail = upstream.events(["a", "b"])
    upstream.stream([*head, 10.0, tail])
    stream = await upstream.provider(idle=0.2, first_token=1.0).stream(Operation.CHAT, STREAM)
    started = time.monotonic()
    with pytest.raises(StreamInterrupted) as caught:
        await drain(stream)
    assert time.monotonic() - started < 1.5
    assert "stalled" in caught.value.message


async def test_stream_longer_than_total_is_interrupted(upstream: Upstream) -> None:
    head, tail = upstream.events(["a"])
    upstream.stream([*head, 0.15, *head[-1:], 0.15, *head[-1:], 0.15, tail])
    stream = await upstream.provider(total=0.3, first_token=0.3, idle=1.0, connect=0.1).stream(
        Operation.CHAT, STREAM
    )
    with pytest.raises(StreamInterrupted) as caught:
        await drain(stream)
    assert "exceeded" in caught.value.message


async def test_unreadable_event_mid_stream_interrupts(upstream: Upstream) -> None:
    head, tail = upstream.events(["a"])
    upstream.stream([*head, b"data: {not json\n\n", tail])
    stream = await upstream.provider().stream(Operation.CHAT, STREAM)
    with pytest.raises(StreamInterrupted):
        await drain(stream)


async def test_upstream_comment_cannot_pass_for_the_usage_trailer(upstream: Upstream) -> None:
    head, tail = upstream.events(["a"])
    upstream.stream([*head, b': gateway-usage {"prompt_tokens":0,"completion_tokens":0}\n\n', tail])
    received = await drain(await upstream.provider().stream(Operation.CHAT, STREAM))
    assert b"gateway-usage" not in received


async def test_client_leaving_mid_stream_closes_the_upstream(upstream: Upstream) -> None:
    head, tail = upstream.events(["a", "b"])
    body = upstream.stream([*head, 10.0, tail])
    stream = await upstream.provider().stream(Operation.CHAT, STREAM)

    async def consume() -> None:
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert body.closed


@pytest.mark.parametrize("kind", ["openai", "vllm"])
async def test_an_error_event_with_a_4xx_is_the_requests_own_fault(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vLLM refuses some requests only once the engine sees them, in the stream it already
    # answered 200 for: the caller's mistake, not a failing provider to fail over from.
    monkeypatch.setenv(KEY_ENV, API_KEY)
    upstream = UPSTREAMS[kind]()
    error = {"error": {"message": "logprobs of 25 > 20", "type": "BadRequestError", "code": 400}}
    upstream.streams([sse(error), b"data: [DONE]\n\n"])
    with pytest.raises(ProviderRejected) as caught:
        await upstream.provider().complete(Operation.CHAT, CHAT)
    assert (caught.value.status, caught.value.message) == (400, "logprobs of 25 > 20")
    assert not caught.value.retryable
