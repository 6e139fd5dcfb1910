"""Run a tier's ASGI app the one way every tier runs: uvicorn on uvloop and httptools."""

from __future__ import annotations

import uvicorn


def serve(
    factory: str,
    *,
    host: str,
    port: int,
    log_level: str = "warning",
    graceful_seconds: int = 30,
) -> None:
    """Serve ``factory`` ("module:create_app") until SIGINT/SIGTERM.

    On SIGTERM uvicorn stops accepting connections and waits up to ``graceful_seconds``
    for in-flight requests (streams included) before it exits.
    """
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=75,
    )
