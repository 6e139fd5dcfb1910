"""Provider calls observed at the adapter boundary: GenAI spans, per-call metrics and
what the request's log context learns; the routing state as scraped metrics."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from gateway_shared.observability import RequestContext, Tracing
from gateway_shared.observability.context import _current
from router.catalog import Catalog, Deployment, ModelEntry
from router.observability.collector import RouterCollector
from router.observability.observed import ProviderObserver
from router.observability.provider_metrics import ProviderMetrics
from router.providers.base import Completion, CompletionStream, Headers, Operation, Provider, Usage
from router.providers.errors import ProviderTimeout, StreamInterrupted
from router.routing.dispatcher import Dispatcher
from router.routing.table import CatalogSource, RoutingTable
from router.state import RouterState

CLIENT = httpx.AsyncClient()
ANSWER = {
    "id": "chatcmpl-1",
    "model": "upstream-model",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "secret answer"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 3},
}
CHUNKS = [
    b'data: {"id":"c-2","model":"upstream-model","choices":[{"delta":{"content":"a"}}]}\n\n',
    b'data: {"id":"c-2","model":"upstream-model",'
    b'"choices":[{"delta":{},"finish_reason":"length"}]}\n\n',
    b"data: [DONE]\n\n",
]


class Stream(CompletionStream):
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk
            if self.fail:
                raise StreamInterrupted()

    @property
    def usage(self) -> Usage:
        return Usage(7, 2)

    async def aclose(self) -> None:
        pass


class Fake(Provider):
    type = "fake"
    operations = frozenset({Operation.CHAT})
    default_health_interval = 42.0
    outcome: ClassVar[str] = "ok"

    async def complete(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> Completion:
        if self.outcome == "timeout":
            raise ProviderTimeout()
        return Completion(200, orjson.dumps(ANSWER), "application/json", Usage(7, 3))

    async def stream(
        self, operation: Operation, body: dict[str, Any], headers: Headers = None
    ) -> CompletionStream:
        return Stream(fail=self.outcome == "cut")

    async def list_models(self) -> list[str]:
        return ["m"]

    async def count_tokens(self, body: dict[str, Any], headers: Headers = None) -> int | None:
        return 11

    async def health(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


DEPLOYMENT = Deployment(
    name="dep-1", provider="fake", base_url="http://upstream.test:9000/v1", model="upstream-model"
)


@pytest.fixture
def observed() -> tuple[Provider, InMemorySpanExporter, CollectorRegistry]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    registry = CollectorRegistry()
    observer = ProviderObserver(ProviderMetrics(registry), Tracing(provider))
    Fake.outcome = "ok"
    return observer.wrap(Fake(DEPLOYMENT, CLIENT)), exporter, registry


def _value(registry: CollectorRegistry, prefix: str) -> float:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(prefix)


def _span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_the_wrapper_is_the_adapter_to_the_router() -> None:
    observer = ProviderObserver(ProviderMetrics(CollectorRegistry()), Tracing())
    wrapped = observer.wrap(Fake(DEPLOYMENT, CLIENT))
    assert (wrapped.type, wrapped.operations, wrapped.default_health_interval) == (
        "fake",
        frozenset({Operation.CHAT}),
        42.0,
    )
    assert wrapped.deployment is DEPLOYMENT


async def test_the_wrapper_asks_the_adapter_to_count_tokens() -> None:
    # Without it, count_tokens would always be the router's estimate (the base's None).
    observer = ProviderObserver(ProviderMetrics(CollectorRegistry()), Tracing())
    assert await observer.wrap(Fake(DEPLOYMENT, CLIENT)).count_tokens({}) == 11


async def test_a_call_is_a_genai_span_with_usage_and_tells_the_log_context(
    observed: tuple[Provider, InMemorySpanExporter, CollectorRegistry],
) -> None:
    provider, exporter, registry = observed
    ctx = RequestContext(0.0)
    token = _current.set(ctx)
    try:
        body = {
            "model": "alias",
            "messages": [{"role": "user", "content": "secret prompt"}],
            "max_tokens": 9,
        }
        await provider.complete(Operation.CHAT, body)
    finally:
        _current.reset(token)
    span = _span(exporter)
    attributes = dict(span.attributes or {})
    assert span.name == "chat upstream-model"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "fake"
    assert attributes["gen_ai.request.model"] == "upstream-model"
    assert attributes["gen_ai.request.max_tokens"] == 9
    assert attributes["gen_ai.response.model"] == "upstream-model"
    assert attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (
        7,
        3,
    )
    assert (attributes["server.address"], attributes["server.port"]) == ("upstream.test", 9000)
    assert "gen_ai.system" not in attributes
    assert not any("secret" in str(value) for value in attributes.values())
    assert (ctx.deployment, ctx.attempts, ctx.prompt_tokens, ctx.completion_tokens) == (
        "dep-1",
        1,
        7,
        3,
    )
    assert (
        _value(
            registry,
            'gateway_provider_request_duration_seconds_count{deployment="dep-1",operation="chat",outcome="ok",provider="fake"}',
        )
        == 1
    )
    assert (
        _value(
            registry,
            'gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_provider_name="fake",gen_ai_request_model="upstream-model",gen_ai_token_type="input"}',
        )
        == 7
    )
    assert (
        _value(
            registry,
            'gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat"',
        )
        == 1
    )


async def test_a_failed_call_has_its_outcome(
    observed: tuple[Provider, InMemorySpanExporter, CollectorRegistry],
) -> None:
    provider, exporter, registry = observed
    Fake.outcome = "timeout"
    with pytest.raises(ProviderTimeout):
        await provider.complete(Operation.CHAT, {"messages": []})
    span = _span(exporter)
    assert (span.attributes or {})["error.type"] == "timeout"  # as the metric says it
    assert not span.status.is_ok
    assert (
        _value(
            registry,
            'gateway_provider_request_duration_seconds_count{deployment="dep-1",operation="chat",outcome="timeout"',
        )
        == 1
    )
    assert (
        _value(registry, 'gen_ai_client_operation_duration_seconds_count{error_type="timeout"') == 1
    )


@pytest.mark.parametrize(
    ("outcome", "read_all", "expected"),
    [("ok", True, "ok"), ("ok", False, "cancelled"), ("cut", True, "interrupted")],
)
async def test_a_stream_span_lasts_until_its_end(
    observed: tuple[Provider, InMemorySpanExporter, CollectorRegistry],
    outcome: str,
    read_all: bool,
    expected: str,
) -> None:
    provider, exporter, registry = observed
    Fake.outcome = outcome
    stream = await provider.stream(Operation.CHAT, {"messages": []})
    assert not exporter.get_finished_spans()  # open while the stream is relayed
    try:
        async for _ in stream:
            if not read_all:
                break
    except StreamInterrupted:
        pass
    await stream.aclose()
    span = _span(exporter)
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert attributes["gen_ai.response.model"] == "upstream-model"
    assert attributes["gen_ai.usage.output_tokens"] == 2
    if expected == "ok":
        assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    if expected == "interrupted":
        assert attributes["error.type"] == "interrupted"
    assert (
        _value(
            registry,
            f'gateway_provider_request_duration_seconds_count{{deployment="dep-1",operation="chat",outcome="{expected}"',
        )
        == 1
    )
    assert (
        _value(registry, 'gateway_provider_time_to_first_token_seconds_count{deployment="dep-1"')
        == 1
    )
    # The time between tokens is measured on streams that ended well only.
    itl = _value(registry, 'gateway_provider_inter_token_latency_seconds_count{deployment="dep-1"')
    assert itl == (1 if expected == "ok" else 0)


def test_routing_state_is_scraped_from_the_router_objects() -> None:
    observer = ProviderObserver(ProviderMetrics(CollectorRegistry()), Tracing())
    catalog = Catalog(models=(ModelEntry(alias="chat", deployments=(DEPLOYMENT,)),))
    table, _ = RoutingTable.build(
        catalog,
        CatalogSource(Path("c.yaml"), "ab" * 32),
        CLIENT,
        {"fake": Fake},
        rng=random.Random(1),
        wrap=observer.wrap,
    )
    state = RouterState(table=table, client=CLIENT, dispatcher=Dispatcher())
    registry = CollectorRegistry()
    holder: list[RouterState] = []
    registry.register(RouterCollector(lambda: holder[0] if holder else None))  # before the app runs
    assert "gateway_circuit_breaker_state{" not in generate_latest(registry).decode()
    holder.append(state)
    state.table.states["dep-1"].breaker.trip("test")
    state.dispatcher.counters.retries = 4
    labels = 'deployment="dep-1",model="chat",provider="fake"'
    assert _value(registry, f'gateway_circuit_breaker_state{{{labels},state="open"}}') == 1
    assert _value(registry, f'gateway_circuit_breaker_state{{{labels},state="closed"}}') == 0
    assert _value(registry, f"gateway_circuit_breaker_opened_total{{{labels}}}") == 1
    assert _value(registry, f'gateway_provider_health_state{{{labels},state="unknown"}}') == 1
    assert _value(registry, "gateway_router_retries_total") == 4
    assert _value(registry, 'gateway_router_catalog_info{sha256="abababababab"}') == 1
