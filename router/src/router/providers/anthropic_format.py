"""Translating between OpenAI chat completions and Anthropic's Messages API.

Pure functions and one stream translator, no I/O: :mod:`router.providers.anthropic` uses
them on the wire. What maps:

- ``system``/``developer`` messages -> the top-level ``system`` text;
- ``user``/``assistant`` messages, text and image parts -> message content blocks;
- assistant ``tool_calls`` -> ``tool_use`` blocks, ``tool`` messages -> ``tool_result``
  blocks (in a user turn);
- ``max_completion_tokens``/``max_tokens`` (Anthropic requires one: default 4096),
  ``stop`` -> ``stop_sequences``, ``temperature`` (clamped to Anthropic's 0..1),
  ``top_p``, ``user`` -> ``metadata.user_id``, ``tools``, ``tool_choice``,
  ``parallel_tool_calls: false`` -> ``disable_parallel_tool_use``.

OpenAI sampling parameters Anthropic has no equivalent for (penalties, ``seed``,
``logprobs``...) are dropped; ``n`` > 1 and a JSON ``response_format`` (structured
output, which would silently not be honoured) are refused with a 400 naming the field.
Usage maps to
``prompt_tokens`` = input + cache-creation + cache-read tokens and ``completion_tokens``
= output tokens.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway_shared.sse import DONE, data_event
from gateway_shared.tokens import estimate_prompt_tokens
from router.providers.base import Usage
from router.providers.errors import ProviderRejected, ProviderUnavailable
from router.providers.upstream import EventTranslator

DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _rejected(message: str, param: str | None = None) -> ProviderRejected:
    return ProviderRejected(message, 400, "invalid_value", param)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise _rejected("An image_url part needs a url.", "messages")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _rejected("Message content must be a string or a list of parts.", "messages")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise _rejected(f"Content parts of type {kind!r} are not supported.", "messages")
    return blocks


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks = []
    for call in tool_calls if isinstance(tool_calls, list) else []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
        except orjson.JSONDecodeError:
            raise _rejected("Tool call arguments must be JSON.", "messages") from None
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": parsed,
            }
        )
    return blocks


def _messages(openai_messages: Any) -> tuple[str | None, list[dict[str, Any]]]:
    if not isinstance(openai_messages, list) or not openai_messages:
        raise _rejected("'messages' must be a non-empty list.", "messages")
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # Anthropic wants alternating turns: consecutive same-role messages are merged.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for message in openai_messages:
        if not isinstance(message, dict):
            raise _rejected("Each message must be an object.", "messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content")))
        elif role == "user":
            add("user", _content_blocks(message.get("content")))
        elif role == "assistant":
            blocks = _content_blocks(message.get("content"))
            add("assistant", blocks + _tool_use_blocks(message.get("tool_calls")))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text_of(message.get("content")),
            }
            add("user", [result])
        else:
            raise _rejected(f"Messages with role {role!r} are not supported.", "messages")
    return ("\n\n".join(system) if system else None), turns


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    mapped: dict[str, Any] | None
    if choice is None:
        mapped = {"type": "auto"} if parallel is False else None
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        mapped = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise _rejected("Unsupported tool_choice.", "tool_choice")
    if mapped is not None and parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


def request_body(body: dict[str, Any], model: str, *, stream: bool) -> dict[str, Any]:
    """An Anthropic Messages request for an OpenAI chat completion request."""
    if body.get("n") not in (None, 1):
        raise _rejected("This model supports only n=1.", "n")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        # Anthropic has no structured-output mode to map it to; never dropped silently.
        raise _rejected(
            "This model does not support 'response_format' (structured JSON output).",
            "response_format",
        )
    system, messages = _messages(body.get("messages"))
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    out: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if system:
        out["system"] = system
    if stream:
        out["stream"] = True
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        out["temperature"] = min(float(temperature), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    tools = body.get("tools")
    if tools:
        out["tools"] = [
            {
                "name": t["function"].get("name"),
                "description": t["function"].get("description", ""),
                "input_schema": t["function"].get("parameters") or {"type": "object"},
            }
            for t in tools
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        ]
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    return out


def usage_of(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt = sum(
        usage.get(k) or 0
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    output = usage.get("output_tokens") or 0
    if not isinstance(prompt, int) or not isinstance(output, int):
        return None
    cached = usage.get("cache_read_input_tokens") or 0
    return Usage(prompt, output, cached_tokens=cached if isinstance(cached, int) else 0)


def _openai_usage(usage: Usage, cached: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def completion_body(message: Any) -> tuple[dict[str, Any], Usage | None]:
    """An OpenAI ``chat.completion`` for an Anthropic message, and its usage."""
    if not isinstance(message, dict) or message.get("type") != "message":
        raise ProviderUnavailable("The model provider sent an unreadable answer.")
    text: list[str] = []
    tool_calls = []
    for block in message.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input", {})).decode(),
                    },
                }
            )
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text else None}
    if tool_calls:
        reply["tool_calls"] = tool_calls
    usage = usage_of(message.get("usage"))
    body: dict[str, Any] = {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(message.get("stop_reason") or "", "stop"),
            }
        ],
    }
    if usage is not None:
        cached = (message.get("usage") or {}).get("cache_read_input_tokens") or 0
        body["usage"] = _openai_usage(usage, cached)
    return body, usage


class AnthropicEvents(EventTranslator):
    """Anthropic stream events -> OpenAI ``chat.completion.chunk`` events.

    The stream counts as started at its first content delta (or its end): Anthropic sends
    ``message_start`` before the model produced anything, so it is held back with the
    rest of the preamble until the first token, and the first-token timeout means what
    it says.
    """

    def __init__(self, client_wants_usage: bool, body: dict[str, Any]) -> None:
        self._client_wants_usage = client_wants_usage
        self._prompt_estimate = estimate_prompt_tokens(body)
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._input: dict[str, Any] = {}
        self._output_tokens: int | None = None
        self._deltas = 0
        self._finish: str | None = None
        # Anthropic content-block index -> OpenAI tool_calls index.
        self._tools: dict[int, int] = {}

    @property
    def usage(self) -> Usage:
        prompt = usage_of(self._input)
        prompt_tokens = prompt.prompt_tokens if prompt and self._input else self._prompt_estimate
        cached = prompt.cached_tokens if prompt else 0
        if self._output_tokens is not None and self.finished:
            return Usage(prompt_tokens, self._output_tokens, cached_tokens=cached)
        return Usage(prompt_tokens, self._deltas, estimated=True, cached_tokens=cached)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return data_event(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
        )

    def _usage_chunk(self) -> bytes:
        cached = self._input.get("cache_read_input_tokens") or 0
        return data_event(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": _openai_usage(self.usage, cached),
            }
        )

    def feed(self, event: bytes) -> list[bytes]:
        data = next((line[5:] for line in event.split(b"\n") if line.startswith(b"data:")), None)
        if data is None:
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        kind = payload.get("type") if isinstance(payload, dict) else None
        handler = _HANDLERS.get(kind or "")
        return handler(self, payload) if handler else []

    def _message_start(self, payload: dict[str, Any]) -> list[bytes]:
        message = payload.get("message") or {}
        self._id = str(message.get("id", ""))
        self._model = str(message.get("model", ""))
        self._input = message.get("usage") or {}
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, payload: dict[str, Any]) -> list[bytes]:
        block = payload.get("content_block") or {}
        if block.get("type") != "tool_use":
            return []
        index = self._tools[payload.get("index", 0)] = len(self._tools)
        self.started = True
        call = {
            "index": index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, payload: dict[str, Any]) -> list[bytes]:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            self.started = True
            self._deltas += 1
            return [self._chunk({"content": delta.get("text", "")})]
        if kind == "input_json_delta":
            self.started = True
            self._deltas += 1
            index = self._tools.get(payload.get("index", 0), 0)
            call = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # thinking and signature deltas have no OpenAI equivalent

    def _message_delta(self, payload: dict[str, Any]) -> list[bytes]:
        self.started = True
        reason = (payload.get("delta") or {}).get("stop_reason")
        self._finish = FINISH_REASONS.get(reason or "", "stop")
        usage = payload.get("usage") or {}
        output = usage.get("output_tokens")
        if isinstance(output, int):
            self._output_tokens = output
        if isinstance(usage.get("input_tokens"), int):
            # Newer API versions repeat the (final) input counts here.
            self._input = {**self._input, **{k: v for k, v in usage.items() if "input" in k}}
        return [self._chunk({}, self._finish)]

    def _message_stop(self, _: dict[str, Any]) -> list[bytes]:
        self.started = self.finished = True
        out = [self._usage_chunk()] if self._client_wants_usage else []
        return [*out, DONE]

    def _error(self, payload: dict[str, Any]) -> list[bytes]:
        error = payload.get("error") or {}
        kind = error.get("type") if isinstance(error, dict) else None
        raise ProviderUnavailable(f"The model provider reported an error ({kind or 'unknown'}).")


_HANDLERS = {
    "message_start": AnthropicEvents._message_start,
    "content_block_start": AnthropicEvents._block_start,
    "content_block_delta": AnthropicEvents._block_delta,
    "message_delta": AnthropicEvents._message_delta,
    "message_stop": AnthropicEvents._message_stop,
    "error": AnthropicEvents._error,
}
