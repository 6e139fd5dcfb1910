"""A whole answer from the stream of its chunks: what the router sends a client that did
not ask for a stream, after reading the provider's answer as one.

Reading every answer as a stream lets the first-token timeout, failover before the first
token and the provider's exact usage apply to non-streamed requests too (a replica that
accepts a request and hangs costs one first-token timeout, not the whole ``total``).
The chunks are OpenAI's format (the adapters translate theirs first); the assembled
answer is OpenAI's ``chat.completion`` or ``text_completion`` object:

- each choice (by ``index``): the role, the content and refusal concatenated, the tool
  calls merged by their ``index`` (id, type, name, arguments concatenated), a
  reasoning text (vLLM's ``reasoning`` or older ``reasoning_content``) concatenated
  under the name the provider used, the last ``finish_reason`` (``stop`` if the stream
  gave none), and the log probabilities concatenated when they were asked for;
- ``id``, ``created``, ``model``, ``system_fingerprint`` and ``service_tier`` as the
  chunks carry them; ``usage`` from the usage chunk, else the adapter's count.

A Responses API stream (a deployment that serves it natively) needs no assembly: its
last event carries the whole ``response`` (:class:`FinalResponse`). A Messages API
stream's blocks are put together into its ``message`` (:class:`FinalMessage`).

What cannot equal the provider's own non-streamed answer: ``id`` and ``created`` are the
stream's (a provider gives every request its own), and fields only a non-streamed answer
has are absent (docs/router.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from gateway_shared.sse import DONE, EventFramer
from router.providers.base import Operation, Usage
from router.providers.errors import ProviderUnavailable

_REASONING = ("reasoning", "reasoning_content")
# Answer-level fields, each as its first chunk carries it.
_HEAD = ("id", "created", "model", "system_fingerprint", "service_tier")


@dataclass
class _ToolCall:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def take(self, delta: dict[str, Any]) -> None:
        if delta.get("id"):
            self.id = delta["id"]
        if delta.get("type"):
            self.type = delta["type"]
        function = delta.get("function")
        if isinstance(function, dict):
            if function.get("name"):
                self.name += function["name"]
            if function.get("arguments"):
                self.arguments.append(function["arguments"])

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": "".join(self.arguments)},
        }


@dataclass
class _Choice:
    index: int
    role: str = "assistant"
    text: list[str] = field(default_factory=list)
    refusal: list[str] | None = None
    reasoning: dict[str, list[str]] = field(default_factory=dict)
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    # Chat: {"content": [...], "refusal": [...]}; completions: {"tokens": [...], ...}.
    logprobs: dict[str, list[Any]] | None = None

    def take_logprobs(self, logprobs: Any) -> None:
        if not isinstance(logprobs, dict):
            return
        merged = self.logprobs if self.logprobs is not None else {}
        self.logprobs = merged
        for name, values in logprobs.items():
            if isinstance(values, list):
                merged.setdefault(name, []).extend(values)

    def take_delta(self, delta: dict[str, Any]) -> None:
        if delta.get("role"):
            self.role = delta["role"]
        if delta.get("content"):
            self.text.append(delta["content"])
        if delta.get("refusal"):
            self.refusal = [*(self.refusal or []), delta["refusal"]]
        for name in _REASONING:
            if delta.get(name):
                self.reasoning.setdefault(name, []).append(delta[name])
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                index = call.get("index", len(self.tool_calls))
                self.tool_calls.setdefault(index, _ToolCall()).take(call)

    def chat(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role,
            "content": "".join(self.text) if self.text or not self.tool_calls else None,
            "refusal": "".join(self.refusal) if self.refusal is not None else None,
        }
        for name, parts in self.reasoning.items():
            message[name] = "".join(parts)
        if self.tool_calls:
            message["tool_calls"] = [c.answer() for _, c in sorted(self.tool_calls.items())]
        logprobs = None
        if self.logprobs is not None:
            logprobs = {
                "content": self.logprobs.get("content"),
                "refusal": self.logprobs.get("refusal"),
            }
        return {
            "index": self.index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": self.finish_reason or "stop",
        }

    def completion(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "text": "".join(self.text),
            "logprobs": self.logprobs,
            "finish_reason": self.finish_reason or "stop",
        }


class WholeAnswer(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def answer(self, usage: Usage) -> dict[str, Any]: ...


def assembler_for(operation: Operation) -> WholeAnswer:
    if operation is Operation.RESPONSES:
        return FinalResponse()
    if operation is Operation.MESSAGES:
        return FinalMessage()
    return Assembler(operation)


class FinalResponse:
    """A Responses API stream's whole answer: the ``response`` its last event carries
    (``response.completed``, or ``response.incomplete``)."""

    def __init__(self) -> None:
        self._framer = EventFramer()
        self._response: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        for event in self._framer.feed(chunk):
            data = next((ln[5:] for ln in event.split(b"\n") if ln.startswith(b"data:")), None)
            if data is None or b'"response.' not in data:
                continue
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise ProviderUnavailable(
                    "The model provider sent an unreadable stream event."
                ) from None
            if isinstance(payload, dict) and payload.get("type") in _FINAL_EVENTS:
                self._response = payload.get("response")

    def answer(self, usage: Usage) -> dict[str, Any]:
        if not isinstance(self._response, dict):
            raise ProviderUnavailable("The model provider's stream ended without its response.")
        return self._response


_FINAL_EVENTS = ("response.completed", "response.incomplete")


class FinalMessage:
    """A Messages API stream's whole answer: the ``message`` of ``message_start`` with
    each content block built from its deltas (text, tool input JSON, thinking and its
    signature), and ``message_delta``'s stop reason and (cumulative) usage."""

    def __init__(self) -> None:
        self._framer = EventFramer()
        self._message: dict[str, Any] | None = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, list[str]] = {}

    def feed(self, chunk: bytes) -> None:
        for event in self._framer.feed(chunk):
            data = next((ln[5:] for ln in event.split(b"\n") if ln.startswith(b"data:")), None)
            if data is None:
                continue
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise ProviderUnavailable(
                    "The model provider sent an unreadable stream event."
                ) from None
            if isinstance(payload, dict):
                self._take(payload)

    def _take(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        index = payload.get("index", 0)
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            self._message = dict(payload["message"])
        elif kind == "content_block_start" and isinstance(payload.get("content_block"), dict):
            self._blocks[index] = dict(payload["content_block"])
        elif kind == "content_block_delta" and isinstance(payload.get("delta"), dict):
            self._delta(self._blocks.setdefault(index, {"type": "text", "text": ""}), index,
                        payload["delta"])  # fmt: skip
        elif kind == "message_delta" and self._message is not None:
            self._message |= payload.get("delta") or {}
            self._message["usage"] = {**(self._message.get("usage") or {}),
                                      **(payload.get("usage") or {})}  # fmt: skip

    def _delta(self, block: dict[str, Any], index: int, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(delta.get("partial_json", ""))
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature", "")

    def answer(self, usage: Usage) -> dict[str, Any]:
        if self._message is None:
            raise ProviderUnavailable("The model provider's stream ended without its message.")
        for index, parts in self._json.items():
            text = "".join(parts)
            try:
                self._blocks[index]["input"] = orjson.loads(text) if text else {}
            except orjson.JSONDecodeError:
                raise ProviderUnavailable(
                    "The model provider sent unreadable tool input."
                ) from None
        return {**self._message, "content": [self._blocks[i] for i in sorted(self._blocks)]}


class Assembler:
    """Feeds on an answer's OpenAI-format SSE bytes; :meth:`answer` is the whole of it."""

    def __init__(self, operation: Operation) -> None:
        self._chat = operation is Operation.CHAT
        self._framer = EventFramer()
        self._head: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        for event in self._framer.feed(chunk):
            if event == DONE or not event.startswith(b"data:"):
                continue
            try:
                payload = orjson.loads(event[5:])
            except orjson.JSONDecodeError:
                raise ProviderUnavailable(
                    "The model provider sent an unreadable stream event."
                ) from None
            if isinstance(payload, dict):
                self._take(payload)

    def _take(self, payload: dict[str, Any]) -> None:
        for name in _HEAD:
            if name not in self._head and payload.get(name) is not None:
                self._head[name] = payload[name]
        if isinstance(payload.get("usage"), dict):
            self._usage = payload["usage"]
        for raw in payload.get("choices") or ():
            if not isinstance(raw, dict):
                continue
            index = raw.get("index", 0)
            choice = self._choices.get(index)
            if choice is None:
                choice = self._choices[index] = _Choice(index if isinstance(index, int) else 0)
            if isinstance(raw.get("delta"), dict):
                choice.take_delta(raw["delta"])
            if isinstance(raw.get("text"), str) and raw["text"]:
                choice.text.append(raw["text"])
            choice.take_logprobs(raw.get("logprobs"))
            if raw.get("finish_reason"):
                choice.finish_reason = raw["finish_reason"]

    def answer(self, usage: Usage) -> dict[str, Any]:
        """The whole answer; ``usage``: the adapter's count, if no usage chunk came."""
        choices = [self._choices[i] for i in sorted(self._choices)] or [_Choice(0)]
        body: dict[str, Any] = {
            "id": self._head.get("id", ""),
            "object": "chat.completion" if self._chat else "text_completion",
            "created": self._head.get("created", 0),
            "model": self._head.get("model", ""),
            "choices": [c.chat() if self._chat else c.completion() for c in choices],
        }
        for name in ("system_fingerprint", "service_tier"):
            if name in self._head:
                body[name] = self._head[name]
        body["usage"] = self._usage or {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        }
        return body
