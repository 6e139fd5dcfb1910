"""The app's :class:`SimState` for handlers: ``SimDep`` in FastAPI routes, ``sim_of()`` in
the plain Starlette inference routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from simulator.state import SimState


def sim_of(request: Request) -> SimState:
    sim: SimState = request.app.state.sim
    return sim


async def get_sim(request: Request) -> SimState:
    return sim_of(request)


SimDep = Annotated[SimState, Depends(get_sim)]
