"""Answers timed by the engine: a request waits for its steps, not for fixed delays.

The response submits its :class:`EngineRequest` when it starts, streams each token as
the step that sampled it ends (or sends the whole body once the last one is sampled),
and takes the request out of the engine if the client goes away first. Fault injection
other than errors and hangs does not apply in engine mode.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Scope, Send

from simulator import payloads
from simulator.engine.loop import EngineLoop, Progress
from simulator.engine.scheduler import EngineRequest
from simulator.parsing import GenerationJob
from simulator.payloads import DONE, StreamChunks
from simulator.responses import SSE_HEADERS, DisconnectWatch, _body, _start, _TimedResponse
from simulator.state import RequestRecord
from simulator.stats import Outcome


class EngineAnswer(_TimedResponse):
    """A generation answered at the engine's pace, streamed or whole."""

    def __init__(
        self,
        record: RequestRecord,
        engine: EngineLoop,
        job: GenerationJob,
        hashes: tuple[bytes, ...],
        *,
        rid: str,
        created: int,
        model_json: bytes,
        tokens: int,
        finish_reason: str,
    ) -> None:
        super().__init__(record, finish_reason)
        self.engine = engine
        self.job = job
        self.rid = rid
        self.created = created
        self.model_json = model_json
        self.progress = Progress()
        self.request = EngineRequest(
            prompt_tokens=max(job.prompt_tokens, 1),
            max_output=tokens,
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

    async def _whole(self, send: Send) -> None:
        request = self.request
        while not request.finished:
            await self.progress.wait()
            if request.output:
                self.record.first_token()
        job = self.job
        self.emitted = request.output * job.choices
        body = payloads.generation_body(
            job,
            self.rid,
            self.created,
            request.output,
            self.finish_reason,
            cached_tokens=request.cached_tokens,
        )
        await send(_start(200, [(b"content-type", b"application/json")]))
        await send(_body(body, more=False))

    async def _stream(self, send: Send) -> None:
        request, job = self.request, self.job
        chunks = StreamChunks(job, self.rid, self.created, self.model_json)
        choices = range(job.choices)
        await send(_start(200, SSE_HEADERS))
        sent = 0
        pieces: list[bytes] = []
        while not request.finished:
            await self.progress.wait()
            if sent == 0 and request.output:
                self.record.first_token()
                pieces.extend(chunks.role(c) for c in choices)
            for t in range(sent, request.output):
                pieces.extend(chunks.content(c, t) for c in choices)
            self.emitted = request.output * job.choices
            sent = request.output
            if not request.finished:
                await send(_body(b"".join(pieces), more=True))
                pieces.clear()
        pieces.extend(chunks.finish(c, self.finish_reason) for c in choices)
        if job.include_usage:
            pieces.append(chunks.usage(job.prompt_tokens, self.emitted, request.cached_tokens))
        pieces.append(DONE)
        await send(_body(b"".join(pieces), more=False))
