"""Run a tier's ASGI app the one way every tier runs: uvicorn on uvloop and httptools."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import uvicorn
from starlette.datastructures import State
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string

from gateway_shared.observability.logs import configure_logging
from gateway_shared.tier.settings import TierSettings
from gateway_shared.tier.startup import ReadableLifespan, announce_ready


class _Server(uvicorn.Server):
    """uvicorn's server, announcing itself once it listens (not before: a port already
    taken stops it after the lifespan has started)."""

    def __init__(self, config: uvicorn.Config, service: str, state: State | None) -> None:
        super().__init__(config)
        self._service = service
        self._state = state

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            summary = getattr(self._state, "summary", None)
            announce_ready(self._service, self.config.host, self._bound_port(), summary)

    def _bound_port(self) -> int:
        for server in self.servers:
            for sock in server.sockets:
                port: int = sock.getsockname()[1]
                return port
        return self.config.port


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
    ``access_log``: one line per request (docs/observability.md). Once listening it logs
    one ready line; a :class:`~gateway_shared.tier.startup.ConfigurationError` at start
    is one line too, and the process exits non-zero.
    """
    service = factory.split(".", 1)[0].split(":", 1)[0]
    configure_logging(service, log_level, access_log=access_log)
    app = import_from_string(factory)()
    config = uvicorn.Config(
        app,
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
    config.load()
    config.lifespan_class = ReadableLifespan
    server = _Server(config, service, getattr(app, "state", None))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


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
