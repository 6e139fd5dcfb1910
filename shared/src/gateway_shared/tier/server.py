"""Run a tier's ASGI app the one way every tier runs: uvicorn on uvloop and httptools."""

from __future__ import annotations

import uvicorn

from gateway_shared.observability.logs import configure_logging
from gateway_shared.tier.settings import TierSettings


def serve(
    factory: str,
    *,
    host: str,
    port: int,
    log_level: str = "warning",
    graceful_seconds: int = 30,
    access_log: bool = True,
) -> None:
    """Serve ``factory`` ("module:create_app") until SIGINT/SIGTERM.

    On SIGTERM uvicorn stops accepting connections and waits up to ``graceful_seconds``
    for in-flight requests (streams included) before it exits. Every log line of the
    process is JSON on stderr, named after the factory's package (``edge``, ...);
    ``access_log``: one line per request (docs/observability.md).
    """
    configure_logging(factory.split(".", 1)[0], log_level, access_log=access_log)
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=log_level,
        log_config=None,
        access_log=False,
        server_header=False,
        # No tier reads the client's address, so X-Forwarded-* need not be parsed.
        proxy_headers=False,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=75,
    )


def serve_tier(factory: str, settings: TierSettings) -> None:
    """Serve a tier with its own settings (host, port, logging, graceful shutdown)."""
    serve(
        factory,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        graceful_seconds=settings.graceful_seconds,
        access_log=settings.access_log,
    )
