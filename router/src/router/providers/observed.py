"""Every provider call observed at the adapter boundary: a GenAI span and metrics.

:func:`observed_adapters` wraps each adapter class of the registry so that the router
calls providers through :class:`ObservedProvider`, which behaves exactly like the adapter
it wraps (same operations, results and errors) and for each call (one attempt):

- starts a client span ``{gen_ai.operation.name} {gen_ai.request.model}`` with the
  current GenAI semantic conventions (``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.model``; at the end ``gen_ai.response.model``, ``gen_ai.response.id``,
  ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
  ``output_tokens`` and, for streams, ``gen_ai.response.time_to_first_chunk``). The
  provider's HTTP call is its child. Prompts and completions are recorded only with
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``. Response details are read
  only when the span is recorded: untraced calls pay for none of it.
- records ``gateway_provider_request_duration_seconds`` (by outcome),
  ``gateway_provider_time_to_first_token_seconds`` (streams), and the semantic
  conventions' ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage``
  (in Prometheus: ``gen_ai_client_operation_duration_seconds``,
  ``gen_ai_client_token_usage``).
- tells the request's context which deployment answered and how long the providers
  took (first attempt's start to the answer or first token), which the router reports
  to the tiers in front of it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

import httpx
import orjson
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode
from prometheus_client import CollectorRegistry, Histogram

from gateway_shared.observability import RequestContext, Tracing, current_request
from gateway_shared.observability.metrics import LATENCY_BUCKETS, trace_exemplar
from gateway_shared.observability.tracing import trace_id_of
from router.catalog import Deployment
from router.providers.base import Completion, CompletionStream, Operation, Provider, Usage
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)

OK = "ok"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# The semantic conventions' advised buckets.
GENAI_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GENAI_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

_FINISH_REASON = re.compile(rb'"finish_reason":\s*"([A-Za-z_]{1,32})"')
_RESPONSE_MODEL = re.compile(rb'"model":\s*"([^"\\]{1,200})"')
_RESPONSE_ID = re.compile(rb'"id":\s*"([^"\\]{1,200})"')


def outcome_of(exc: BaseException) -> str:
    """A bounded name for how a call failed (metric label and ``error.type`` class)."""
    if isinstance(exc, StreamInterrupted):
        return "interrupted"
    if isinstance(exc, ProviderRateLimited):
        return "rate_limited"
    if isinstance(exc, ProviderTimeout):
        return "timeout"
    if isinstance(exc, ProviderUnavailable):
        return "unavailable"
    if isinstance(exc, ProviderRejected):
        return "rejected"
    if isinstance(exc, ProviderError):
        return "error"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "internal"


class ProviderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "gateway_provider_request_duration_seconds",
            "Provider calls (one per attempt) from sending to the answer's end (streams: "
            "the last chunk), by provider type, deployment, operation and outcome (ok, "
            "rate_limited, timeout, unavailable, rejected, interrupted, error, cancelled).",
            ("provider", "deployment", "operation", "outcome"),
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.ttft = Histogram(
            "gateway_provider_time_to_first_token_seconds",
            "Streamed provider calls: from sending to the first token.",
            ("provider", "deployment"),
            buckets=TTFT_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration (OpenTelemetry semantic conventions: "
            "gen_ai.client.operation.duration); error_type is empty on success.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
            buckets=GENAI_DURATION_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used per call (OpenTelemetry semantic "
            "conventions: gen_ai.client.token.usage).",
            (
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ),
            buckets=GENAI_TOKEN_BUCKETS,
            registry=registry,
        )


class _Instruments:
    """One deployment's label children, resolved when its adapter is built."""

    def __init__(self, metrics: ProviderMetrics, deployment: Deployment) -> None:
        self._metrics = metrics
        self.provider = deployment.provider
        self.name = deployment.name
        self.model = deployment.model
        self.ttft = metrics.ttft.labels(self.provider, self.name)
        self._duration: dict[tuple[str, str], Histogram] = {}
        self._operation: dict[tuple[str, str], Histogram] = {}
        self._tokens: dict[tuple[str, str], Histogram] = {}

    def observe(self, operation: str, outcome: str, seconds: float, trace_id: str | None) -> None:
        key = (operation, outcome)
        duration = self._duration.get(key)
        if duration is None:
            duration = self._duration[key] = self._metrics.duration.labels(
                self.provider, self.name, operation, outcome
            )
            error_type = "" if outcome == OK else outcome
            self._operation[key] = self._metrics.operation_duration.labels(
                operation, self.provider, self.model, error_type
            )
        exemplar = trace_exemplar(trace_id)
        duration.observe(seconds, exemplar)
        self._operation[key].observe(seconds, exemplar)

    def tokens(self, operation: str, usage: Usage) -> None:
        for token_type, count in (
            ("input", usage.prompt_tokens),
            ("output", usage.completion_tokens),
        ):
            key = (operation, token_type)
            child = self._tokens.get(key)
            if child is None:
                child = self._tokens[key] = self._metrics.token_usage.labels(
                    operation, self.provider, self.model, token_type
                )
            child.observe(count)


