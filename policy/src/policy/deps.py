"""The handlers' way to the clients that the lifespan created."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request


def _router(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.router
    return client


RouterClient = Annotated[httpx.AsyncClient, Depends(_router)]
