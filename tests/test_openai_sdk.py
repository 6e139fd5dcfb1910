"""Any OpenAI SDK must just work: the official client against edge, through all tiers."""

from __future__ import annotations

import openai
import pytest


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "Hello there"}], max_tokens=5
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 5
    assert reply.usage.prompt_tokens > 0


def test_streamed_chat_arrives_chunk_by_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="sim-chat",
        messages=[{"role": "user", "content": "Count"}],
        max_tokens=6,
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 6
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason == "length"
    # The gateway asks the provider for usage but the client did not, so it never sees it.
    assert all(c.usage is None for c in chunks)


def test_stream_usage_chunk_only_when_asked(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="sim-chat",
        messages=[{"role": "user", "content": "Count"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_completion(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="sim-chat", prompt="Once upon a time", max_tokens=3)
    assert reply.object == "text_completion"
    assert reply.choices[0].text
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


def test_streamed_completion(client: openai.OpenAI) -> None:
    chunks = list(
        client.completions.create(model="sim-chat", prompt="Once", max_tokens=3, stream=True)
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip()


def test_embeddings(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model="sim-embed", input=["one", "two"])
    assert [d.index for d in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) > 0
    assert reply.data[0].embedding != reply.data[1].embedding
    assert reply.usage.prompt_tokens > 0


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {"sim-chat", "sim-native", "sim-embed"}
    assert client.models.retrieve("sim-chat").id == "sim-chat"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "model_not_found"
