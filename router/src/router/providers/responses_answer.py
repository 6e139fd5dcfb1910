"""Translating chat completion answers, whole and streamed, to OpenAI's Responses API.

Pure functions and one stream translator, no I/O: deployments that speak only chat
completions answer ``POST /v1/responses`` through them, the request translated by
:mod:`router.providers.responses_request`.

Answers (:func:`response_object`, :class:`ResponsesEvents`), in output order:

- the reasoning text (``reasoning`` or ``reasoning_content``, the first present) -> a
  ``reasoning`` item with one ``reasoning_text`` content part (summary ``[]``);
- content and refusal -> a ``message`` item with ``output_text`` (annotations ``[]``,
  logprobs mapped from chat's when asked, else ``[]``) and ``refusal`` parts; content
  that is only whitespace in an answer that calls tools is dropped (chat templates leave
  newlines around tool calls);
- each tool call -> a ``function_call`` item (``call_id`` = the chat tool call's id);
- item ids derive from the response id: ``msg_/fc_/rs_<id suffix>_<output index>``;
- finish ``length`` -> status ``incomplete`` (``max_output_tokens``), ``content_filter``
  -> ``incomplete`` (``content_filter``), the last item ``incomplete`` too; otherwise
  ``completed``;
- the response echoes the request: ``instructions``, ``model`` (as the client sent it),
  ``tools`` (function tools with ``strict``/``parameters`` null when absent),
  ``tool_choice`` (default ``auto``), ``parallel_tool_calls`` (default true),
  ``temperature``/``top_p`` (null when not sent: the deployment's defaults applied,
  unknown here), ``max_output_tokens``, ``metadata`` (default ``{}``), ``text``,
  ``reasoning``, ``user``/``safety_identifier``/``prompt_cache_key``/``top_logprobs``
  when sent; and ``store: false``, ``truncation: "disabled"``, ``background: false``.
  ``usage`` and ``user`` are left out rather than null (the schema forbids null).

Streams: every event is ``event: <type>\\ndata: <json>\\n\\n`` with ``sequence_number``
0, 1, 2... Items are sequential: an item is closed (its done events, then
``output_item.done``) before the next opens, and opened (``output_item.added``) before
its first delta; a message part gets ``content_part.added``/``.done`` around its deltas.
Whitespace-only content with no message open is held until real content follows, and
at the end becomes a message only if no tool was called. A tool call delta for a call
whose item was already closed is a provider fault (``ProviderUnavailable``), as are
unreadable or error events. ``finish`` closes what is open and sends
``response.completed`` (or ``response.incomplete``) whose ``output`` is every item as
``output_item.done`` carried it; ``fail`` closes nothing and sends ``response.failed``
with ``error`` {code, message} (OpenAI's schema lists the codes it knows, such as
``server_error``; the code is passed as given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from router.providers.base import Usage
from router.providers.errors import ProviderUnavailable
from router.providers.responses_request import namespaced_tools

_REASONING = ("reasoning", "reasoning_content")
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def responses_usage(usage: Usage) -> dict[str, Any]:
    """The Responses API ``usage`` object for the gateway's usage."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _echo_tools(tools: Any) -> list[Any]:
    return [
        {**tool, "parameters": tool.get("parameters"), "strict": tool.get("strict")}
        if isinstance(tool, dict) and tool.get("type") == "function"
        else tool
        for tool in (tools if isinstance(tools, list) else ())
    ]


