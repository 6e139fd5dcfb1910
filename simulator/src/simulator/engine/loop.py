"""The engine in real time: one asyncio task steps the scheduler while it has work.

A request is submitted as an :class:`EngineRequest`; the caller waits on its
:class:`Progress` (set after every step in which it sampled a token) and aborts it if
its client goes away. Steps take the time the profile gives them (``asyncio.sleep``);
the loop sleeps on an event while the engine is idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway_shared.tier.tasks import cancel
from simulator.engine.scheduler import EngineRequest, Scheduler


class Progress:
    """Wakes the request's response after each of its steps."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __call__(self, _: EngineRequest) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event.clear()


class EngineLoop:
    def __init__(
        self, scheduler: Scheduler, on_step: Callable[[Scheduler], None] | None = None
    ) -> None:
        self.scheduler = scheduler
        self._on_step = on_step
        self._work = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, request: EngineRequest) -> None:
        self.scheduler.add(request)
        self._changed()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simulator-engine")

    def reset(self) -> None:
        """An empty engine with a cold cache; requests still inside are abandoned."""
        scheduler = self.scheduler
        abandoned = [*scheduler.running, *scheduler.queued()]
        self.scheduler = Scheduler(scheduler.profile)
        for request in abandoned:
            scheduler.abort(request)
            if request.notify is not None:  # its answer ends, cut short
                request.notify(request)
        self._changed()

    def abort(self, request: EngineRequest) -> None:
        self.scheduler.abort(request)
        self._changed()

    def _changed(self) -> None:
        self._work.set()
        if self._on_step is not None:
            self._on_step(self.scheduler)

    async def _run(self) -> None:
        while True:
            scheduler = self.scheduler  # a reset replaces it
            if scheduler.idle:
                self._work.clear()
                await self._work.wait()
            step = scheduler.schedule()
            if not step.work:  # waiting requests that do not fit: wait for a change
                self._work.clear()
                await self._work.wait()
                continue
            await asyncio.sleep(step.seconds)
            for request in scheduler.complete(step):
                if request.notify is not None:
                    request.notify(request)
            if self._on_step is not None:
                self._on_step(scheduler)

    async def aclose(self) -> None:
        await cancel(self._task)
        self._task = None
