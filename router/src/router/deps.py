"""What a router route is given: the caller edge vouched for, with the router's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_shared.vouched import Vouched, vouched
from router.state import RouterState


async def _state(request: Request) -> RouterState:
    state: RouterState = request.app.state.services
    return state


# The operators' routes (inner network only, like /readyz) take no caller.
State = Annotated[RouterState, Depends(_state)]
Vouch = Annotated[Vouched[RouterState], Depends(vouched)]
