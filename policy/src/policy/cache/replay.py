"""A stored whole answer as the event stream of its API, for a hit that asked to stream.

Each stream is the one its API's clients parse, with the stored answer's ids, model and
usage, its text in one delta per part (a hit has nothing to wait for):

- chat completions: per choice a ``chat.completion.chunk`` with the role, content,
  refusal, reasoning and tool calls (each with its ``index``), then one with its
  ``finish_reason``; the usage chunk (``choices: []``) when the caller asked for it in
  ``stream_options``; ``data: [DONE]``;
- completions: per choice a ``text_completion`` chunk with the text, then one with the
  finish reason; the usage chunk when asked; ``data: [DONE]``;
- Responses API: ``response.created``/``in_progress`` (status ``in_progress``, no
  output), then per output item ``output_item.added`` (its skeleton), its parts and
  deltas (``content_part``/``output_text``/``refusal`` for a message,
  ``function_call_arguments`` for a call, ``reasoning_text`` for reasoning), and
  ``output_item.done`` with the stored item; at last ``response.completed`` (or
  ``incomplete``) with the stored response; ``sequence_number`` 0, 1, 2...;
- Messages API: ``message_start`` (no content, stop fields null), then per block
  ``content_block_start`` (empty), its delta (``text_delta``, ``input_json_delta``,
  ``thinking_delta`` and ``signature_delta``) and ``content_block_stop``;
  ``message_delta`` with the stop reason and usage; ``message_stop``.

A stored stream (:class:`~policy.cache.entry.Form` ``SSE``) is replayed as it was sent,
its usage chunk only to a caller that asked for one. Either way the usage says what the
hit cost: ``cost`` 0 (``policy.stream_cost``; a stored stream's was set when stored).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway_shared.sse import DONE, data_event
from gateway_shared.wire.identity import Api
from policy.cache.entry import Entry, Form
from policy.stream_cost import with_cost

_CHUNK_HEAD = ("id", "created", "model", "system_fingerprint", "service_tier")
_REASONING = ("reasoning", "reasoning_content")


def stream(entry: Entry, api: Api, *, include_usage: bool) -> bytes:
    """The whole event stream a hit answers a streaming caller with."""
    if entry.form is Form.SSE:
        if not include_usage or not entry.usage_event:
            return entry.body
        # The usage chunk goes where the provider put it: just before [DONE].
        body = entry.body.removesuffix(DONE)
        return body + entry.usage_event + DONE
    answer = orjson.loads(entry.body)
    return b"".join(with_cost(api, event, 0) for event in _BUILDERS[api](answer, include_usage))


def _chunk(answer: dict[str, Any], obj: str, choices: list[Any], **extra: Any) -> bytes:
    head = {k: answer[k] for k in _CHUNK_HEAD if answer.get(k) is not None}
    return data_event({**head, "object": obj, "choices": choices, **extra})


def _usage_chunk(answer: dict[str, Any], obj: str, include_usage: bool) -> list[bytes]:
    if include_usage and answer.get("usage") is not None:
        return [_chunk(answer, obj, [], usage=answer["usage"])]
    return []


def _chat(answer: dict[str, Any], include_usage: bool) -> list[bytes]:
    out: list[bytes] = []
    obj = "chat.completion.chunk"
    for choice in answer.get("choices") or ():
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant")}
        for name in ("content", "refusal", *_REASONING):
            if message.get(name) is not None:
                delta[name] = message[name]
        calls = message.get("tool_calls")
        if calls:
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
        first: dict[str, Any] = {"index": choice.get("index", 0), "delta": delta}
        first["logprobs"] = choice.get("logprobs")
        first["finish_reason"] = None
        out.append(_chunk(answer, obj, [first]))
        last = {"index": first["index"], "delta": {}, "finish_reason": choice["finish_reason"]}
        out.append(_chunk(answer, obj, [last]))
    return [*out, *_usage_chunk(answer, obj, include_usage), DONE]


def _completions(answer: dict[str, Any], include_usage: bool) -> list[bytes]:
    out: list[bytes] = []
    obj = "text_completion"
    for choice in answer.get("choices") or ():
        index = choice.get("index", 0)
        text = {"index": index, "text": choice.get("text", ""), "logprobs": choice.get("logprobs")}
        out.append(_chunk(answer, obj, [{**text, "finish_reason": None}]))
        last = {"index": index, "text": "", "logprobs": None}
        out.append(_chunk(answer, obj, [{**last, "finish_reason": choice["finish_reason"]}]))
    return [*out, *_usage_chunk(answer, obj, include_usage), DONE]


def _named_event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class _Sequenced:
    """Responses API events, numbered as they are made."""

    def __init__(self) -> None:
        self.events: list[bytes] = []

    def __call__(self, kind: str, **fields: Any) -> None:
        payload = {"type": kind, **fields, "sequence_number": len(self.events)}
        self.events.append(_named_event(kind, payload))


def _responses(answer: dict[str, Any], _include_usage: bool) -> list[bytes]:
    emit = _Sequenced()
    opening = {k: v for k, v in answer.items() if k != "usage"}
    opening |= {"status": "in_progress", "output": []}
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(answer.get("output") or ()):
        _response_item(emit, index, item)
    end = "response.incomplete" if answer.get("status") == "incomplete" else "response.completed"
    emit(end, response=answer)
    return emit.events


def _response_item(emit: _Sequenced, index: int, item: dict[str, Any]) -> None:
    kind, item_id = item.get("type"), item.get("id")
    where = {"item_id": item_id, "output_index": index}
    skeleton = {**item, "status": "in_progress"}
    if kind == "message":
        skeleton["content"] = []
    elif kind == "function_call":
        skeleton["arguments"] = ""
    elif kind == "reasoning":
        skeleton["content"] = []
    emit("response.output_item.added", output_index=index, item=skeleton)
    if kind == "message":
        for part_index, part in enumerate(item.get("content") or ()):
            _message_part(emit, {**where, "content_index": part_index}, part)
    elif kind == "function_call":
        arguments = item.get("arguments", "")
        emit("response.function_call_arguments.delta", **where, delta=arguments)
        emit(
            "response.function_call_arguments.done",
            **where,
            name=item.get("name"),
            arguments=arguments,
        )
    elif kind == "reasoning":
        for part_index, part in enumerate(item.get("content") or ()):
            text = part.get("text", "")
            at = {**where, "content_index": part_index}
            emit("response.reasoning_text.delta", **at, delta=text)
            emit("response.reasoning_text.done", **at, text=text)
    emit("response.output_item.done", output_index=index, item=item)


def _message_part(emit: _Sequenced, at: dict[str, Any], part: dict[str, Any]) -> None:
    if part.get("type") == "refusal":
        emit("response.content_part.added", **at, part={"type": "refusal", "refusal": ""})
        emit("response.refusal.delta", **at, delta=part.get("refusal", ""))
        emit("response.refusal.done", **at, refusal=part.get("refusal", ""))
    else:
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        logprobs = part.get("logprobs") or []
        emit("response.content_part.added", **at, part=empty)
        emit("response.output_text.delta", **at, delta=part.get("text", ""), logprobs=logprobs)
        emit("response.output_text.done", **at, text=part.get("text", ""), logprobs=logprobs)
    emit("response.content_part.done", **at, part=part)


def _messages(answer: dict[str, Any], _include_usage: bool) -> list[bytes]:
    usage = answer.get("usage") or {}
    start = {
        **answer,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    out = [_named_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(answer.get("content") or ()):
        out.extend(_block(index, block))
    delta = {"stop_reason": answer.get("stop_reason"), "stop_sequence": answer.get("stop_sequence")}
    out.append(
        _named_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
    )
    out.append(_named_event("message_stop", {"type": "message_stop"}))
    return out


def _block(index: int, block: dict[str, Any]) -> list[bytes]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        empty = {**block, "text": ""}
        deltas.append({"type": "text_delta", "text": block.get("text", "")})
    elif kind == "thinking":
        empty = {"type": "thinking", "thinking": "", "signature": ""}
        deltas.append({"type": "thinking_delta", "thinking": block.get("thinking", "")})
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        empty = {**block, "input": {}}
        partial = orjson.dumps(block.get("input", {})).decode()
        deltas.append({"type": "input_json_delta", "partial_json": partial})
    else:  # a block with no deltas of its own (redacted thinking, server tool results)
        empty = block
    start = {"type": "content_block_start", "index": index, "content_block": empty}
    out = [_named_event("content_block_start", start)]
    for delta in deltas:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        out.append(_named_event("content_block_delta", payload))
    out.append(_named_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


_BUILDERS: dict[Api, Callable[[dict[str, Any], bool], list[bytes]]] = {
    Api.CHAT: _chat,
    Api.COMPLETIONS: _completions,
    Api.RESPONSES: _responses,
    Api.MESSAGES: _messages,
}
