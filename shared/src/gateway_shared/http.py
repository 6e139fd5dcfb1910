"""The pooled HTTP client each tier keeps to the next one, and relaying its answers.

httpx over the aiohttp transport: measured on these machines, a stock
``httpx.AsyncClient`` collapsed at 50 concurrent requests where this served ~6x more
(docs/decisions.md). One client per process, created in the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote

import anyio
import httpx
from httpx_aiohttp import AiohttpTransport
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway_shared.errors import GatewayError
from gateway_shared.headers import RETURN_RESPONSE
from gateway_shared.observability.tracing import Tracing
from gateway_shared.observability.transport import TracedTransport
from gateway_shared.sse import data_event


def pooled_client(
    *,
    max_connections: int = 1000,
    connect_timeout: float = 2.0,
    read_timeout: float | None = 600.0,
    base_url: str = "",
    tracing: Tracing | None = None,
) -> httpx.AsyncClient:
    """``tracing``: give each request an HTTP client span (when tracing is on)."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=60.0,
    )
    transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits)
    if tracing is not None and tracing.enabled:
        transport = TracedTransport(transport, tracing.tracer)
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=30.0, pool=5.0),
    )


def inward_path(request: Request) -> str:
    """The request's path, percent-encoded again for the next hop.

    Starlette hands handlers the decoded path; a path parameter (a model id) may hold
    any byte a client sent, which must not reach the next request line raw.
    """
    return quote(request.url.path, safe="/:@!$&'()*+,;=-._~")


def returned_headers(upstream: httpx.Headers | Mapping[str, str]) -> dict[str, str]:
    return {name: upstream[name] for name in RETURN_RESPONSE if name in upstream}


def is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")


def upstream_lost() -> GatewayError:
    return GatewayError(
        "The gateway lost its connection to an internal service before the answer was "
        "complete. Please retry.",
        status=503,
        code="upstream_unavailable",
    )


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        # The next tier died mid-stream: the client must see the stream fail, not end.
        yield data_event(upstream_lost().to_body())
    finally:
        # Shielded: when the client left, this runs inside a cancelled scope, and an
        # unshielded await would be cancelled before the connection upstream is dropped.
        with anyio.CancelScope(shield=True):
            await response.aclose()


async def relay(
    response: httpx.Response, extra_headers: Mapping[str, str] | None = None
) -> Response:
    """Answer with an upstream response opened with ``stream=True``.

    Event streams are relayed chunk by chunk as they arrive. The upstream response is
    closed however the stream ends (the background task covers a client that left
    before the first chunk); closing it mid-body drops that connection, which is how a
    client's disconnect cancels the request at every tier up to the provider. Other bodies are
    read whole and passed on byte for byte.
    """
    headers = returned_headers(response.headers)
    if extra_headers:
        headers.update(extra_headers)
    media_type = response.headers.get("content-type")
    if is_event_stream(response):
        return StreamingResponse(
            _raw_chunks(response),
            status_code=response.status_code,
            headers=headers | {"cache-control": "no-cache", "x-accel-buffering": "no"},
            media_type=media_type,
            background=BackgroundTask(response.aclose),
        )
    try:
        body = await response.aread()
    except httpx.HTTPError:
        raise upstream_lost() from None
    finally:
        await response.aclose()
    return Response(body, status_code=response.status_code, headers=headers, media_type=media_type)