def _response(
    request: dict[str, Any],
    response_id: str,
    created_at: int,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None = None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
) -> dict[str, Any]:
    text, reasoning = _dict(request.get("text")), _dict(request.get("reasoning"))
    echoed_text: dict[str, Any] = {"format": text.get("format") or {"type": "text"}}
    if text.get("verbosity") is not None:
        echoed_text["verbosity"] = text["verbosity"]
    instructions = request.get("instructions")
    parallel = request.get("parallel_tool_calls")
    metadata = request.get("metadata")
    out: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": instructions if isinstance(instructions, str) else None,
        "max_output_tokens": request.get("max_output_tokens"),
        "model": request.get("model") if isinstance(request.get("model"), str) else "",
        "output": output,
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": request.get("temperature"),
        "text": echoed_text,
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": _echo_tools(request.get("tools")),
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "metadata": metadata if isinstance(metadata, dict) else {},
    }
    for name in ("top_logprobs", "user", "safety_identifier", "prompt_cache_key"):
        if request.get(name) is not None:
            out[name] = request[name]
    if usage is not None:
        out["usage"] = responses_usage(usage)
    return out


def _item_id(prefix: str, response_id: str, index: int) -> str:
    suffix = response_id.split("_", 1)[1] if "_" in response_id else response_id
    return f"{prefix}_{suffix}_{index}"


def _top(entry: dict[str, Any], *, with_bytes: bool) -> dict[str, Any]:
    token = str(entry.get("token") or "")
    out: dict[str, Any] = {"token": token, "logprob": float(entry.get("logprob") or 0.0)}
    if with_bytes:
        raw = entry.get("bytes")
        out["bytes"] = raw if isinstance(raw, list) else list(token.encode())
    return out


def _logprobs(entries: list[Any], *, with_bytes: bool) -> list[dict[str, Any]]:
    """Chat log probabilities as the Responses API has them: in an ``output_text`` part
    (``LogProb``, with bytes) or in a delta event (``ResponseLogProb``, without)."""
    return [
        {
            **_top(entry, with_bytes=with_bytes),
            "top_logprobs": [
                _top(top, with_bytes=with_bytes)
                for top in entry.get("top_logprobs") or ()
                if isinstance(top, dict)
            ],
        }
        for entry in entries
        if isinstance(entry, dict)
    ]


def _reasoning_text(message: dict[str, Any]) -> str:
    return next(
        (message[n] for n in _REASONING if isinstance(message.get(n), str) and message[n]), ""
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def response_object(
    chat: dict[str, Any], request: dict[str, Any], *, response_id: str, usage: Usage
) -> dict[str, Any]:
    """The Responses API ``response`` object for a whole ``chat.completion`` answer.

    The answer goes through :class:`ResponsesEvents` as a one-chunk stream (its message
    as the delta), so whole and streamed answers map the same way by construction.
    """
    choices = chat.get("choices")
    choice = _dict(choices[0]) if isinstance(choices, list) and choices else {}
    message = _dict(choice.get("message"))
    delta = {k: v for k, v in message.items() if k != "tool_calls"}
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    delta["tool_calls"] = [{**c, "index": i} for i, c in enumerate(calls)]
    chunk = {"choices": [{**choice, "index": 0, "delta": delta}]}
    created = chat.get("created")
    events = ResponsesEvents(request, response_id, created if isinstance(created, int) else 0)
    events.feed(b"data: " + orjson.dumps(chunk))
    events.finish(usage)
    return events.response(usage)


# --- streams ------------------------------------------------------------------------


@dataclass
class _Part:
    type: str  # output_text | refusal
    text: list[str] = field(default_factory=list)
    logprobs: list[Any] = field(default_factory=list)  # chat's entries

    def json(self) -> dict[str, Any]:
        text = "".join(self.text)
        if self.type == "refusal":
            return {"type": "refusal", "refusal": text}
        logprobs = _logprobs(self.logprobs, with_bytes=True)
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs}


