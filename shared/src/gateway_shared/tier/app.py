"""The FastAPI app every tier starts from: OpenAI-shaped errors and observability."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from fastapi import FastAPI

from gateway_shared.errors import install_error_handlers
from gateway_shared.observability import NATIVE_TELEMETRY_OFF, Observability
from gateway_shared.tier.memory import release_free_memory_periodically

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def settled(lifespan: Lifespan) -> Lifespan:
    """``lifespan`` plus what every server process of ours does around it (the tiers, and
    the benchmark's floor hops, which must stay the best this architecture does)."""

    @asynccontextmanager
    async def settled_lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Starlette streams a response inside an anyio task group, and anyio loads its
        # asyncio backend on first use, which the first stream a new process served paid
        # in each tier (tens of milliseconds). Loaded before the process reports ready.
        async with anyio.create_task_group():
            pass
        async with lifespan(app):
            # What start-up built lives as long as the process. Frozen, it is left out of
            # the cycle collector's full collections, which otherwise walked all of it
            # with the event loop stopped (uv run python cli/benchmarks/reference_cycles.py).
            gc.freeze()
            trimmer = asyncio.create_task(release_free_memory_periodically())
            try:
                yield
            finally:
                trimmer.cancel()

    return settled_lifespan


def tier_app(title: str, lifespan: Lifespan, obs: Observability) -> FastAPI:
    app = FastAPI(
        title=title,
        lifespan=settled(lifespan),
        docs_url=None,
        redoc_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    install_error_handlers(app)
    obs.install(app)
    app.state.obs = obs
    return app