class _Call:
    """One attempt on one deployment, from sending until its answer is over."""

    __slots__ = (
        "_done",
        "_instruments",
        "_operation",
        "_request",
        "_scan_head",
        "_started",
        "finish_reasons",
        "span",
    )

    def __init__(
        self,
        instruments: _Instruments,
        operation: Operation,
        span: Span | None,
        request: RequestContext | None,
    ) -> None:
        self._instruments = instruments
        self._operation = str(operation)
        self.span = span
        self._request = request
        self._started = time.perf_counter()
        self._done = False
        self._scan_head = True
        self.finish_reasons: list[str] = []
        if request is not None:
            request.attempts += 1
            request.deployment = instruments.name
            if request.provider_started is None:
                request.provider_started = self._started

    @property
    def recording(self) -> bool:
        return self.span is not None and self.span.is_recording()

    def current(self) -> AbstractContextManager[Any]:
        """The span as the current one, so the HTTP call's span is its child."""
        if self.span is None:
            return nullcontext()
        return trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def answered(self, *, first_chunk: bool) -> None:
        """The answer (or a stream's first token) arrived."""
        now = time.perf_counter()
        request = self._request
        if request is not None and request.provider_started is not None:
            request.provider_seconds = now - request.provider_started
        if first_chunk:
            elapsed = now - self._started
            self._instruments.ttft.observe(elapsed, trace_exemplar(self._trace_id()))
            if self.recording:
                assert self.span is not None
                self.span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)

    def scan(self, chunk: bytes) -> None:
        """Stream chunks, traced calls only: the response's model, id, finish reasons."""
        if self._scan_head and b'"model"' in chunk:
            self._scan_head = False
            self._response_head(chunk)
        if b"finish_reason" in chunk:
            for reason in _FINISH_REASON.findall(chunk):
                self.finish_reasons.append(reason.decode())

    def _response_head(self, payload: bytes) -> None:
        assert self.span is not None
        model = _RESPONSE_MODEL.search(payload)
        if model:
            self.span.set_attribute("gen_ai.response.model", model.group(1).decode())
        response_id = _RESPONSE_ID.search(payload)
        if response_id:
            self.span.set_attribute("gen_ai.response.id", response_id.group(1).decode())

    def read_completion(self, completion: Completion, capture: bool) -> None:
        """A whole answer, traced calls only."""
        assert self.span is not None
        try:
            payload = orjson.loads(completion.body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict):
            return
        for name, key in (("gen_ai.response.model", "model"), ("gen_ai.response.id", "id")):
            if isinstance(payload.get(key), str):
                self.span.set_attribute(name, payload[key])
        choices = payload.get("choices")
        if isinstance(choices, list):
            self.finish_reasons = [
                str(c["finish_reason"])
                for c in choices
                if isinstance(c, dict) and c.get("finish_reason")
            ]
            if capture:
                self.span.set_attribute("gen_ai.output.messages", _output_messages(choices))

    def finish(self, outcome: str, usage: Usage | None, exc: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        instruments = self._instruments
        seconds = time.perf_counter() - self._started
        instruments.observe(self._operation, outcome, seconds, self._trace_id())
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
        if self.finish_reasons:
            span.set_attribute("gen_ai.response.finish_reasons", self.finish_reasons)
        if exc is not None and outcome != "cancelled":
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR, getattr(exc, "code", None) or outcome)
        span.end()

    def failed(self, exc: BaseException) -> None:
        request = self._request
        if request is not None and request.provider_started is not None:
            request.provider_seconds = time.perf_counter() - request.provider_started
        self.finish(outcome_of(exc), None, exc)

    def _trace_id(self) -> str | None:
        return trace_id_of(self.span) if self.span is not None else None


