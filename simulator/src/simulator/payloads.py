"""Response bodies and stream events, built as bytes the way vLLM/OpenAI shape them.

Whole bodies go through ``orjson.dumps``; stream chunks are spliced from pre-rendered
pieces (:class:`StreamChunks`) because a stream emits one per token and choice.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from simulator import generation
from simulator.parsing import EmbeddingJob, GenerationJob, Kind

DONE = b"data: [DONE]\n\n"
MALFORMED_EVENT = b"data: {malformed-json: this line is not JSON\n\n"
MALFORMED_BODY = b'{"id": "malformed", "choices": [ this body is not JSON'


def request_id(kind: Kind) -> str:
    prefix = "chatcmpl-" if kind is Kind.CHAT else "cmpl-"
    return prefix + os.urandom(16).hex()


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> dict[str, Any]:
    """vLLM's usage object; ``prompt_tokens_details`` only when the prefix cache hit."""
    body: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens:
        body["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return body


def generation_body(
    job: GenerationJob,
    rid: str,
    created: int,
    tokens: int,
    finish_reason: str,
    *,
    cached_tokens: int = 0,
) -> bytes:
    """The non-streaming answer: a ``chat.completion`` or ``text_completion`` object."""
    text = generation.completion_text(tokens)
    choices: list[dict[str, Any]]
    if job.kind is Kind.CHAT:
        choices = [
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "refusal": None,
                    "tool_calls": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            for i in range(job.choices)
        ]
        obj = "chat.completion"
    else:
        choices = [
            {"index": i, "text": text, "logprobs": None, "finish_reason": finish_reason}
            for i in range(job.choices)
        ]
        obj = "text_completion"
    return orjson.dumps(
        {
            "id": rid,
            "object": obj,
            "created": created,
            "model": job.model,
            "choices": choices,
            "usage": usage(job.prompt_tokens, tokens * job.choices, cached_tokens),
        }
    )


def embedding_body(job: EmbeddingJob, dim: int) -> bytes:
    data: list[dict[str, Any]] = []
    # vLLM cuts a (matryoshka) embedding to `dimensions`; asking for more gives it whole.
    size = min(job.dimensions, dim) if job.dimensions else dim
    for i, value in enumerate(job.inputs):
        vector = generation.embedding(value, size)
        encoded: Any = generation.embedding_base64(vector) if job.base64 else vector
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": job.model,
            "usage": {"prompt_tokens": job.prompt_tokens, "total_tokens": job.prompt_tokens},
        }
    )


def model_card(model: str, created: int) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": "vllm"}


def models_body(models: list[str], created: int) -> bytes:
    return orjson.dumps({"object": "list", "data": [model_card(m, created) for m in models]})


_NULL_TAIL = b',"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
_CHAT_ROLE = b',"delta":{"role":"assistant","content":""}' + _NULL_TAIL
_CHAT_CONTENT = b',"delta":{"content":'
_CHAT_FINISH = b',"delta":{},"logprobs":null,"finish_reason":"'
_TEXT_CONTENT = b',"text":'
_TEXT_FINISH = b',"text":"","logprobs":null,"finish_reason":"'
_FINISH_TAIL = b'"}],"usage":null}\n\n'


class StreamChunks:
    """The ``data:`` events of one stream, spliced from pre-rendered bytes.

    Chat (``chat.completion.chunk``): per choice a role chunk, one content chunk per
    token, a chunk with an empty delta and the finish reason. Completions
    (``text_completion``): one text chunk per token, then a chunk with empty text and the
    finish reason. Every chunk carries ``"usage": null``; the optional usage chunk has
    ``"choices": []``.
    """

    __slots__ = ("_chat", "_heads", "_usage_head")

    def __init__(self, job: GenerationJob, rid: str, created: int, model_json: bytes) -> None:
        self._chat = job.kind is Kind.CHAT
        obj = b"chat.completion.chunk" if self._chat else b"text_completion"
        envelope = (
            b'data: {"id":"'
            + rid.encode()
            + b'","object":"'
            + obj
            + b'","created":'
            + str(created).encode()
            + b',"model":'
            + model_json
        )
        self._usage_head = envelope + b',"choices":[],"usage":'
        head = envelope + b',"choices":[{"index":'
        self._heads = [head + str(i).encode() for i in range(job.choices)]

    def role(self, choice: int) -> bytes:
        """The chat stream's opening chunk (empty for completions)."""
        return self._heads[choice] + _CHAT_ROLE if self._chat else b""

    def content(self, choice: int, token_index: int) -> bytes:
        middle = _CHAT_CONTENT if self._chat else _TEXT_CONTENT
        tail = b"}" + _NULL_TAIL if self._chat else _NULL_TAIL
        return self._heads[choice] + middle + generation.token_json(token_index) + tail

    def finish(self, choice: int, reason: str) -> bytes:
        middle = _CHAT_FINISH if self._chat else _TEXT_FINISH
        return self._heads[choice] + middle + reason.encode() + _FINISH_TAIL

    def usage(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> bytes:
        counts = usage(prompt_tokens, completion_tokens, cached_tokens)
        return self._usage_head + orjson.dumps(counts) + b"}\n\n"
