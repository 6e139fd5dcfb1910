"""Translating OpenAI chat completion answers, whole and streamed, to Anthropic's Messages API.

For the deployments that serve ``/v1/messages`` through chat completions (the request
translated by :mod:`router.providers.messages_request`): the answer becomes Anthropic's
``message`` or its stream events. Pure data in, data out, no I/O.

Answer (:func:`message_object`, :class:`MessagesEvents`), whole and streamed alike:

- Blocks, in this order: the reasoning text (``reasoning`` or ``reasoning_content``) -> a
  ``thinking`` block with ``signature: ""`` (the SDK's type requires the field; no chat
  backend signs), only when the request enabled thinking (``enabled`` or ``adaptive``):
  clients that did not ask read ``content[0].text``. Content (and a ``refusal`` text) ->
  a ``text`` block. Each tool call -> a ``tool_use`` block, named as the call's first
  delta names it (OpenAI and vLLM send the whole name there): ``id`` the call's (any
  character outside ``[A-Za-z0-9_-]``, which Anthropic refuses in ids, becomes ``_``) or
  ``toolu_<message>_<n>``; ``input`` the parsed arguments, ``{}`` if empty, and
  ``{"_raw": "<arguments>"}`` if they are not a JSON object (the client's schema check
  then tells the model). A stream passes argument fragments on as they come, so there
  arguments that are not JSON reach the client as sent (its SDK fails on them).
- ``stop_reason``: ``max_tokens`` for ``length`` (also when cut inside a tool call, as
  Anthropic reports it); ``refusal`` for ``content_filter``; ``tool_use`` whenever a tool
  call came, whatever the finish reason said (backends say ``stop``: Bifrost #3638,
  LiteLLM #34692); ``stop_sequence``, with ``stop_sequence`` set, when the backend names
  the stop string that matched (vLLM's ``stop_reason``) and it is one of the request's;
  otherwise ``end_turn``. Nothing unknown becomes ``max_tokens``: Claude Code answers that
  with three "resume" retries and an error.
- ``usage`` (:func:`messages_usage`): ``input_tokens`` = prompt - cached,
  ``cache_read_input_tokens`` = cached, ``cache_creation_input_tokens`` 0 (chat backends
  report no cache writes), ``output_tokens`` = completion (reasoning included);
  ``output_tokens_details.thinking_tokens`` when the backend counted reasoning tokens.
- ``model``: the request's (the name the client asked for, as Anthropic echoes it).

Stream events: ``message_start`` (content ``[]``, stop fields null, ``input_tokens`` =
the prompt estimate, ``output_tokens`` 1 as Anthropic sends), one ``ping``, then the
blocks strictly one after another - ``content_block_start`` (index 0, 1, ...), its
deltas (``thinking_delta``, ``text_delta``, ``input_json_delta``), ``content_block_stop``
- a new block whenever the kind of delta changes or a new tool call starts (a new chat
tool ``index``, or a new ``id``); then ``message_delta`` (stop reason, stop sequence,
cumulative usage) and ``message_stop``. Every block opened is closed exactly once. A tool
call resumed after another one began cannot be expressed (blocks do not interleave): the
stream fails, which Claude Code answers with a retry and, at last, a whole answer.
Chat's ``data: [DONE]``, usage-only chunks, choices other than 0 and SSE comments
produce nothing; an unreadable event or an error event raises
:class:`~router.providers.errors.ProviderUnavailable` (the caller then ends the stream
with :meth:`MessagesEvents.fail`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from router.providers.base import Usage
from router.providers.errors import ProviderUnavailable
from router.providers.messages_request import as_object, text_part

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def messages_usage(usage: Usage) -> dict[str, Any]:
    """{input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens: 0}"""
    cached = min(max(usage.cached_tokens, 0), usage.prompt_tokens)
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens - cached,
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }
    if usage.reasoning_tokens > 0:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def _thinking_wanted(request: dict[str, Any]) -> bool:
    thinking = request.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _model(request: dict[str, Any], chat: dict[str, Any]) -> str:
    model = request.get("model")
    return model if isinstance(model, str) else str(chat.get("model") or "")


def _stop(
    finish: Any, matched: Any, tool_calls: bool, request: dict[str, Any]
) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for how a chat answer ended."""
    if finish == "length":
        return "max_tokens", None
    if finish == "content_filter":
        return "refusal", None
    if tool_calls:
        return "tool_use", None
    stops = request.get("stop_sequences")
    if isinstance(matched, str) and isinstance(stops, list) and matched in stops:
        return "stop_sequence", matched
    return "end_turn", None