def _input_messages(body: Mapping[str, Any]) -> str:
    """The request's input in the conventions' shape (content capture only)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        converted = [
            {"role": m.get("role"), "parts": [{"type": "text", "content": m.get("content")}]}
            for m in messages
            if isinstance(m, dict)
        ]
    else:
        source = body.get("prompt", body.get("input"))
        converted = [{"role": "user", "parts": [{"type": "text", "content": source}]}]
    return orjson.dumps(converted, default=str).decode()


def _output_messages(choices: list[Any]) -> str:
    converted = []
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else choice.get("text")
        converted.append(
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": content}],
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return orjson.dumps(converted, default=str).decode()


class ObservedStream(CompletionStream):
    def __init__(self, inner: CompletionStream, call: _Call) -> None:
        self._inner = inner
        self._call = call
        self._complete = False

    @property
    def usage(self) -> Usage:
        return self._inner.usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        call = self._call
        scan = call.recording
        try:
            async for chunk in self._inner:
                if scan:
                    call.scan(chunk)
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
            self._call.finish(OK if self._complete else "cancelled", self._inner.usage)


class ObservedProvider(Provider):
    """An adapter seen through the observer; built by :func:`observed_adapters`."""

    adapter: ClassVar[type[Provider]]
    observer: ClassVar[ProviderObserver]

    def __init__(self, deployment: Deployment, client: httpx.AsyncClient) -> None:
        super().__init__(deployment, client)
        self.inner = self.adapter(deployment, client)
        self._instruments = _Instruments(self.observer.metrics, deployment)
        url = urlsplit(deployment.base_url)
        self._server: dict[str, str | int] = {
            "server.address": url.hostname or "",
            "server.port": url.port or (443 if url.scheme == "https" else 80),
        }

    def _start(self, operation: Operation, body: dict[str, Any]) -> _Call:
        tracing = self.observer.tracing
        span = None
        if tracing.enabled:
            deployment = self.deployment
            span = tracing.tracer.start_span(
                f"{operation} {deployment.model}",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": str(operation),
                    "gen_ai.provider.name": deployment.provider,
                    "gen_ai.request.model": deployment.model,
                    "gateway.deployment": deployment.name,
                    **self._server,
                },
            )
            if span.is_recording():
                _request_attributes(span, body, tracing.capture_content)
        return _Call(self._instruments, operation, span, current_request())

    async def complete(self, operation: Operation, body: dict[str, Any]) -> Completion:
        call = self._start(operation, body)
        try:
            with call.current():
                completion = await self.inner.complete(operation, body)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.answered(first_chunk=False)
        if call.recording:
            call.read_completion(completion, self.observer.tracing.capture_content)
        call.finish(OK, completion.usage)
        return completion

    async def stream(self, operation: Operation, body: dict[str, Any]) -> CompletionStream:
        call = self._start(operation, body)
        try:
            with call.current():
                stream = await self.inner.stream(operation, body)
        except BaseException as exc:
            call.failed(exc)
            raise
        call.answered(first_chunk=True)
        return ObservedStream(stream, call)

    async def list_models(self) -> list[str]:
        return await self.inner.list_models()

    async def health(self) -> bool:
        return await self.inner.health()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _request_attributes(span: Span, body: Mapping[str, Any], capture: bool) -> None:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(max_tokens, int):
        span.set_attribute("gen_ai.request.max_tokens", max_tokens)
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span.set_attribute(f"gen_ai.request.{name}", float(value))
    if capture:
        span.set_attribute("gen_ai.input.messages", _input_messages(body))


class ProviderObserver:
    """What the observed adapters share: the metrics and the tracer."""

    def __init__(self, metrics: ProviderMetrics, tracing: Tracing) -> None:
        self.metrics = metrics
        self.tracing = tracing


def observed_adapters(
    adapters: Mapping[str, type[Provider]], observer: ProviderObserver
) -> dict[str, type[Provider]]:
    """The adapter registry with every class wrapped in an :class:`ObservedProvider`."""
    observed: dict[str, type[Provider]] = {}
    for name, cls in adapters.items():
        attributes = {
            "adapter": cls,
            "observer": observer,
            "type": cls.type,
            "operations": cls.operations,
            "default_health_interval": cls.default_health_interval,
            "__doc__": f"{cls.__name__}, observed.",
        }
        wrapper = type(f"Observed{cls.__name__}", (ObservedProvider,), attributes)
        observed[name] = cast("type[Provider]", wrapper)
    return observed
