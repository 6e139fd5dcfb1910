"""ASGI responses that take time: delayed bodies, SSE streams, hung requests.

Each one watches for the client going away while it waits or streams
(:class:`DisconnectWatch`): a disconnect cancels the work at once and the request ends as
``cancelled`` - this is how the gateway's tests prove that a client disconnect cancels
the upstream request. Whatever happens, each response ends its :class:`RequestRecord`
exactly once.

An injected disconnect (``disconnect_after_tokens``) sends part of the answer, then
returns without completing it: uvicorn closes the connection, so the client sees a
truncated body (no chunked-encoding terminator, no ``data: [DONE]``).
uvicorn logs that as an error; :class:`InjectedCutLogFilter` silences exactly those.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from simulator.faults import FaultConfig
from simulator.payloads import MALFORMED_EVENT, StreamEvents
from simulator.state import RequestRecord
from simulator.stats import Outcome

# Set in the request's task when the simulator drops a response on purpose.
_injected_cut: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "simulator_injected_cut", default=False
)

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


class InjectedCutLogFilter(logging.Filter):
    """Drops uvicorn's error record for a response the simulator cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_injected_cut.get() and "without completing response" in str(record.msg))


class DisconnectWatch:
    """While active, cancels the current task as soon as the client disconnects.

    The request body must have been read already: from then on ``receive()`` only
    returns once the client has gone (``http.disconnect``). With ``needed=False`` it
    watches nothing: a response with no delay is written without ever yielding to the
    event loop, so there is no moment at which a disconnect could be noticed anyway.
    """

    __slots__ = ("_active", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Receive, *, needed: bool = True) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._active = needed
        self.disconnected = False
        self._watcher = asyncio.create_task(self._watch(receive)) if needed else None

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if self._active:
            self.disconnected = True
            self._task.cancel()

    def uncancel(self) -> None:
        """Undo our own cancel once its CancelledError has been caught."""
        self._task.uncancel()

    def stop(self) -> None:
        self._active = False
        if self._watcher is not None:
            self._watcher.cancel()


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(body: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": more}


class _TimedResponse(Response):
    """Base: a response whose body is produced in ``__call__``, not up front."""

    def __init__(self, record: RequestRecord, finish_reason: str) -> None:
        self.status_code = 200
        self.background = None
        self.record = record
        self.finish_reason = finish_reason
        self.outcome = Outcome.CANCELLED
        self.emitted = 0

    def _end(self) -> None:
        self.record.end(self.outcome, self.emitted, self.finish_reason)


class HangResponse(_TimedResponse):
    """Sends nothing, ever; ends ``cancelled`` when the client goes away."""

    def __init__(self, record: RequestRecord) -> None:
        super().__init__(record, "abort")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            self._end()


class DelayedResponse(_TimedResponse):
    """A whole JSON body sent after ``ttft + rest`` seconds, or cut half-way."""

    def __init__(
        self,
        record: RequestRecord,
        body: bytes,
        *,
        ttft_s: float,
        rest_s: float,
        tokens: int,
        finish_reason: str,
        cut: bool,
        faulty: bool,
    ) -> None:
        super().__init__(record, finish_reason)
        self.payload = body
        self.ttft_s = ttft_s
        self.rest_s = rest_s
        self.tokens = tokens
        self.cut = cut
        self.faulty = faulty
        self.raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = DisconnectWatch(receive, needed=self.ttft_s > 0 or self.rest_s > 0)
        try:
            if self.ttft_s > 0:
                await asyncio.sleep(self.ttft_s)
            self.record.first_token()
            if self.rest_s > 0:
                await asyncio.sleep(self.rest_s)
            await send(_start(200, self.raw_headers))
            if self.cut:
                self.emitted = self.tokens // 2
                await send(_body(self.payload[: len(self.payload) // 2], more=True))
                watch.stop()
                self.outcome = Outcome.INJECTED
                _injected_cut.set(True)
                return
            self.emitted = self.tokens
            await send(_body(self.payload, more=False))
            self.outcome = Outcome.INJECTED if self.faulty else Outcome.COMPLETED
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise
            watch.uncancel()
        finally:
            watch.stop()
            self._end()


class EventStream(_TimedResponse):
    """A ``text/event-stream`` answer, paced by ``ttft_ms``/``itl_ms``.

    Events due at the same moment go out in one write: with no delays the whole stream
    is one write, with ``itl_ms`` each token is written when it is due.
    """

    def __init__(
        self,
        record: RequestRecord,
        chunks: StreamEvents,
        faults: FaultConfig,
        *,
        choices: int,
        tokens: int,
        finish_reason: str,
        prompt_tokens: int,
        include_usage: bool,
    ) -> None:
        super().__init__(record, finish_reason)
        self.raw_headers = SSE_HEADERS
        self.chunks = chunks
        self.faults = faults
        self.choices = range(choices)
        self.tokens = tokens
        self.prompt_tokens = prompt_tokens
        self.include_usage = include_usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(_start(200, self.raw_headers))
        faults = self.faults
        watch = DisconnectWatch(receive, needed=faults.ttft_ms > 0 or faults.itl_ms > 0)
        try:
            await self._stream(send, watch)
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise
            watch.uncancel()
        finally:
            watch.stop()
            self._end()

    async def _stream(self, send: Send, watch: DisconnectWatch) -> None:
        faults, chunks, choices = self.faults, self.chunks, self.choices
        itl = faults.itl_s
        cut = faults.disconnect_after_tokens
        malformed_after = (self.tokens + 1) // 2 if faults.malformed_stream else -1
        pieces: list[bytes] = []
        if faults.ttft_ms > 0:
            await asyncio.sleep(faults.ttft_s)
        self.record.first_token()
        for choice in choices:
            pieces.append(chunks.role(choice))
        for t in range(self.tokens):
            if t == cut:
                await self._cut(send, pieces, watch)
                return
            if t > 0 and itl > 0:
                await send(_body(b"".join(pieces), more=True))
                pieces.clear()
                await asyncio.sleep(itl)
            for choice in choices:
                pieces.append(chunks.content(choice, t))
            self.emitted += len(choices)
            if t + 1 == malformed_after:
                pieces.append(MALFORMED_EVENT)
        if cut == self.tokens:
            await self._cut(send, pieces, watch)
            return
        for choice in choices:
            pieces.append(chunks.finish(choice, self.finish_reason))
        if self.include_usage:
            pieces.append(chunks.usage(self.prompt_tokens, self.tokens * len(choices)))
        pieces.append(chunks.done)
        await send(_body(b"".join(pieces), more=False))
        self.outcome = Outcome.INJECTED if faults.malformed_stream else Outcome.COMPLETED

    async def _cut(self, send: Send, pieces: list[bytes], watch: DisconnectWatch) -> None:
        if pieces:
            await send(_body(b"".join(pieces), more=True))
        watch.stop()
        self.outcome = Outcome.INJECTED
        _injected_cut.set(True)


def plain_json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)
