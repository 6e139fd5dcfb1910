"""The OpenAI API as the official SDK sees it: shapes, streams, usage, errors."""

from __future__ import annotations

import math
from typing import Any

import httpx
import openai
import orjson
import pytest

from simulator.generation import completion_text, embedding

MESSAGES: list[Any] = [{"role": "user", "content": "Hello there, simulator!"}]  # 23 chars
PROMPT_TOKENS = math.ceil(23 / 4)


async def test_chat_completion_is_openai_shaped(client: openai.AsyncOpenAI, openapi: Any) -> None:
    resp = await client.chat.completions.with_raw_response.create(
        model="sim-model", messages=MESSAGES
    )
    body = orjson.loads(resp.content)
    assert openapi.errors(body, "CreateChatCompletionResponse") == []
    completion = resp.parse()
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "sim-model"
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == completion_text(16)
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == 16
    assert completion.usage.total_tokens == PROMPT_TOKENS + 16


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_cuts_the_answer_with_length(
    client: openai.AsyncOpenAI, param: str
) -> None:
    completion = await client.chat.completions.create(
        model="sim-model", messages=MESSAGES, **{param: 5}
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == completion_text(5)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 5


async def test_chat_n_choices(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model="sim-model", messages=MESSAGES, n=3, max_tokens=2
    )
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 6


async def test_chat_stream_chunks_without_usage(
    client: openai.AsyncOpenAI, sim: Any, openapi: Any
) -> None:
    stream = await client.chat.completions.create(
        model="sim-model", messages=MESSAGES, stream=True, max_tokens=4
    )
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 1 + 4 + 1
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == "sim-model" for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    tokens = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert "".join(t or "" for t in tokens) == completion_text(4)
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    last = chunks[-1].choices[0]
    assert last.finish_reason == "length"
    assert last.delta.content is None

    # The same stream on the wire: every event is a schema-valid chunk, then [DONE].
    async with (
        httpx.AsyncClient(base_url=sim.url) as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "sim-model", "messages": MESSAGES, "stream": True, "max_tokens": 2},
        ) as resp,
    ):
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line async for line in resp.aiter_lines() if line]
    assert events[-1] == "data: [DONE]"
    for event in events[:-1]:
        chunk = orjson.loads(event.removeprefix("data: "))
        assert openapi.errors(chunk, "CreateChatCompletionStreamResponse") == []
        assert "usage" in chunk
        assert chunk["usage"] is None


async def test_chat_stream_usage_chunk_only_when_asked(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="sim-model",
        messages=MESSAGES,
        stream=True,
        max_tokens=3,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == PROMPT_TOKENS
    assert usage_chunk.usage.completion_tokens == 3
    assert usage_chunk.usage.total_tokens == PROMPT_TOKENS + 3
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"


async def test_stream_options_without_stream_is_rejected_as_vllm_does(
    client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(
            model="sim-model", messages=MESSAGES, stream_options={"include_usage": True}
        )
    error = err.value.response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("Bad Request", None, 400)
    assert "Stream options can only be defined when `stream=True`." in error["message"]


async def test_completions(client: openai.AsyncOpenAI, openapi: Any) -> None:
    resp = await client.completions.with_raw_response.create(
        model="sim-model", prompt="abcdefghij", max_tokens=3
    )
    assert openapi.errors(orjson.loads(resp.content), "CreateCompletionResponse") == []
    completion = resp.parse()
    assert completion.id.startswith("cmpl-")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == completion_text(3)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 3)


async def test_completions_batch_prompts(client: openai.AsyncOpenAI) -> None:
    completion = await client.completions.create(
        model="sim-model", prompt=["abcd", "abcdefgh"], max_tokens=2
    )
    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1 + 2
    assert completion.usage.completion_tokens == 4


async def test_completions_stream(client: openai.AsyncOpenAI, openapi: Any) -> None:
    stream = await client.completions.create(
        model="sim-model",
        prompt="hi",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.object == "text_completion" for c in chunks)
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert "".join(texts) == completion_text(16)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 16


async def test_embeddings(client: openai.AsyncOpenAI, openapi: Any, sim: Any) -> None:
    # The SDK asks for base64 and decodes it; the vector must survive the round trip.
    result = await client.embeddings.create(model="sim-embed", input=["first", "second"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.model == "sim-embed"
    first = result.data[0].embedding
    assert len(first) == 16
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-5)
    assert first == pytest.approx(list(embedding("first", 16)), rel=1e-6)
    assert result.data[1].embedding != first
    assert result.usage.prompt_tokens == 2 + 2

    again = await client.embeddings.create(
        model="sim-embed", input="first", encoding_format="float"
    )
    assert again.data[0].embedding == pytest.approx(first, rel=1e-6)

    async with httpx.AsyncClient(base_url=sim.url) as http:
        resp = await http.post(
            "/v1/embeddings", json={"model": "sim-embed", "input": [[1, 2, 3], [4, 5]]}
        )
    body = resp.json()
    assert openapi.errors(body, "CreateEmbeddingResponse") == []
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    assert all(d["object"] == "embedding" for d in body["data"])


async def test_models_list_and_retrieve(client: openai.AsyncOpenAI, openapi: Any) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == ["sim-model", "sim-embed"]
    assert all(m.object == "model" and m.owned_by == "vllm" for m in models.data)
    model = await client.models.retrieve("sim-embed")
    assert model.id == "sim-embed"
    assert openapi.errors(model.model_dump(), "Model") == []
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")


async def test_unknown_model_is_404_as_vllm_answers_it(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        await client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert err.value.response.json() == {
        "error": {
            "message": "The model `gpt-nope` does not exist.",
            "type": "NotFoundError",
            "param": None,
            "code": 404,
        }
    }


async def test_bad_requests_are_400_in_vllms_envelope(sim: Any, openapi: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        bad_json = await http.post(
            "/v1/chat/completions",
            content=b'{"model": "sim-model", "messages": [',
            headers={"content-type": "application/json"},
        )
        no_messages = await http.post("/v1/chat/completions", json={"model": "sim-model"})
        bad_prompt = await http.post("/v1/completions", json={"model": "sim-model", "prompt": 3})
        unknown_route = await http.get("/v1/nothing-here")
    for resp, part in (
        (bad_json, "'type': 'json_invalid'"),
        (no_messages, "'loc': ('body', 'messages'), 'msg': 'Field required'"),
        (bad_prompt, "'loc': ('body', 'prompt', 'str'), 'msg': 'Input should be a valid string'"),
    ):
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == ("Bad Request", None, 400)
        assert part in error["message"]
    assert unknown_route.status_code == 404
    assert openapi.errors(unknown_route.json(), "ErrorResponse") == []


async def test_health_endpoints(sim: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        health = await http.get("/health")
        healthz = await http.get("/healthz")
        readyz = await http.get("/readyz")
    assert health.status_code == 200
    assert health.content == b""
    assert healthz.json() == {"status": "ok"}
    assert readyz.json() == {"status": "ok"}
