"""The floor: one bare FastAPI hop that forwards each request to the next hop.

Three of them chained in front of the simulator are the floor of this architecture in
Python: the same server (uvicorn on uvloop and httptools), the same pooled client and
the same relay as the tiers, and nothing else. ``BENCH_HOP_CLIENT=httpx`` swaps in a
stock ``httpx.AsyncClient`` to measure the client choice (docs/decisions.md).

    BENCH_HOP_PORT=9001 BENCH_HOP_UPSTREAM=http://127.0.0.1:9002 python -m gateway_cli.bench.floor
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from gateway_shared.http import pooled_client, relay
from gateway_shared.server import serve

CLIENTS = ("aiohttp", "httpx")
_FORWARD = ("content-type", "accept", "authorization")


def make_client(kind: str, upstream: str) -> httpx.AsyncClient:
    if kind == "aiohttp":
        return pooled_client(base_url=upstream, read_timeout=None)
    if kind == "httpx":
        # The stock transport with the same pool size and timeouts as pooled_client.
        limits = httpx.Limits(
            max_connections=1000, max_keepalive_connections=1000, keepalive_expiry=60.0
        )
        return httpx.AsyncClient(
            base_url=upstream,
            limits=limits,
            timeout=httpx.Timeout(connect=2.0, read=None, write=30.0, pool=5.0),
        )
    raise ValueError(f"unknown client {kind!r}: one of {CLIENTS}")


def create_app(upstream: str, client: str = "aiohttp") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = make_client(client, upstream)
        try:
            yield
        finally:
            await app.state.client.aclose()

    app = FastAPI(title="floor hop", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.post("/v1/{path:path}")
    async def forward(request: Request) -> Response:
        http: httpx.AsyncClient = request.app.state.client
        headers = {n: request.headers[n] for n in _FORWARD if n in request.headers}
        outgoing = http.build_request(
            "POST", request.url.path, content=await request.body(), headers=headers
        )
        return await relay(await http.send(outgoing, stream=True))

    return app


def create_app_from_env() -> FastAPI:
    return create_app(
        os.environ["BENCH_HOP_UPSTREAM"], os.environ.get("BENCH_HOP_CLIENT", "aiohttp")
    )


def main() -> None:
    serve(
        "gateway_cli.bench.floor:create_app_from_env",
        host="127.0.0.1",
        port=int(os.environ["BENCH_HOP_PORT"]),
    )


if __name__ == "__main__":
    main()