def _tool_id(raw: Any, message_id: str, n: int) -> str:
    if isinstance(raw, str) and raw:
        return _NOT_ID.sub("_", raw)
    return f"toolu_{_NOT_ID.sub('_', message_id.removeprefix('msg_'))}_{n}"


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def text_of(value: Any) -> str:
    """The text of a content value: a string, or its parts' (chat) or blocks' (Anthropic)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def message_object(
    chat: dict[str, Any], request: dict[str, Any], *, message_id: str, usage: Usage
) -> dict[str, Any]:
    """Anthropic's `message` object for a whole `chat.completion` answer (OpenAI shape, as
    the router assembles it; the message may carry `reasoning`/`reasoning_content`)."""
    choices = chat.get("choices")
    choice = as_object(choices[0] if isinstance(choices, list) and choices else None)
    message = as_object(choice.get("message"))
    content: list[dict[str, Any]] = []
    reasoning = text_of(message.get("reasoning") or message.get("reasoning_content"))
    if reasoning and _thinking_wanted(request):
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text := text_of(message.get("content")) + text_of(message.get("refusal")):
        content.append(text_part(text))
    calls = message.get("tool_calls")
    calls = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    for n, call in enumerate(calls):
        function = as_object(call.get("function"))
        content.append(
            {
                "type": "tool_use",
                "id": _tool_id(call.get("id"), message_id, n),
                "name": str(function.get("name") or ""),
                "input": _tool_input(function.get("arguments")),
            }
        )
    reason, sequence = _stop(
        choice.get("finish_reason"), choice.get("stop_reason"), bool(calls), request
    )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": _model(request, chat),
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": messages_usage(usage),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _data(event: bytes) -> bytes | None:
    lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


@dataclass(slots=True)
class _Block:
    kind: str  # "thinking" | "text" | "tool_use"
    index: int
    tool: int | None = None  # the chat tool call's index
    call_id: str | None = None  # the chat tool call's id, as the backend sent it


class MessagesEvents:
    """Chat completion chunk events (OpenAI SSE `data: {...}` bytes, one whole event per
    call) in, Anthropic SSE events out (`event: <type>\\ndata: <json>\\n\\n`).

    Call :meth:`start` once first, :meth:`feed` with each chat event, then exactly one of
    :meth:`finish` (the stream ended) or :meth:`fail` (it broke); after either, every call
    returns nothing.
    """

    def __init__(self, request: dict[str, Any], message_id: str, prompt_tokens: int) -> None:
        self._request = request
        self._id = message_id
        self._prompt_tokens = prompt_tokens
        self._thinking = _thinking_wanted(request)
        self._open: _Block | None = None
        self._blocks = 0
        self._tool_calls = 0
        # Chat tool call indexes and ids already given a block.
        self._tool_indexes: set[int] = set()
        self._tool_ids: set[str] = set()
        self._finish: Any = None
        self._matched: Any = None
        self._done = False

    def start(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": _model(self._request, {}),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        return [
            _event("message_start", {"type": "message_start", "message": message}),
            _event("ping", {"type": "ping"}),
        ]

    def feed(self, event: bytes) -> list[bytes]:
        data = _data(event)
        if self._done or data is None or data.strip() == b"[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        if not isinstance(payload, dict):
            return []
        choices = payload.get("choices")
        if "error" in payload and not choices:
            raise ProviderUnavailable("The model provider reported an error in its stream.")
        out: list[bytes] = []
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def finish(self, usage: Usage) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out = self._close()
        reason, sequence = _stop(self._finish, self._matched, self._tool_calls > 0, self._request)
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        out.append(
            _event(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": messages_usage(usage)},
            )
        )
        out.append(_event("message_stop", {"type": "message_stop"}))
        return out

    def fail(self, error_type: str, message: str) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        error = {"type": "error", "error": {"type": error_type, "message": message}}
        return [_event("error", error)]

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = as_object(choice.get("delta"))
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if self._thinking and isinstance(reasoning, str) and reasoning:
            out.extend(self._delta("thinking", {"type": "thinking_delta", "thinking": reasoning}))
        for key in ("content", "refusal"):
            if isinstance(text := delta.get(key), str) and text:
                out.extend(self._delta("text", {"type": "text_delta", "text": text}))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out.extend(self._tool_delta(call))
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        if choice.get("stop_reason") is not None:
            self._matched = choice["stop_reason"]
        return out

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index, self._open = self._open.index, None
        return [_event("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _begin(self, block: _Block, content_block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open = block
        self._blocks += 1
        start = {
            "type": "content_block_start",
            "index": block.index,
            "content_block": content_block,
        }
        out.append(_event("content_block_start", start))
        return out

    def _emit(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )

    def _delta(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        block = self._open
        if block is None or block.kind != kind:
            block = _Block(kind, self._blocks)
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            out.extend(self._begin(block, empty if kind == "thinking" else text_part("")))
        out.append(self._emit(block.index, delta))
        return out

    def _tool_delta(self, call: dict[str, Any]) -> list[bytes]:
        index = call.get("index") if isinstance(call.get("index"), int) else None
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        function = as_object(call.get("function"))
        out: list[bytes] = []
        block = self._open
        if block is None or block.kind != "tool_use" or not _same_call(block, index, call_id):
            if call_id in self._tool_ids or (call_id is None and index in self._tool_indexes):
                raise ProviderUnavailable("The model provider interleaved its tool calls.")
            if index is not None:
                self._tool_indexes.add(index)
            if call_id is not None:
                self._tool_ids.add(call_id)
            block = _Block("tool_use", self._blocks, index, call_id)
            content_block = {
                "type": "tool_use",
                "id": _tool_id(call_id, self._id, self._tool_calls),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            self._tool_calls += 1
            out.extend(self._begin(block, content_block))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(
                self._emit(block.index, {"type": "input_json_delta", "partial_json": arguments})
            )
        return out


def _same_call(block: _Block, index: int | None, call_id: str | None) -> bool:
    """A tool call delta continues the open block: the same id where both have one, else
    the same index (or none)."""
    if call_id is not None and block.call_id is not None:
        return call_id == block.call_id
    return index is None or index == block.tool
