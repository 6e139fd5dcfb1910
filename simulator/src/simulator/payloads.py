"""Response bodies and stream events, built as bytes the way vLLM/OpenAI shape them.

Whole bodies go through ``orjson.dumps``; stream chunks are spliced from pre-rendered
pieces (:class:`StreamChunks`) because a stream emits one per token and choice.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import orjson

from simulator import generation
from simulator.generation import Answer
from simulator.parsing import EmbeddingJob, GenerationJob, Kind
from simulator.tools import ToolCall, call_id

DONE = b"data: [DONE]\n\n"
MALFORMED_EVENT = b"data: {malformed-json: this line is not JSON\n\n"
MALFORMED_BODY = b'{"id": "malformed", "choices": [ this body is not JSON'


_ID_PREFIXES = {
    Kind.CHAT: "chatcmpl-",
    Kind.COMPLETION: "cmpl-",
    Kind.RESPONSES: "resp_",
    Kind.MESSAGES: "msg_",
}
TOOL_CALL_PREFIX = "chatcmpl-tool-"  # vLLM's chat tool call ids


def request_id(kind: Kind) -> str:
    return _ID_PREFIXES[kind] + os.urandom(16).hex()


def usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if reasoning_tokens:
        counts["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return counts


def _chat_message(answer: Answer) -> dict[str, Any]:
    call = answer.call
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if call else answer.text,
        "refusal": None,
        "tool_calls": [] if call is None else [_tool_call(call)],
    }
    if answer.reasoning_tokens:
        message["reasoning"] = answer.reasoning_text
    return message


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call_id(TOOL_CALL_PREFIX),
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def generation_body(job: GenerationJob, rid: str, created: int, answer: Answer) -> bytes:
    """The non-streaming answer: a ``chat.completion`` or ``text_completion`` object."""
    choices: list[dict[str, Any]]
    finish_reason = answer.finish_reason
    if job.kind is Kind.CHAT:
        choices = [
            {
                "index": i,
                "message": _chat_message(answer),
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            for i in range(job.choices)
        ]
        obj = "chat.completion"
    else:
        text = answer.text
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
            "usage": usage(
                job.prompt_tokens,
                answer.tokens * job.choices,
                answer.reasoning_tokens * job.choices,
            ),
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


class StreamEvents(Protocol):
    """The events of one streamed answer, asked for in order: ``role`` per choice,
    ``content`` per token and choice, ``finish`` per choice, ``usage`` when asked for,
    then ``done``. Each returns the bytes to send (possibly none)."""

    done: bytes

    def role(self, choice: int) -> bytes: ...

    def content(self, choice: int, token_index: int) -> bytes: ...

    def finish(self, choice: int, reason: str) -> bytes: ...

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes: ...


_NULL_TAIL = b',"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
_CHAT_ROLE = b',"delta":{"role":"assistant","content":""}' + _NULL_TAIL
_CHAT_CONTENT = b',"delta":{"content":'
_CHAT_REASONING = b',"delta":{"reasoning":'
_CHAT_ARGUMENTS = b',"delta":{"tool_calls":[{"index":0,"function":{"arguments":'
_CHAT_FINISH = b',"delta":{},"logprobs":null,"finish_reason":"'
_TEXT_CONTENT = b',"text":'
_TEXT_FINISH = b',"text":"","logprobs":null,"finish_reason":"'
_FINISH_TAIL = b'"}],"usage":null}\n\n'


class StreamChunks:
    """The ``data:`` events of one stream, spliced from pre-rendered bytes.

    Chat (``chat.completion.chunk``): per choice a role chunk, one chunk per token
    (``reasoning``, then ``content``; or for a tool call, as vLLM streams one: a first
    delta with the call's ``id``, ``type`` and ``name``, then one per fragment of its
    ``arguments``), a chunk with an empty delta and the finish reason. Completions
    (``text_completion``): one text chunk per token, then a chunk with empty text and the
    finish reason. Every chunk carries ``"usage": null``; the optional usage chunk has
    ``"choices": []``.
    """

    __slots__ = ("_call", "_chat", "_heads", "_middle", "_reasoning", "_tail",
                 "_usage_head", "done")  # fmt: skip

    def __init__(
        self, job: GenerationJob, rid: str, created: int, model_json: bytes, answer: Answer
    ) -> None:
        self.done = DONE
        self._reasoning = answer.reasoning_tokens
        self._call = answer.call
        self._chat = job.kind is Kind.CHAT
        # A text token's chunk around its JSON string (the hot path: one per token).
        self._middle = _CHAT_CONTENT if self._chat else _TEXT_CONTENT
        self._tail = b"}" + _NULL_TAIL if self._chat else _NULL_TAIL
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
        index = token_index - self._reasoning
        if index >= 0 and self._call is None:
            return self._heads[choice] + self._middle + generation.token_json(index) + self._tail
        if index < 0:
            delta = _CHAT_REASONING + generation.REASONING_JSON[token_index] + b"}"
        else:
            delta = _call_delta(self._call, index)  # type: ignore[arg-type]
        return self._heads[choice] + delta + _NULL_TAIL

    def finish(self, choice: int, reason: str) -> bytes:
        middle = _CHAT_FINISH if self._chat else _TEXT_FINISH
        return self._heads[choice] + middle + reason.encode() + _FINISH_TAIL

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        reasoning = self._reasoning * len(self._heads)
        counts = usage(prompt_tokens, completion_tokens, reasoning)
        return self._usage_head + orjson.dumps(counts) + b"}\n\n"


def _call_delta(call: ToolCall, index: int) -> bytes:
    """Delta ``index`` of a streamed tool call: the call itself, then its fragments."""
    if index == 0:
        first = {"index": 0, "id": call_id(TOOL_CALL_PREFIX), "type": "function",
                 "function": {"name": call.name}}  # fmt: skip
        return b',"delta":{"tool_calls":[' + orjson.dumps(first) + b"]}"
    return _CHAT_ARGUMENTS + orjson.dumps(call.fragments[index - 1]) + b"}}]}"