@dataclass
class _Item:
    kind: str  # message | function_call | reasoning
    index: int
    id: str
    parts: list[_Part] = field(default_factory=list)  # a message's
    part_open: bool = False
    text: list[str] = field(default_factory=list)  # reasoning text, call arguments
    tool_index: int | None = None
    call_id: str = ""
    name: str = ""

    def json(self, status: str, namespaced: dict[str, tuple[str, str]]) -> dict[str, Any]:
        started = status == "in_progress"
        if self.kind == "function_call":
            item = {
                "id": self.id,
                "type": "function_call",
                "status": status,
                "arguments": "".join(self.text),
                "call_id": self.call_id,
                "name": self.name,
            }
            if self.name in namespaced:
                item["namespace"], item["name"] = namespaced[self.name]
            return item
        if self.kind == "reasoning":
            content = [] if started else [{"type": "reasoning_text", "text": "".join(self.text)}]
            return {
                "id": self.id,
                "type": "reasoning",
                "status": status,
                "summary": [],
                "content": content,
            }
        parts = [] if started else [p.json() for p in self.parts]
        return {
            "id": self.id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": parts,
        }


_PREFIXES = {"message": "msg", "function_call": "fc", "reasoning": "rs"}


class ResponsesEvents:
    """Chat completion chunk events (OpenAI SSE ``data: {...}`` bytes, one whole event per
    call) in, Responses API SSE events out, with ``sequence_number`` 0, 1, 2...

    Lifecycle: :meth:`start` once; :meth:`feed` per chat event; then :meth:`finish` (the
    answer ended, with or without a finish reason) or :meth:`fail` (it broke); after
    either, every call returns nothing. :meth:`response` is the final response object,
    as the last event carries it. Feeding raises ``ProviderUnavailable`` for a provider
    fault (unreadable or error event, tool call deltas out of order).
    """

    def __init__(self, request: dict[str, Any], response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self._namespaced = namespaced_tools(request.get("tools"))
        self._sequence = 0
        self._done: list[dict[str, Any]] = []
        self._open: _Item | None = None
        self._tool_indexes: set[int] = set()
        # Whitespace-only content (text, logprobs) waiting for a message.
        self._held: list[tuple[str, list[Any]]] = []
        self._finish_reason: str | None = None
        self._error: dict[str, Any] | None = None
        self._ended = False

    def response(self, usage: Usage | None) -> dict[str, Any]:
        """The response as it stands: final once :meth:`finish` or :meth:`fail` ran."""
        incomplete = _INCOMPLETE.get(self._finish_reason or "")
        status = "incomplete" if incomplete else "completed"
        if self._error is not None:
            status, incomplete, usage = "failed", None, None
        return _response(
            self._request,
            self._id,
            self._created_at,
            status=status,
            output=list(self._done),
            usage=usage,
            error=self._error,
            incomplete=incomplete,
        )

    def start(self) -> list[bytes]:
        response = _response(
            self._request, self._id, self._created_at, status="in_progress", output=[]
        )
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, event: bytes) -> list[bytes]:
        data = next((line[5:] for line in event.split(b"\n") if line.startswith(b"data:")), None)
        if self._ended or data is None or data.strip() == b"[DONE]":
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        if not isinstance(payload, dict):
            return []
        if payload.get("error") is not None:
            raise ProviderUnavailable("The model provider reported an error in its stream.")
        out: list[bytes] = []
        for choice in payload.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            logprobs = _dict(choice.get("logprobs")).get("content")
            self._delta(_dict(choice.get("delta")), logprobs or [], out)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def finish(self, usage: Usage) -> list[bytes]:
        if self._ended:
            return []
        out: list[bytes] = []
        if self._held and not self._tool_indexes:
            self._content(self._held, out)
        self._held = []
        incomplete = _INCOMPLETE.get(self._finish_reason or "")
        self._close("incomplete" if incomplete else "completed", out)
        self._ended = True
        kind = "response.incomplete" if incomplete else "response.completed"
        return [*out, self._event(kind, response=self.response(usage))]

    def fail(self, code: str, message: str) -> list[bytes]:
        if self._ended:
            return []
        self._ended = True
        self._open = None
        self._error = {"code": code, "message": message}
        return [self._event("response.failed", response=self.response(None))]

    # Every method below appends its events to ``out``.

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _on(self, item: _Item, kind: str, out: list[bytes], **fields: Any) -> None:
        """An event about an item (and its current part, for a message)."""
        where: dict[str, Any] = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            where["content_index"] = len(item.parts) - 1
        out.append(self._event(kind, **where, **fields))

    def _delta(self, delta: dict[str, Any], logprobs: list[Any], out: list[bytes]) -> None:
        reasoning = _reasoning_text(delta)
        if reasoning:
            item = self._open
            if item is None or item.kind != "reasoning":
                item = self._add("reasoning", out)
            item.text.append(reasoning)
            self._on(item, "response.reasoning_text.delta", out, content_index=0, delta=reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            if content.strip() or (self._open is not None and self._open.kind == "message"):
                self._content([*self._held, (content, logprobs)], out)
                self._held = []
            else:
                self._held.append((content, logprobs))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._part(self._message(out), "refusal", refusal, [], out)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(call, out)

    def _add(self, kind: str, out: list[bytes], **fields: Any) -> _Item:
        self._close("completed", out)
        index = len(self._done)
        item = self._open = _Item(kind, index, _item_id(_PREFIXES[kind], self._id, index), **fields)
        skeleton = item.json("in_progress", self._namespaced)
        out.append(self._event("response.output_item.added", output_index=index, item=skeleton))
        return item

    def _message(self, out: list[bytes]) -> _Item:
        if self._open is not None and self._open.kind == "message":
            return self._open
        return self._add("message", out)

    def _content(self, pieces: list[tuple[str, list[Any]]], out: list[bytes]) -> None:
        item = self._message(out)
        for text, logprobs in pieces:
            self._part(item, "output_text", text, logprobs, out)

    def _tool_call(self, call: dict[str, Any], out: list[bytes]) -> None:
        index = call.get("index", 0)
        function = _dict(call.get("function"))
        item = self._open
        if item is None or item.kind != "function_call" or item.tool_index != index:
            if index in self._tool_indexes:
                raise ProviderUnavailable("The model provider streamed tool calls out of order.")
            self._tool_indexes.add(index)
            call_id = call.get("id") or _item_id("call", self._id, len(self._done))
            name = function.get("name") or ""
            item = self._add("function_call", out, tool_index=index, call_id=call_id, name=name)
        else:
            item.name += function.get("name") or ""
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.text.append(arguments)
            self._on(item, "response.function_call_arguments.delta", out, delta=arguments)

    def _part(
        self, item: _Item, kind: str, text: str, logprobs: list[Any], out: list[bytes]
    ) -> None:
        if not item.part_open or item.parts[-1].type != kind:
            self._close_part(item, out)
            item.parts.append(_Part(kind))
            item.part_open = True
            self._on(item, "response.content_part.added", out, part=_Part(kind).json())
        part = item.parts[-1]
        part.text.append(text)
        if kind == "refusal":
            self._on(item, "response.refusal.delta", out, delta=text)
        else:
            part.logprobs += logprobs
            delta_logprobs = _logprobs(logprobs, with_bytes=False)
            self._on(item, "response.output_text.delta", out, delta=text, logprobs=delta_logprobs)

    def _close_part(self, item: _Item, out: list[bytes]) -> None:
        if not item.part_open:
            return
        item.part_open = False
        part = item.parts[-1]
        if part.type == "refusal":
            self._on(item, "response.refusal.done", out, refusal="".join(part.text))
        else:
            logprobs = _logprobs(part.logprobs, with_bytes=False)
            self._on(
                item, "response.output_text.done", out, text="".join(part.text), logprobs=logprobs
            )
        self._on(item, "response.content_part.done", out, part=part.json())

    def _close(self, status: str, out: list[bytes]) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        done = item.json(status, self._namespaced)
        if item.kind == "message":
            self._close_part(item, out)
        elif item.kind == "reasoning":
            text = "".join(item.text)
            self._on(item, "response.reasoning_text.done", out, content_index=0, text=text)
        else:
            self._on(
                item,
                "response.function_call_arguments.done",
                out,
                name=done["name"],
                arguments=done["arguments"],
            )
        self._done.append(done)
        out.append(self._event("response.output_item.done", output_index=item.index, item=done))
