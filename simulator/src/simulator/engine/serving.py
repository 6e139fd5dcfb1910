"""Answers timed by the engine: a request waits for its steps, not for fixed delays.

The response submits its :class:`EngineRequest` when it starts, streams each token as
the step that sampled it ends (or sends the whole body once the last one is sampled),
and takes the request out of the engine if the client goes away first. The answer's
``cached_tokens`` are the engine's prefix-cache hits. Fault injection other than errors
and hangs does not apply in engine mode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from simulator.engine.loop import EngineLoop, Progress
from simulator.engine.scheduler import EngineRequest
from simulator.generation import Answer
from simulator.parsing import GenerationJob
from simulator.payloads import StreamEvents
from simulator.responses import SSE_HEADERS, DisconnectWatch, _body, _start, _TimedResponse
from simulator.state import RequestRecord
from simulator.stats import Outcome

BodyRenderer = Callable[[GenerationJob, str, int, Answer], bytes]
EventsRenderer = Callable[[GenerationJob, str, int, bytes, Answer], StreamEvents]


class EngineAnswer(_TimedResponse):
    """A generation answered at the engine's pace, streamed or whole, in its API's shape."""

    def __init__(
        self,
        record: RequestRecord,
        engine: EngineLoop,
        job: GenerationJob,
        hashes: tuple[bytes, ...],
        answer: Answer,
        *,
        rid: str,
        model_json: bytes,
        render_body: BodyRenderer,
        render_events: EventsRenderer,
    ) -> None:
        super().__init__(record, answer.finish_reason)
        self.engine = engine
        self.job = job
        self.answer = answer
        self.rid = rid
        self.created = int(time.time())
        self.model_json = model_json
        self.render_body = render_body
        self.render_events = render_events
        self.progress = Progress()
        self.request = EngineRequest(
            prompt_tokens=max(job.prompt_tokens, 1),
            max_output=answer.tokens,
            hashes=hashes,
            priority=job.priority,
            notify=self.progress,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = DisconnectWatch(receive)
        self.engine.submit(self.request)
        try:
            if self.job.stream:
                await self._stream(send)
            else:
                await self._whole(send)
            self.outcome = Outcome.COMPLETED
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise
            watch.uncancel()
        finally:
            watch.stop()
            self.engine.abort(self.request)
            self._end()

    def _cached(self) -> Answer:
        return self.answer._replace(cached_tokens=self.request.cached_tokens)

    async def _whole(self, send: Send) -> None:
        request = self.request
        while not request.finished:
            await self.progress.wait()
            if request.output:
                self.record.first_token()
        self.emitted = request.output * self.job.choices
        body = self.render_body(self.job, self.rid, self.created, self._cached())
        await send(_start(200, [(b"content-type", b"application/json")]))
        await send(_body(body, more=False))

    async def _stream(self, send: Send) -> None:
        request, job = self.request, self.job
        choices = range(job.choices)
        await send(_start(200, SSE_HEADERS))
        events: StreamEvents | None = None
        sent = 0
        pieces: list[bytes] = []
        while not request.finished:
            await self.progress.wait()
            if events is None and request.output:
                self.record.first_token()
                events = self.render_events(
                    job, self.rid, self.created, self.model_json, self._cached()
                )
                pieces.extend(events.role(c) for c in choices)
            if events is None:
                continue
            for t in range(sent, request.output):
                pieces.extend(events.content(c, t) for c in choices)
            self.emitted = request.output * job.choices
            sent = request.output
            if not request.finished:
                await send(_body(b"".join(pieces), more=True))
                pieces.clear()
        if events is None:  # taken out of the engine before its first token
            return
        pieces.extend(events.finish(c, self.finish_reason) for c in choices)
        if job.include_usage:
            pieces.append(events.usage(job.prompt_tokens, self.emitted))
        pieces.append(events.done)
        await send(_body(b"".join(pieces), more=False))
