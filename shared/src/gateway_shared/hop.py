"""The pooled client from one tier to the next (edge → policy → router), and relaying.

aiohttp directly, without httpx on top: under load, httpx's request and header models
were a large share of edge's and policy's CPU (``gateway bench --profile perf``; the
decision is in docs/decisions.md). The router's provider adapters keep ``httpx``
(``router.providers.http_client``), which the adapter contract and its MockTransport tests are
written against.

One :class:`HopClient` per process, created in the app's lifespan (aiohttp binds its
session to the running loop). Bodies pass through byte for byte: no decompression, no
re-encoding. Any failure to reach the next tier or to read its answer is
:class:`HopError`; callers turn it into their own 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote

import aiohttp
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from yarl import URL

from gateway_shared.errors import GatewayError
from gateway_shared.sse import data_event
from gateway_shared.wire.headers import REPORT, RETURN_RESPONSE

HopResponse = aiohttp.ClientResponse


class HopError(Exception):
    """The next tier could not be reached, or its answer broke off."""


# What aiohttp raises for a refused or dropped connection, a bad answer or a timeout.
_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class HopClient:
    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 1000,
        connect_timeout: float = 2.0,
        pool_timeout: float = 5.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max_connections, limit_per_host=0, keepalive_timeout=60.0
            ),
            # aiohttp's "connect" covers waiting for a pooled connection as well. No read
            # timeout: a stream may pause for as long as the provider thinks.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=pool_timeout, sock_connect=connect_timeout
            ),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> HopResponse:
        """Send and return once the answer's headers are in; its body is still to read.

        ``path`` must already be percent-encoded (:func:`inward_path`).
        The caller must close or release the response.
        """
        url = URL(self._base + path, encoded=True)
        try:
            return await self._session.request(method, url, data=body, headers=headers)
        except _FAILURES as exc:
            raise HopError(type(exc).__name__) from exc

    async def ready(self, path: str = "/healthz") -> bool:
        """The next tier answers its liveness probe."""
        try:
            async with asyncio.timeout(1.0):
                response = await self.send("GET", path, headers={})
        except (HopError, TimeoutError):
            return False
        response.release()
        return response.status == 200

    async def aclose(self) -> None:
        await self._session.close()


async def read_body(response: HopResponse) -> bytes:
    """The whole body; the connection goes back to the pool (or is dropped on failure)."""
    try:
        return await response.read()
    except _FAILURES as exc:
        raise HopError(type(exc).__name__) from exc
    finally:
        response.release()


async def body_chunks(response: HopResponse) -> AsyncIterator[bytes]:
    """The body as it arrives; raises :class:`HopError` if the next tier breaks off."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except _FAILURES as exc:
        raise HopError(type(exc).__name__) from exc


async def abandon(response: HopResponse) -> None:
    """Drop the connection under an unfinished body: how a client's disconnect reaches
    the next tier, and through it every tier up to the provider.

    A coroutine that never suspends: safe in a cancelled ``finally``, and Starlette runs
    it as a background task on the loop (a plain function would go to its thread pool).
    """
    response.close()


def inward_path(request: Request) -> str:
    """The request's path, percent-encoded again for the next hop.

    Starlette hands handlers the decoded path; a path parameter (a model id) may hold
    any byte a client sent, which must not reach the next request line raw.
    """
    return quote(request.scope["path"], safe="/:@!$&'()*+,;=-._~")


def returned_headers(upstream: Mapping[str, str], *, report: bool = False) -> dict[str, str]:
    """The next tier's answer headers a tier passes outward: the client's (rate limits,
    retry hints, request id) and, from an inner tier, the router's report."""
    names = (*RETURN_RESPONSE, *REPORT) if report else RETURN_RESPONSE
    return {name: upstream[name] for name in names if name in upstream}


def is_event_stream(response: HopResponse) -> bool:
    return response.content_type == "text/event-stream"


def upstream_lost() -> GatewayError:
    return GatewayError(
        "The gateway lost its connection to an internal service before the answer was "
        "complete. Please retry.",
        status=503,
        code="upstream_unavailable",
    )


async def _relayed_chunks(response: HopResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in body_chunks(response):
            yield chunk
    except HopError:
        # The next tier died mid-stream: the client must see the stream fail, not end.
        yield data_event(upstream_lost().to_body())
    finally:
        await abandon(response)  # a no-op when the body was read to its end


def stream_response(
    response: HopResponse,
    chunks: AsyncIterator[bytes],
    headers: Mapping[str, str],
    background: BackgroundTask,
) -> StreamingResponse:
    """Answer with the next tier's event stream as ``chunks`` yields it.

    ``background`` runs once the answer is over, however it ended: it must drop the next
    tier's response, which covers a client that left before the first chunk.
    """
    return StreamingResponse(
        chunks,
        status_code=response.status,
        headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
        media_type=response.headers.get("content-type"),
        background=background,
    )


def body_response(response: HopResponse, body: bytes, headers: Mapping[str, str]) -> Response:
    """Answer with the next tier's whole body, byte for byte."""
    return Response(
        body,
        status_code=response.status,
        headers=dict(headers),
        media_type=response.headers.get("content-type"),
    )


async def relay(response: HopResponse, headers: Mapping[str, str]) -> Response:
    """Answer with the next tier's response and ``headers``.

    Event streams are relayed chunk by chunk as they arrive; the response is closed
    however the stream ends. Other bodies are read whole and passed on byte for byte.
    """
    if is_event_stream(response):
        return stream_response(
            response, _relayed_chunks(response), headers, BackgroundTask(abandon, response)
        )
    try:
        body = await read_body(response)
    except HopError:
        raise upstream_lost() from None
    return body_response(response, body, headers)
