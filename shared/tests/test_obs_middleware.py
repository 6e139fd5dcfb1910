"""The observability middleware on a small app: labels, headers, errors, streams,
exemplars, in-flight accounting and ``/metrics`` content negotiation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response, StreamingResponse

from gateway_shared.errors import GatewayError, install_error_handlers
from gateway_shared.observability import (
    NATIVE_TELEMETRY_OFF,
    Observability,
    Tracing,
    current_request,
)
from gateway_shared.wire import headers as h


def _app(obs: Observability) -> FastAPI:
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)
    install_error_handlers(app)
    obs.install(app)

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> Response:
        ctx = current_request()
        assert ctx is not None
        if model_id == "known":
            ctx.model = "sim-chat"
            ctx.provider_seconds = 0.25
            ctx.set_tokens(3, 4)
            return Response(b"{}", media_type="application/json")
        raise GatewayError("no such model", status=404, code="model_not_found")

    @app.get("/boom")
    async def boom() -> Response:
        raise RuntimeError("unexpected")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"data: {i}\n\n".encode()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


def _samples(obs: Observability, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(generate_latest(obs.registry).decode()):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_labels_are_route_templates_and_bounded_values() -> None:
    obs = Observability("policy", tracing=Tracing())
    async with await _client(_app(obs)) as client:
        assert (await client.get("/v1/models/known")).status_code == 200
        assert (await client.get("/v1/models/whatever-a-client-sends")).status_code == 404
        assert (await client.get("/wp-login.php")).status_code == 404
        assert (await client.request("PROPFIND", "/v1/models/x")).status_code == 405
    counts = _samples(obs, "gateway_http_request_duration_seconds_count")
    routes = {dict(k)["route"] for k in counts}
    assert routes == {"/v1/models/{model_id}", "unmatched"}
    assert {dict(k)["model"] for k in counts} == {"sim-chat", "other"}
    assert {dict(k)["method"] for k in counts} == {"GET", "_OTHER"}
    errors = _samples(obs, "gateway_http_errors_total")
    assert (
        errors[
            (
                ("code", "model_not_found"),
                ("error_type", "invalid_request_error"),
                ("model", "other"),
                ("route", "/v1/models/{model_id}"),
                ("status_class", "4xx"),
            )
        ]
        == 1
    )
    assert (
        errors[
            (
                ("code", "unknown_url"),
                ("error_type", "invalid_request_error"),
                ("model", "other"),
                ("route", "unmatched"),
                ("status_class", "4xx"),
            )
        ]
        == 1
    )


async def test_the_middleware_carries_nothing_between_tiers_and_edge_reports_overhead() -> None:
    # What tiers tell each other is gateway_shared.wire's: the middleware adds none of it.
    inner = Observability("router", tracing=Tracing())
    async with await _client(_app(inner)) as client:
        response = await client.get("/v1/models/known")
    assert not {h.MODEL, h.PROVIDER_MS, h.USAGE, h.OVERHEAD_MS} & set(response.headers)

    edge = Observability("edge", public=True, tracing=Tracing())
    async with await _client(_app(edge)) as client:
        response = await client.get("/v1/models/known")
    assert h.MODEL not in response.headers
    assert h.PROVIDER_MS not in response.headers
    assert float(response.headers[h.OVERHEAD_MS]) >= 0
    overhead = _samples(edge, "gateway_overhead_seconds_count")
    assert overhead == {(("model", "sim-chat"), ("route", "/v1/models/{model_id}")): 1}


async def test_unexpected_errors_and_streams_leave_nothing_in_flight() -> None:
    obs = Observability("router", tracing=Tracing())
    async with await _client(_app(obs)) as client:
        with pytest.raises(RuntimeError):
            await client.get("/boom")
        response = await client.get("/stream")
        assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert _samples(obs, "gateway_http_requests_in_flight") == {(): 0}
    counts = _samples(obs, "gateway_http_request_duration_seconds_count")
    assert (
        counts[
            (
                ("method", "GET"),
                ("model", "other"),
                ("route", "/boom"),
                ("status_class", "5xx"),
                ("stream", "false"),
            )
        ]
        == 1
    )
    assert (
        counts[
            (
                ("method", "GET"),
                ("model", "other"),
                ("route", "/stream"),
                ("status_class", "2xx"),
                ("stream", "false"),
            )
        ]
        == 1
    )


async def test_a_client_gone_before_the_answer_is_a_499() -> None:
    obs = Observability("edge", public=True, tracing=Tracing())
    app = _app(obs)

    @app.get("/slow")
    async def slow(request: Request) -> Response:
        await asyncio.sleep(10)
        return Response(b"late")

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/slow",
        "raw_path": b"/slow",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "http_version": "1.1",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
    }

    async def receive() -> dict[str, object]:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        raise AssertionError("nothing is sent")

    task = asyncio.create_task(app(scope, receive, send))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    counts = _samples(obs, "gateway_http_request_duration_seconds_count")
    assert (
        counts[
            (
                ("method", "GET"),
                ("model", "other"),
                ("route", "/slow"),
                ("status_class", "4xx"),
                ("stream", "false"),
            )
        ]
        == 1
    )
    assert _samples(obs, "gateway_http_requests_in_flight") == {(): 0}


async def test_traced_requests_continue_the_callers_trace_and_leave_exemplars() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    obs = Observability("policy", tracing=Tracing(provider))
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    trace_id = traceparent.split("-")[1]
    async with await _client(_app(obs)) as client:
        await client.get("/v1/models/known", headers={"traceparent": traceparent})
        await client.get("/healthz")  # probes are not traced
        plain = await client.get("/metrics")
        openmetrics = await client.get(
            "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/models/{model_id}"
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert "trace_id" not in plain.text
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert f'# {{trace_id="{trace_id}"}}' in openmetrics.text
    assert openmetrics.text.endswith("# EOF\n")


async def test_edge_times_a_streams_first_chunk_and_labels_streams() -> None:
    edge = Observability("edge", public=True, tracing=Tracing())
    app = _app(edge)
    pause = 0.05

    @app.get("/v1/streamed")
    async def streamed() -> StreamingResponse:
        ctx = current_request()
        assert ctx is not None
        ctx.stream, ctx.model = True, "sim-chat"

        async def chunks() -> AsyncIterator[bytes]:
            await asyncio.sleep(pause)
            yield b"data: first\n\n"
            await asyncio.sleep(pause)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async with await _client(app) as client:
        assert (await client.get("/v1/streamed")).status_code == 200
        assert (await client.get("/stream")).status_code == 200  # not asked as a stream
    labels = (("model", "sim-chat"), ("route", "/v1/streamed"))
    assert _samples(edge, "gateway_time_to_first_token_seconds_count") == {labels: 1}
    first = _samples(edge, "gateway_time_to_first_token_seconds_sum")[labels]
    whole = _samples(edge, "gateway_http_request_duration_seconds_sum")
    streamed_labels = (
        ("method", "GET"),
        ("model", "sim-chat"),
        ("route", "/v1/streamed"),
        ("status_class", "2xx"),
        ("stream", "true"),
    )
    assert pause <= first < whole[streamed_labels]
