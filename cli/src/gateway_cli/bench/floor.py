"""The floor: one bare FastAPI hop that forwards each request to the next hop.

Three of them chained in front of the simulator are the floor of this architecture in
Python: the same server (uvicorn on uvloop and httptools) and the same clients as the
tiers, and nothing else. ``BENCH_HOP_CLIENT`` picks the client:

- ``aiohttp``: the tiers' hop client and relay (``gateway_shared.hop``), as edge → policy
  and policy → router use it;
- ``httpx-aiohttp``: the router adapters' client (``router.providers.http_client.pooled_client``);
- ``httpx``: a stock ``httpx.AsyncClient``, only to measure the client choice
  (docs/decisions.md).

    BENCH_HOP_PORT=9001 BENCH_HOP_UPSTREAM=http://127.0.0.1:9002 python -m gateway_cli.bench.floor
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse

from gateway_shared.hop import HopClient, inward_path, relay, returned_headers
from gateway_shared.observability import NATIVE_TELEMETRY_OFF
from gateway_shared.tier.app import settled
from gateway_shared.tier.server import serve
from router.providers.http_client import close, pooled_client

CLIENTS = ("aiohttp", "httpx-aiohttp", "httpx")
_FORWARD = ("content-type", "accept", "authorization")


def make_httpx_client(kind: str, upstream: str) -> httpx.AsyncClient:
    if kind == "httpx-aiohttp":
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


async def _relay_httpx(response: httpx.Response) -> Response:
    media_type = response.headers.get("content-type", "")
    if media_type.startswith("text/event-stream"):
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            media_type=media_type,
            background=BackgroundTask(close, response),
        )
    body = await response.aread()
    await close(response)
    return Response(body, status_code=response.status_code, media_type=media_type)


def create_app(upstream: str, client: str = "aiohttp") -> FastAPI:
    if client not in CLIENTS:
        raise ValueError(f"unknown client {client!r}: one of {CLIENTS}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = (
            HopClient(upstream) if client == "aiohttp" else make_httpx_client(client, upstream)
        )
        try:
            yield
        finally:
            await app.state.client.aclose()

    app = FastAPI(
        title="floor hop",
        lifespan=settled(lifespan),
        docs_url=None,
        redoc_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,  # as in the tiers
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.post("/v1/{path:path}")
    async def forward(request: Request) -> Response:
        headers = {n: request.headers[n] for n in _FORWARD if n in request.headers}
        body = await request.body()
        http = request.app.state.client
        if isinstance(http, HopClient):
            upstream = await http.send("POST", inward_path(request), headers=headers, body=body)
            return await relay(upstream, returned_headers(upstream.headers))
        outgoing = http.build_request("POST", request.url.path, content=body, headers=headers)
        return await _relay_httpx(await http.send(outgoing, stream=True))

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
