"""The handlers' way to what the lifespan created."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from router.state import RouterState


async def _state(request: Request) -> RouterState:
    state: RouterState = request.app.state.router
    return state


State = Annotated[RouterState, Depends(_state)]
