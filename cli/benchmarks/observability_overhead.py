"""What the observability middleware costs per request, in-process (no network).

Calls one small FastAPI app through its ASGI interface, without the middleware and with
it: tracing off and no request log (the floor), tracing off with the JSON request log
written (to /dev/null), tracing on for every request and for 10% of new traces (spans
batched to an exporter that drops them) - interleaved in rounds so that machine noise
hits all alike. Prints the median cost per request over the rounds, less the bare app.

    uv run python cli/benchmarks/observability_overhead.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from starlette.responses import Response

from gateway_shared.observability import NATIVE_TELEMETRY_OFF, Observability, Tracing
from gateway_shared.observability.logs import ACCESS_LOGGER


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def app(obs: Observability | None) -> FastAPI:
    application = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)
    if obs is not None:
        obs.install(application)

    async def chat() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    application.add_api_route("/v1/chat/completions", chat, methods=["POST"])
    return application


SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/chat/completions",
    "raw_path": b"/v1/chat/completions",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"content-type", b"application/json")],
    "server": ("127.0.0.1", 8080),
    "client": ("127.0.0.1", 50000),
}


async def run(application: FastAPI, requests: int) -> float:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        pass

    started = time.perf_counter()
    for _ in range(requests):
        await application(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    access = logging.getLogger(ACCESS_LOGGER)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=100_000))
    sampled = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    sampled.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=100_000))
    setups = {
        "bare app": (app(None), logging.CRITICAL + 1),
        "middleware, tracing off, no request log": (
            app(Observability("edge", public=True, tracing=Tracing())),
            logging.CRITICAL + 1,
        ),
        "middleware, tracing off, request log": (
            app(Observability("edge", public=True, tracing=Tracing())),
            logging.INFO,
        ),
        "middleware, tracing on (every request), request log": (
            app(Observability("edge", public=True, tracing=Tracing(provider))),
            logging.INFO,
        ),
        "middleware, tracing on (10% of new traces), request log": (
            app(Observability("edge", public=True, tracing=Tracing(sampled))),
            logging.INFO,
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in setups}
    for application, _ in setups.values():
        await run(application, 200)  # warm up
    for _ in range(rounds):
        for name, (application, level) in setups.items():
            access.setLevel(level)
            results[name].append(await run(application, requests))
    base = statistics.median(results["bare app"])
    lines = [f"bare app: {base:.1f} us/request"]
    for name, values in list(results.items())[1:]:
        lines.append(f"{name}: +{statistics.median(values) - base:.1f} us/request")
    provider.shutdown()
    sampled.shutdown()
    print("\n".join(lines), file=sys.__stdout__)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with open(os.devnull, "w") as sink:  # the request log is written to stderr
        sys.stderr = sink
        try:
            asyncio.run(main(args.requests, args.rounds))
        finally:
            sys.stderr = sys.__stderr__
