"""The FastAPI app every tier starts from: OpenAI-shaped errors and observability."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from gateway_shared.errors import install_error_handlers
from gateway_shared.observability import NATIVE_TELEMETRY_OFF, Observability


def tier_app(
    title: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    obs: Observability,
) -> FastAPI:
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    install_error_handlers(app)
    obs.install(app)
    app.state.obs = obs
    return app
