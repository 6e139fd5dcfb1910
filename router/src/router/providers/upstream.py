"""What every adapter does on the wire, the same way: send with the deployment's timeouts,
map transport failures into the error hierarchy, and read event streams with deadlines.

Timeouts (``Deployment.timeouts``):

- ``connect``: reaching the provider (the HTTP client's connect and pool timeouts);
- ``first_token``: from sending the request until the stream's first token - the
  response headers, the provider's preamble events and the first token all count;
- ``idle``: the longest silence between two chunks once a stream has started;
- ``total``: the whole request, streams included.

A stream is opened by :func:`open_stream`, which returns only once the first token
arrived (the events before it are held back), so every failure up to that point is
raised while the router can still fail over, and every failure after it surfaces while
iterating, as :class:`StreamInterrupted`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import orjson

from gateway_shared.sse import EventFramer, data_event
from router.catalog import Timeouts
from router.providers.assembly import assembler_for
from router.providers.base import Completion, CompletionStream, Operation, Usage
from router.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)
from router.providers.http_client import close

log = logging.getLogger("router.providers")

# Maps a provider's non-2xx answer (status, headers, bounded body) to an error.
ErrorMapper = Callable[[int, httpx.Headers, bytes], ProviderError]

# Bound on an error body read from a provider: enough for any real message.
ERROR_BODY_LIMIT = 64 * 1024


def client_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """The HTTP client's own limits; first-token and total deadlines are enforced here."""
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.total, write=timeouts.total, pool=timeouts.connect
    )


