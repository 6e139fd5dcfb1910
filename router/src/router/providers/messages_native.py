"""A Messages API stream from a deployment that serves the API itself (Anthropic; recent
vLLM): its events pass through to the client byte for byte, and are read for what the
router needs - when the first token came, whether the stream ended, the usage.

- The first token: the first ``content_block_delta`` (text, tool input, thinking), or a
  ``message_delta`` (an answer with no content). ``message_start`` comes before the model
  produced anything, so it is held back with the first token, and the first-token
  timeout means what it says.
- The end: ``message_stop``. The usage is ``message_start``'s input counts with
  ``message_delta``'s (cumulative) output count; Anthropic's cache reads are the cached
  tokens.
- An ``error`` event is a provider failure; if the stream breaks after the client had
  part of it, its last event is an ``error`` event, as Anthropic's own API would send.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.providers.anthropic_format import usage_of
from router.providers.base import Usage
from router.providers.errors import ProviderError, ProviderUnavailable
from router.providers.upstream import EventTranslator


def error_event(kind: str, message: str) -> bytes:
    event = {"type": "error", "error": {"type": kind, "message": message}}
    return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"


class NativeMessagesEvents(EventTranslator):
    def __init__(self, prompt_estimate: int) -> None:
        self._prompt_estimate = prompt_estimate
        self._input: dict[str, Any] = {}
        self._output: int | None = None
        self._deltas = 0

    @property
    def usage(self) -> Usage:
        counted = usage_of(self._input)
        prompt = counted.prompt_tokens if counted and self._input else self._prompt_estimate
        cached = counted.cached_tokens if counted else 0
        if self._output is not None and self.finished:
            return Usage(prompt, self._output, cached_tokens=cached)
        return Usage(prompt, self._deltas, estimated=True, cached_tokens=cached)

    def feed(self, event: bytes) -> list[bytes]:
        data = next((ln[5:] for ln in event.split(b"\n") if ln.startswith(b"data:")), None)
        if data is None:
            return []  # comments
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "message_start":
            message = payload.get("message")
            self._input = (message or {}).get("usage") or {} if isinstance(message, dict) else {}
        elif kind == "content_block_delta":
            self.started = True
            self._deltas += 1
        elif kind == "message_delta":
            self.started = True
            usage = payload.get("usage") or {}
            if isinstance(usage.get("output_tokens"), int):
                self._output = usage["output_tokens"]
            # Newer API versions repeat the (final) input counts here.
            self._input |= {k: v for k, v in usage.items() if "input" in k}
        elif kind == "message_stop":
            self.started = self.finished = True
        elif kind == "error":
            error = payload.get("error") or {}
            raise ProviderUnavailable(
                f"The model provider reported an error ({error.get('type') or 'unknown'})."
            )
        return [event]

    def failure_event(self, error: ProviderError) -> bytes:
        return error_event("api_error", error.message)
