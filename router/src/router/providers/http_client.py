"""The pooled httpx client the router's provider adapters are given.

httpx over the aiohttp transport: a stock ``httpx.AsyncClient`` collapses under
concurrent load where this does not (``uv run gateway bench``'s HTTP client comparison;
docs/decisions.md). One client per process, created in the app's lifespan. The tiers'
own hops to each other use aiohttp directly (``gateway_shared.hop``).

The client keeps no cookies: it serves every tenant, so a provider's ``Set-Cookie`` (a
CDN's bot-management cookie, say) must not ride along on other callers' requests.
"""

from __future__ import annotations

from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from gateway_shared.observability.tracing import Tracing
from router.observability.http_spans import TracedTransport


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        """Nothing is kept (and the per-response cookie parsing is skipped)."""


class _CookielessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose cookie jar stays empty."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the providers' client keeps no cookies")


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
    return _CookielessClient(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=30.0, pool=5.0),
    )


async def close(response: httpx.Response) -> None:
    """Close ``response`` and let go of its body stream.

    httpx's response and the stream wrapping its body refer to each other: a reference
    cycle, with the whole aiohttp response behind it, that only the cyclic garbage
    collector frees, on every request (``uv run python cli/benchmarks/reference_cycles.py``
    measures it). A closed response needs no stream.
    """
    await response.aclose()
    response.stream = _CLOSED


_CLOSED = httpx.ByteStream(b"")
