"""The pooled httpx client the router's provider adapters are given.

httpx over the aiohttp transport: measured on these machines, a stock
``httpx.AsyncClient`` collapsed at 50 concurrent requests where this served ~6x more
(docs/decisions.md). One client per process, created in the app's lifespan. The tiers'
own hops to each other use aiohttp directly (``gateway_shared.hop``).
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from gateway_shared.observability.tracing import Tracing
from gateway_shared.observability.transport import TracedTransport


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