def retry_after(headers: httpx.Headers) -> float | None:
    """The provider's Retry-After in seconds (``retry-after-ms``, seconds or an HTTP date)."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def status_error(status: int, headers: httpx.Headers) -> ProviderError | None:
    """The error for a status every provider means the same way (rate limited, failed,
    credentials refused); ``None`` for a rejection, whose body each adapter reads."""
    if status == 429:
        return ProviderRateLimited(retry_after(headers))
    if status >= 500 or status == 408:
        return ProviderUnavailable(
            f"The model provider failed with status {status}.", retry_after=retry_after(headers)
        )
    if status in (401, 403):
        # The provider refused the gateway's credentials: an operator problem, and its
        # message might echo part of the key, so it is not passed on.
        log.error("provider rejected the gateway's credentials (status %d)", status)
        return ProviderError("The gateway is misconfigured for this model provider.")
    return None


def _timed_out(exc: BaseException) -> bool:
    """A real timeout. httpx-aiohttp maps a refused connection to ``ConnectTimeout`` too
    (its exception table picks the first match); that one is an unavailable provider."""
    return isinstance(exc, httpx.TimeoutException) and (
        exc.__cause__ is None or isinstance(exc.__cause__, TimeoutError)
    )


async def model_ids(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], limits: httpx.Timeout
) -> list[str]:
    """The ids of an OpenAI-style model list (``{"data": [{"id": ...}]}``)."""
    try:
        response = await client.get(url, headers=headers, timeout=limits)
        response.raise_for_status()
        data = response.json().get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError):
        raise ProviderUnavailable("Could not list the provider's models.") from None
    return [str(m.get("id")) for m in data if isinstance(m, dict)]


async def read_bounded(response: httpx.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                break
    except httpx.HTTPError:
        pass
    return body[:limit]


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, errors: ErrorMapper
) -> httpx.Response:
    """Send ``request`` and return its open (streamed) response, or raise the mapped error."""
    response = await client.send(request, stream=True)
    if response.status_code < 400:
        return response
    try:
        body = await read_bounded(response)
    finally:
        await close(response)
    raise errors(response.status_code, response.headers, body)


async def fetch(
    client: httpx.AsyncClient, request: httpx.Request, limit: float, errors: ErrorMapper
) -> tuple[httpx.Response, bytes]:
    """A whole answer read as one body, within ``limit`` seconds (``timeouts.total``, or
    ``timeouts.embeddings``): the response and its body."""
    try:
        async with asyncio.timeout(limit):
            response = await _send(client, request, errors)
            try:
                body = await response.aread()
            finally:
                await close(response)
    except TimeoutError:
        raise ProviderTimeout(f"The model provider sent no answer within {limit:g}s.") from None
    except httpx.HTTPError as exc:
        if _timed_out(exc):
            raise ProviderTimeout() from None
        raise ProviderUnavailable("Could not get an answer from the model provider.") from None
    return response, body


def whole_answer_limit(operation: Operation, timeouts: Timeouts) -> float:
    """How long a whole answer read as one body may take."""
    if operation is Operation.EMBEDDINGS:
        return min(timeouts.total, timeouts.embeddings)
    return timeouts.total


class EventTranslator(ABC):
    """Turns one provider's SSE events into the events of the API the stream was opened
    in (OpenAI chat chunks, or the Responses API's events), and keeps count.

    ``feed`` raises a :class:`ProviderError` for an error event or an unreadable one.
    """

    #: The answer's first token (or its end) has been seen: the stream may be handed over.
    started: bool = False
    #: The provider's end-of-stream event has been seen.
    finished: bool = False

    @abstractmethod
    def feed(self, event: bytes) -> list[bytes]: ...

    @property
    @abstractmethod
    def usage(self) -> Usage:
        """The provider's count, or an estimate (``estimated=True``) if it never said."""

    def failure_event(self, error: ProviderError) -> bytes:
        """The event that ends a stream ``error`` broke (chat: an error chunk)."""
        return data_event(error.to_body())


class SSEStream(CompletionStream):
    """An upstream event stream relayed through a translator, with idle/total deadlines."""

    def __init__(
        self,
        response: httpx.Response,
        translator: EventTranslator,
        timeouts: Timeouts,
        started_at: float,
    ) -> None:
        self._response = response
        # Decoded bytes: a provider may compress its stream (httpx asks for gzip).
        self._chunks = response.aiter_bytes()
        self._translator = translator
        self._framer = EventFramer()
        self._held: list[bytes] = []
        self._idle = timeouts.idle
        self._total = timeouts.total
        self._deadline = started_at + timeouts.total

    @property
    def usage(self) -> Usage:
        return self._translator.usage

    def failure_event(self, error: ProviderError) -> bytes:
        return self._translator.failure_event(error)

    def _translate(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        for event in self._framer.feed(chunk):
            out.extend(self._translator.feed(event))
        return out

    async def _next_chunk(self) -> bytes | None:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return None

    async def start(self) -> None:
        """Read until the first token; the caller bounds this with the first-token deadline."""
        while not self._translator.started:
            chunk = await self._next_chunk()
            if chunk is None:
                raise ProviderUnavailable("The model provider ended the stream before answering.")
            self._held.extend(self._translate(chunk))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._held:
            held, self._held = self._held, []
            yield b"".join(held)
        loop = asyncio.get_running_loop()
        while not self._translator.finished:
            remaining = self._deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(min(self._idle, remaining)):
                    chunk = await self._next_chunk()
            except TimeoutError:
                if remaining <= self._idle:
                    message = f"The model provider's stream exceeded {self._total:g}s."
                else:
                    message = f"The model provider's stream stalled for {self._idle:g}s."
                raise StreamInterrupted(message) from None
            except httpx.HTTPError:
                raise StreamInterrupted() from None
            if chunk is None:
                raise StreamInterrupted()
            try:
                out = self._translate(chunk)
            except ProviderError as exc:
                raise StreamInterrupted(exc.message) from None
            if out:
                yield b"".join(out)

    async def aclose(self) -> None:
        await close(self._response)


async def assembled(opening: Awaitable[SSEStream], operation: Operation) -> Completion:
    """The whole answer of a stream, once ``opening`` returns it (its first token came):
    read to its end and assembled (``providers.assembly``). A stream that breaks on the
    way is a retryable failure: nothing reached the client yet."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    stream = await opening
    first_token = loop.time() - sent
    assembler = assembler_for(operation)
    try:
        async for chunk in stream:
            assembler.feed(chunk)
    except StreamInterrupted as exc:
        raise ProviderUnavailable(
            f"The model provider's answer broke off before it was complete ({exc.message})"
        ) from None
    finally:
        await stream.aclose()
    usage = stream.usage
    return Completion(
        status=200,
        body=orjson.dumps(assembler.answer(usage)),
        content_type="application/json",
        usage=usage,
        first_token_seconds=first_token,
    )


async def open_stream(
    client: httpx.AsyncClient,
    request: httpx.Request,
    timeouts: Timeouts,
    errors: ErrorMapper,
    translator: EventTranslator,
) -> SSEStream:
    """Send ``request`` and return its stream once the first token arrived.

    Everything up to the first token - connecting, the status, the provider's preamble -
    must happen within ``timeouts.first_token`` of sending; otherwise the request fails
    here with a retryable error and the upstream connection is closed.
    """
    started_at = asyncio.get_running_loop().time()
    response: httpx.Response | None = None
    try:
        async with asyncio.timeout(timeouts.first_token):
            response = await _send(client, request, errors)
            stream = SSEStream(response, translator, timeouts, started_at)
            await stream.start()
            return stream
    except BaseException as exc:
        if response is not None:
            await close(response)
        if isinstance(exc, TimeoutError):
            raise ProviderTimeout(
                f"The model provider sent no first token within {timeouts.first_token:g}s."
            ) from None
        if _timed_out(exc):
            raise ProviderTimeout() from None
        if isinstance(exc, httpx.HTTPError):
            raise ProviderUnavailable("Could not get an answer from the model provider.") from None
        raise
