"""The handlers' way to what the lifespan created (``app.state.parts``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_shared.inner import Caller, verified_caller
from router.state import RouterState


async def _state(request: Request) -> RouterState:
    state: RouterState = request.app.state.parts
    return state


# The operators' routes (inner network only, like /readyz) take no caller.
State = Annotated[RouterState, Depends(_state)]
Call = Annotated[Caller[RouterState], Depends(verified_caller)]
