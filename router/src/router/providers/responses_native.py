"""A Responses API stream from a deployment that serves the API itself (OpenAI, recent
vLLM): its events pass through to the client byte for byte, and are read for what the
router needs - when the first token came, whether the stream ended, the usage.

- The first token: the first output delta (text, refusal, function-call arguments,
  reasoning), or the end of the response. The events before it (``response.created``,
  ``response.in_progress``, ``response.output_item.added``...) are held back with it, so
  the first-token timeout means what it says.
- The end: ``response.completed`` or ``response.incomplete``; its ``response.usage`` is the
  usage. ``response.failed`` and ``error`` events are provider failures. A ``[DONE]`` some
  servers add is not part of the API and is dropped.
- If the stream breaks after the client had part of it, its last event is a
  ``response.failed`` carrying the response as ``response.created`` announced it.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway_shared.sse import DONE
from router.providers.base import Usage
from router.providers.errors import ProviderError, ProviderUnavailable
from router.providers.upstream import EventTranslator
from router.providers.usage import usage_from

_FIRST_TOKEN = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
    }
)
_FINAL = frozenset({"response.completed", "response.incomplete"})
_FAILED = frozenset({"response.failed", "error"})


def _data(event: bytes) -> bytes | None:
    return next((ln[5:] for ln in event.split(b"\n") if ln.startswith(b"data:")), None)


class NativeResponsesEvents(EventTranslator):
    def __init__(self, prompt_estimate: int) -> None:
        self._prompt_estimate = prompt_estimate
        self._usage: Usage | None = None
        self._deltas = 0
        self._sequence = -1
        self._created: dict[str, Any] = {}

    @property
    def usage(self) -> Usage:
        if self._usage is not None:
            return self._usage
        return Usage(self._prompt_estimate, self._deltas, estimated=True)

    def feed(self, event: bytes) -> list[bytes]:
        data = _data(event)
        if data is None or event == DONE:
            return []  # comments, keep-alives, [DONE]
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(
                "The model provider sent an unreadable stream event."
            ) from None
        if not isinstance(payload, dict):
            raise ProviderUnavailable("The model provider sent an unreadable stream event.")
        kind = payload.get("type")
        if isinstance(payload.get("sequence_number"), int):
            self._sequence = payload["sequence_number"]
        if kind == "response.created" and isinstance(payload.get("response"), dict):
            self._created = payload["response"]
        elif kind in _FIRST_TOKEN:
            self.started = True
            self._deltas += 1
        elif kind in _FINAL:
            self.started = self.finished = True
            self._usage = usage_from(payload.get("response")) or self._usage
        elif kind in _FAILED:
            raise ProviderUnavailable("The model provider reported an error in its stream.")
        return [event]

    def failure_event(self, error: ProviderError) -> bytes:
        response = {
            **self._created,
            "status": "failed",
            "error": {"code": "server_error", "message": error.message},
        }
        self._sequence += 1
        event = {"type": "response.failed", "sequence_number": self._sequence, "response": response}
        return b"event: response.failed\ndata: " + orjson.dumps(event) + b"\n\n"
