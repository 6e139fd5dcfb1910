"""The simulator's ASGI app: an OpenAI-compatible stand-in for a vLLM server.

``create_app(settings)`` builds a fresh app with its own state (``app.state.sim``);
settings default to the ``SIM_*`` environment, read when the app is built.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway_shared.errors import install_error_handlers
from simulator.responses import InjectedCutLogFilter
from simulator.routes import INFERENCE_ROUTES, admin, ops, v1
from simulator.settings import SimulatorSettings
from simulator.state import SimState


def create_app(settings: SimulatorSettings | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # uvicorn logs a response that stops half-way as an error; the injected ones
        # (disconnect_after_tokens) are on purpose.
        server_log = logging.getLogger("uvicorn.error")
        log_filter = InjectedCutLogFilter()
        server_log.addFilter(log_filter)
        try:
            yield
        finally:
            server_log.removeFilter(log_filter)
            if sim.engine is not None:
                await sim.engine.aclose()

    app = FastAPI(
        title="LLM simulator",
        description="OpenAI-compatible stand-in for vLLM, with latency and fault injection.",
        version="0.1.0",
        lifespan=lifespan,
        # No OpenTelemetry in the simulator: it costs per request and vLLM has none by default.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.sim = sim = SimState(settings)
    install_error_handlers(app)
    for path, endpoint in INFERENCE_ROUTES:
        app.router.add_route(path, endpoint, methods=["POST"], include_in_schema=False)
    app.include_router(v1)
    app.include_router(admin)
    app.include_router(ops)
    return app
