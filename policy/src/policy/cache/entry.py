"""What a cache entry holds, and which answers may become one.

Only complete, successful answers are stored: a whole answer with status 200 that is
not an error (and, for the Responses API, whose status is ``completed`` or
``incomplete``), or a stream that reached its API's end (``[DONE]``,
``response.completed``/``response.incomplete``, ``message_stop``) with no error event
on the way. An answer that calls tools is stored only when the plan allows it
(``cache.tool_calls``). Anything that breaks these rules, or outgrows the entry size
cap, is simply not stored.

An entry is the answer as the client saw it: a whole answer's bytes (replayed as they
are, or rebuilt into a stream, :mod:`policy.cache.replay`), or a stream's events (replayed
to streams only: a stream's answer is never reassembled into a whole one). A chat or
completions stream's usage chunk is kept apart, so a hit sends it only to a caller that
asked for it (``stream_options``). A stored stream's usage says ``cost`` 0, what a hit
costs (``policy.stream_cost``), not what the stored request did.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from gateway_shared.sse import DONE, EventFramer
from gateway_shared.wire.identity import Api
from policy.stream_cost import with_cost

# The event that ends a complete stream, where it is not ``data: [DONE]``.
_STREAM_ENDS = {
    Api.RESPONSES: ("response.completed", "response.incomplete"),
    Api.MESSAGES: ("message_stop",),
}
_ANSWER_ITEMS = frozenset({"message", "reasoning"})


class Form(StrEnum):
    JSON = "json"
    SSE = "sse"


@dataclass(frozen=True, slots=True)
class Entry:
    form: Form
    content_type: str
    body: bytes
    model: str | None = None  # the catalog alias that served it: the metrics' label
    usage_event: bytes = b""  # a chat/completions stream's usage chunk, if it had one

    def encode(self) -> bytes:
        head = {"form": self.form.value, "type": self.content_type, "model": self.model}
        if self.usage_event:
            head["usage_event"] = self.usage_event.decode()
        return orjson.dumps(head) + b"\n" + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Entry | None:
        head, _, body = raw.partition(b"\n")
        try:
            fields = orjson.loads(head)
            return cls(
                Form(fields["form"]),
                str(fields["type"]),
                body,
                fields.get("model"),
                str(fields.get("usage_event", "")).encode(),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def serves(self, stream: bool) -> bool:
        """A whole answer serves both kinds of caller; a stream only streams."""
        return self.form is Form.JSON or stream


def _tooled(message: Any) -> bool:
    """A chat message (or a stream's delta) that calls a tool."""
    return isinstance(message, dict) and bool(
        message.get("tool_calls") or message.get("function_call")
    )


def _tool_item(item: Any) -> bool:
    """A Responses API output item that is not the answer itself (a call of some tool)."""
    return isinstance(item, dict) and item.get("type") not in _ANSWER_ITEMS


def _tool_block(block: Any) -> bool:
    """A Messages API content block that calls a tool (``tool_use``, ``server_tool_use``)."""
    return isinstance(block, dict) and str(block.get("type", "")).endswith("tool_use")


def _choices(payload: dict[str, Any], part: str) -> list[Any]:
    return [c.get(part) for c in payload.get("choices") or () if isinstance(c, dict)]


def _calls_tools(api: Api, answer: dict[str, Any]) -> bool:
    if api is Api.CHAT:
        return any(map(_tooled, _choices(answer, "message")))
    if api is Api.RESPONSES:
        return any(map(_tool_item, answer.get("output") or ()))
    if api is Api.MESSAGES:
        return any(map(_tool_block, answer.get("content") or ()))
    return False


def storable_answer(api: Api, status: int, content: bytes, *, tool_calls: bool) -> bool:
    """A whole answer the cache may keep."""
    if status != 200:
        return False
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(answer, dict) or answer.get("error") is not None:
        return False
    if api is Api.RESPONSES and answer.get("status") not in ("completed", "incomplete"):
        return False
    return tool_calls or not _calls_tools(api, answer)


def _is_usage_chunk(api: Api, payload: dict[str, Any]) -> bool:
    return (
        api in (Api.CHAT, Api.COMPLETIONS)
        and payload.get("choices") == []
        and payload.get("usage") is not None
    )


def _event_calls_tools(api: Api, payload: dict[str, Any]) -> bool:
    if api is Api.CHAT:
        return any(map(_tooled, _choices(payload, "delta")))
    if api is Api.RESPONSES and payload.get("type") == "response.output_item.added":
        return _tool_item(payload.get("item"))
    if api is Api.MESSAGES and payload.get("type") == "content_block_start":
        return _tool_block(payload.get("content_block"))
    return False


def _data(event: bytes) -> bytes | None:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            return line[5:].strip()
    return None


class StreamRecorder:
    """Watches the events a client is sent and keeps them while they may be stored."""

    def __init__(self, api: Api, *, tool_calls: bool, max_bytes: int) -> None:
        self._api = api
        self._tool_calls = tool_calls
        self._max_bytes = max_bytes
        self._framer = EventFramer()
        self._events: list[bytes] = []
        self._size = 0
        self._usage_event = b""
        self._ended = False
        self._spoiled = False  # an error, a tool call not allowed, or too big

    def feed(self, chunk: bytes) -> None:
        if self._spoiled:
            return
        for event in self._framer.feed(chunk):
            self._take(event)

    def _take(self, event: bytes) -> None:
        data = _data(event)
        if data is None:  # a comment
            return
        if self._ended:
            self._spoiled = True
            return
        event = with_cost(self._api, event, 0)
        if data == DONE[6:].strip():
            self._ended = True
        else:
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                self._spoiled = True
                return
            if not isinstance(payload, dict) or self._judge(payload, event):
                return
        self._size += len(event)
        if self._size > self._max_bytes:
            self._spoiled = True
            return
        self._events.append(event)

    def _judge(self, payload: dict[str, Any], event: bytes) -> bool:
        """Marks what the event says of the answer; True when it is kept out of the body."""
        kind = payload.get("type")
        if payload.get("error") is not None or kind in ("error", "response.failed"):
            self._spoiled = True
            return True
        if _is_usage_chunk(self._api, payload):
            self._usage_event = event
            return True
        if not self._tool_calls and _event_calls_tools(self._api, payload):
            self._spoiled = True
        self._ended = self._ended or kind in _STREAM_ENDS.get(self._api, ())
        return False

    def entry(self, content_type: str, model: str | None) -> Entry | None:
        """The stream as an entry, if it ended complete and may be stored."""
        if self._spoiled or not self._ended or self._framer.pending:
            return None
        return Entry(Form.SSE, content_type, b"".join(self._events), model, self._usage_event)
