"""Every provider call observed at the adapter boundary, by composition.

:class:`ObservedProvider` wraps one adapter and behaves exactly like it (same
operations, results and errors). For each call (one attempt) it starts the GenAI client
span (``provider_spans``; the provider's HTTP call is its child), records the call's
metrics (``provider_metrics``), and tells the request's log context which deployment
answered, after how many attempts, and the tokens used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, StatusCode

from gateway_shared.observability import RequestContext, Tracing, current_request
from gateway_shared.observability.metrics import trace_exemplar
from gateway_shared.observability.outcomes import Outcome
from gateway_shared.observability.tracing import trace_id_of
from gateway_shared.wire.report import Usage
from router.observability.provider_metrics import DeploymentInstruments, ProviderMetrics
from router.observability.provider_spans import ResponseScan, server_attributes, start_span
from router.providers.base import Completion, CompletionStream, Headers, Operation, Provider
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)


def outcome_of(exc: BaseException) -> Outcome:
    """How a call that raised ``exc`` ended (its metrics' label, its span's ``error.type``)."""
    if isinstance(exc, StreamInterrupted):
        return Outcome.INTERRUPTED
    if isinstance(exc, ProviderRateLimited):
        return Outcome.RATE_LIMITED
    if isinstance(exc, ProviderTimeout):
        return Outcome.TIMEOUT
    if isinstance(exc, ProviderUnavailable):
        return Outcome.UNAVAILABLE
    if isinstance(exc, ProviderRejected):
        return Outcome.REJECTED
    if isinstance(exc, ProviderError):
        return Outcome.ERROR
    if isinstance(exc, asyncio.CancelledError):
        return Outcome.CANCELLED
    return Outcome.INTERNAL


class ProviderObserver:
    """What the observed adapters share: the metrics and the tracer."""

    def __init__(self, metrics: ProviderMetrics, tracing: Tracing) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def wrap(self, adapter: Provider) -> Provider:
        return ObservedProvider(adapter, self)


class ProviderCall:
    """One attempt on one deployment, from sending until its answer is over."""

    __slots__ = (
        "_done",
        "_first_token_at",
        "_instruments",
        "_operation",
        "_request",
        "scan",
        "span",
        "started",
    )

    def __init__(
        self,
        instruments: DeploymentInstruments,
        operation: Operation,
        span: Span | None,
        request: RequestContext | None,
    ) -> None:
        self._instruments = instruments
        self._operation = str(operation)
        self.span = span
        self.scan = ResponseScan(span) if span is not None and span.is_recording() else None
        self._request = request
        self.started = time.perf_counter()
        self._first_token_at: float | None = None  # streams only
        self._done = False
        if request is not None:
            request.attempts += 1
            request.deployment = instruments.name

    def current(self) -> AbstractContextManager[Any]:
        """The span as the current one, so the HTTP call's span is its child."""
        if self.span is None:
            return nullcontext()
        return trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def first_token(self, seconds: float, *, stream: bool) -> None:
        """The answer's first token came ``seconds`` after sending."""
        self._instruments.ttft[stream].observe(seconds, trace_exemplar(self._trace_id()))
        if stream:
            self._first_token_at = self.started + seconds
        if self.scan is not None:
            self.scan.span.set_attribute("gen_ai.response.time_to_first_chunk", seconds)

    def finish(
        self, outcome: Outcome, usage: Usage | None, exc: BaseException | None = None
    ) -> None:
        if self._done:
            return
        self._done = True
        instruments = self._instruments
        seconds = time.perf_counter() - self.started
        instruments.observe(self._operation, outcome, seconds, self._trace_id())
        first = self._first_token_at
        if (
            outcome is Outcome.OK
            and usage is not None
            and first is not None
            and usage.completion_tokens > 1
        ):
            instruments.itl.observe(
                (self.started + seconds - first) / (usage.completion_tokens - 1)
            )
        if self._request is not None:
            self._request.outcome = outcome.value
        if usage is not None:
            instruments.tokens(self._operation, usage)
            if self._request is not None:
                self._request.set_tokens(usage.prompt_tokens, usage.completion_tokens)
        span = self.span
        if span is None:
            return
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        if self.scan is not None and self.scan.finish_reasons:
            span.set_attribute("gen_ai.response.finish_reasons", self.scan.finish_reasons)
        if exc is not None and outcome is not Outcome.CANCELLED:
            span.set_attribute("error.type", outcome.value)
            span.set_status(StatusCode.ERROR, getattr(exc, "code", None) or outcome)
        span.end()

    def failed(self, exc: BaseException) -> None:
        self.finish(outcome_of(exc), None, exc)

    def _trace_id(self) -> str | None:
        return trace_id_of(self.span) if self.span is not None else None


class ObservedStream(CompletionStream):
    def __init__(self, inner: CompletionStream, call: ProviderCall) -> None:
        self._inner = inner
        self._call = call
        self._complete = False

    @property
    def usage(self) -> Usage:
        return self._inner.usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        call = self._call
        scan = call.scan
        try:
            async for chunk in self._inner:
                if scan is not None:
                    scan.chunk(chunk)
                yield chunk
        except ProviderError as exc:
            call.finish(outcome_of(exc), self._inner.usage, exc)
            raise
        self._complete = True

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            # A stream closed before its end: the client left.
            outcome = Outcome.OK if self._complete else Outcome.CANCELLED
            self._call.finish(outcome, self._inner.usage)


class ObservedProvider(Provider):
    """An adapter seen through the observer: the same provider, measured and traced."""

    def __init__(self, inner: Provider, observer: ProviderObserver) -> None:
        super().__init__(inner.deployment, inner.client)
        self.inner = inner
        self.type = inner.type
        self.operations = inner.operations
        self.default_health_interval = inner.default_health_interval
        self._observer = observer
        self._instruments = DeploymentInstruments(observer.metrics, inner.deployment)
        self._server = server_attributes(inner.deployment)

    def _start(self, operation: Operation, body: dict[str, Any]) -> ProviderCall:
        tracing = self._observer.tracing
        span = None
        if tracing.enabled:
            span = start_span(
                tracing.tracer,
                self.deployment,
                self._server,
                operation,
                body,
                capture=tracing.capture_content,
            )
        return ProviderCall(self._instruments, operation, span, current_request())

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        call = self._start(operation, body)
        try:
            with call.current():
                completion = await self.inner.complete(operation, body, headers)
        except BaseException as exc:
            call.failed(exc)
            raise
        if completion.first_token_seconds is not None:
            call.first_token(completion.first_token_seconds, stream=False)
        if call.scan is not None:
            call.scan.completion(completion, self._observer.tracing.capture_content)
        call.finish(Outcome.OK, completion.usage)
        return completion

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        call = self._start(operation, body)
        try:
            with call.current():
                stream = await self.inner.stream(operation, body, headers)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.first_token(time.perf_counter() - call.started, stream=True)
        return ObservedStream(stream, call)

    async def list_models(self) -> list[str]:
        return await self.inner.list_models()

    async def count_tokens(self, body: dict[str, Any], headers: Headers = None) -> int | None:
        return await self.inner.count_tokens(body, headers)

    async def health(self) -> bool:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()
