"""What is learned about one HTTP request while a tier handles it.

The middleware makes a :class:`RequestContext` current for each request (a context
variable, so tasks the request spawns - a streamed body - see the same object); handlers
and instrumented clients fill in what they learn, and the middleware turns it into
metric labels, the public overhead header and the request's log line when the response
ends. It carries nothing between tiers: that is ``gateway_shared.wire``'s.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from gateway_shared.wire.report import Report

_current: ContextVar[RequestContext | None] = ContextVar("gateway_request", default=None)


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
    # From the first provider attempt's start to the answer or first token (the router
    # measures it; the tiers in front read it from its report).
    provider_seconds: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    deployment: str | None = None
    attempts: int = 0
    # How the last provider attempt ended (router only; gateway_shared.observability.outcomes).
    outcome: str | None = None

    def set_tokens(self, prompt: int, completion: int) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion

    def take_report(self, report: Report) -> None:
        """What the tier behind reported with its answer (``wire.report``)."""
        if report.model is not None:
            self.model = report.model
        if report.provider_seconds is not None:
            self.provider_seconds = report.provider_seconds
        if report.usage is not None:
            self.set_tokens(report.usage.prompt_tokens, report.usage.completion_tokens)


def current_request() -> RequestContext | None:
    """The request being handled, or None outside a request (background tasks, tests)."""
    return _current.get()
