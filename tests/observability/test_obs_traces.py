"""One request, one trace: client -> edge -> policy -> router -> adapter -> provider,
collected over OTLP from every tier, continuing the trace the client started."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.conftest import create_key
from tests.observability.conftest import ObservedStack
from tests.observability.otlp import Span
from tests.support.waiting import wait_until

DEPRECATED = {
    "gen_ai.system",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.prompt",
    "gen_ai.completion",
    "llm.request.type",
}


def _one(spans: list[Span], **match: str) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.service, s.name, s.kind) for s in spans])
    return found[0]


def _request(
    observed: ObservedStack, key: str, body: dict[str, object]
) -> tuple[str, str, httpx.Response]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    headers = {"authorization": f"Bearer {key}", "traceparent": f"00-{trace_id}-{parent_id}-01"}
    with httpx.Client(timeout=30) as client:
        response = client.post(
            observed.stack.base_url + "/chat/completions", json=body, headers=headers
        )
        response.read()
    assert response.status_code == 200, response.text
    return trace_id, parent_id, response


def _collected(observed: ObservedStack, trace_id: str, expected: int) -> list[Span]:
    def complete() -> list[Span] | None:
        spans = observed.otlp.receiver.trace(trace_id)
        return spans if len(spans) >= expected else None

    return wait_until(complete, timeout=15, what=f"{expected} spans of trace {trace_id}")


@pytest.fixture(scope="module")
def trace_key(observed: ObservedStack) -> str:
    # A key never used before: edge's cache misses, so its Redis lookup is in the trace;
    # with a limit, so policy's admission runs its script.
    return create_key(observed.stack, "obs-trace", "--rpm", "1000")


def test_a_request_is_one_trace_through_every_tier(observed: ObservedStack, trace_key: str) -> None:
    prompt = "observability canary " + secrets.token_hex(8)
    body = {"model": "sim-chat", "messages": [{"role": "user", "content": prompt}]}
    trace_id, client_parent, response = _request(observed, trace_key, body)
    # What the inner tiers report to each other never reaches the client.
    internal = [n for n in response.headers if n.startswith("x-gateway-")]
    public = {"x-gateway-overhead-ms", "x-gateway-cost-usd", "x-gateway-cache"}
    assert "x-gateway-overhead-ms" in internal
    assert set(internal) <= public, internal
    # edge, its key lookup, policy, admit, settle, router, adapter, provider HTTP call
    spans = _collected(observed, trace_id, 8)

    edge = _one(spans, service="edge", kind="server")
    assert edge.name == "POST /v1/chat/completions"
    assert edge.parent_span_id == client_parent  # the client's traceparent is honoured
    assert edge.attributes["http.route"] == "/v1/chat/completions"
    assert edge.attributes["http.response.status_code"] == 200
    lookup = _one(spans, service="edge", kind="client")
    assert lookup.name == "GET key_lookup"
    assert lookup.attributes["db.system.name"] == "redis"
    assert lookup.parent_span_id == edge.span_id

    policy = _one(spans, service="policy", kind="server")
    assert policy.parent_span_id == edge.span_id
    assert policy.attributes["gateway.key.name"] == "obs-trace"
    admit = _one(spans, service="policy", name="EVALSHA admit")
    settle = _one(spans, service="policy", name="EVALSHA settle")
    assert admit.parent_span_id == settle.parent_span_id == policy.span_id

    router = _one(spans, service="router", kind="server")
    assert router.parent_span_id == policy.span_id
    assert router.attributes["gateway.model"] == "sim-chat"

    adapter = _one(spans, service="router", name="chat sim-model")
    assert adapter.kind == "client"
    assert adapter.parent_span_id == router.span_id
    simulator_port = observed.stack.services["simulator"].port
    attributes = adapter.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "vllm"
    assert attributes["gen_ai.request.model"] == "sim-model"
    assert attributes["gen_ai.response.model"] == "sim-model"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] in (["stop"], ["length"])
    assert attributes["server.port"] == simulator_port

    provider = _one(spans, service="router", name="POST")
    assert provider.kind == "client"
    assert provider.parent_span_id == adapter.span_id
    assert provider.attributes["http.response.status_code"] == 200
    assert provider.attributes["server.port"] == simulator_port

    for span in spans:
        assert span.trace_id == trace_id
        assert not DEPRECATED & set(span.attributes), (span.name, span.attributes)
        # Prompts and completions are not recorded unless explicitly enabled.
        assert "gen_ai.input.messages" not in span.attributes
        assert all(prompt not in str(value) for value in span.attributes.values())
    parents = {s.span_id: s for s in spans}
    for span in spans:
        if span.parent_span_id in parents:
            assert span.start_ns >= parents[span.parent_span_id].start_ns


def test_a_stream_trace_has_time_to_first_chunk(observed: ObservedStack, trace_key: str) -> None:
    body = {"model": "sim-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    trace_id, client_parent, response = _request(observed, trace_key, body)
    assert float(response.headers["x-gateway-overhead-ms"]) >= 0
    spans = _collected(observed, trace_id, 7)
    edge = _one(spans, service="edge", kind="server")
    assert edge.parent_span_id == client_parent
    adapter = _one(spans, service="router", name="chat sim-model")
    assert adapter.parent_span_id == _one(spans, service="router", kind="server").span_id
    attributes = adapter.attributes
    assert 0 < attributes["gen_ai.response.time_to_first_chunk"] < 10
    assert attributes["gen_ai.response.finish_reasons"] in (["stop"], ["length"])
    assert attributes["gen_ai.usage.output_tokens"] > 0
    # The provider's HTTP span lasts until the stream's end, inside the adapter's.
    provider = _one(spans, service="router", name="POST")
    assert provider.parent_span_id == adapter.span_id
    assert adapter.start_ns <= provider.start_ns
    assert provider.end_ns <= adapter.end_ns


def test_without_a_traceparent_edge_starts_the_trace(
    observed: ObservedStack, trace_key: str
) -> None:
    body = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=30) as client:
        response = client.post(
            observed.stack.base_url + "/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {trace_key}"},
        )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]

    def root() -> Span | None:
        for span in observed.otlp.receiver.spans:
            if span.service == "edge" and span.kind == "server" and not span.parent_span_id:
                policy = [
                    s for s in observed.otlp.receiver.trace(span.trace_id) if s.service == "router"
                ]
                if policy:
                    return span
        return None

    edge = wait_until(root, timeout=15, what="a trace rooted at edge")
    assert edge.parent_span_id == ""
    assert request_id
