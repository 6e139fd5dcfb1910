"""What is learned about one HTTP request while a tier handles it.

The middleware makes a :class:`RequestContext` current for each request (a context
variable, so tasks the request spawns - a streamed body - see the same object); handlers
and instrumented clients fill in what they learn, and the middleware turns it into
metric labels, response headers and the request's log line when the response ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

import orjson

from gateway_shared import headers as h

_current: ContextVar[RequestContext | None] = ContextVar("gateway_request", default=None)

# Longest model label accepted from an inner tier's header (a catalog alias).
_MAX_MODEL_LABEL = 128


@dataclass(slots=True)
class RequestContext:
    started: float  # time.perf_counter() when the request arrived
    # The catalog alias that served the request (bounded: only the router sets it).
    model: str | None = None
    # The model the client asked for, for the log line only (never a label).
    requested_model: str | None = None
    key_name: str | None = None
    request_id: str | None = None
    stream: bool = False
    # Router: from the first provider attempt's start to the answer or first token.
    provider_seconds: float | None = None
    provider_started: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    deployment: str | None = None
    attempts: int = 0

    def set_tokens(self, prompt: int, completion: int) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion

    def from_upstream(self, headers: Mapping[str, str]) -> None:
        """Take what the next tier reported (model label, provider time, usage)."""
        model = headers.get(h.MODEL)
        if model and len(model) <= _MAX_MODEL_LABEL:
            self.model = model
        provider_ms = headers.get(h.PROVIDER_MS)
        if provider_ms:
            with contextlib.suppress(ValueError):
                self.provider_seconds = float(provider_ms) / 1000
        usage = headers.get(h.USAGE)
        if usage:
            try:
                parsed = orjson.loads(usage)
                self.set_tokens(int(parsed["prompt_tokens"]), int(parsed["completion_tokens"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass


def current_request() -> RequestContext | None:
    """The request being handled, or None outside a request (background tasks, tests)."""
    return _current.get()
