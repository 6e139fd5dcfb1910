"""One request's way through the response cache, from policy's inference route.

:func:`look_up` reads the caller's cache control and, unless told otherwise, the entry
(one GET on the cache Redis). The route then answers a hit with :meth:`CacheLookup.hit`
(after admitting it, ``Admission.admit_hit``), or asks the router and passes the answer
through :meth:`CacheLookup.whole` or :meth:`CacheLookup.recorded`, which store it if it
may be stored - before the caller has all of it, so one that sends the request again
as soon as it has its answer finds it.
Every answer to a plan with a cache says which it was in ``x-gateway-cache``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import orjson
from starlette.responses import Response

from gateway_shared import cache_layout
from gateway_shared.wire import headers as h
from gateway_shared.wire.identity import Api, Identity, RequestSummary
from policy.accounting import cost_text
from policy.cache import replay
from policy.cache.entry import Entry, Form, StreamRecorder, storable_answer
from policy.cache.request import Mode, digest, mode, wants_usage
from policy.cache.store import ResponseCache

# The APIs whose whole answers can be replayed as a stream (embeddings never stream).
_REPLAYABLE = frozenset({Api.CHAT, Api.COMPLETIONS, Api.RESPONSES, Api.MESSAGES})
_SSE = "text/event-stream"


@dataclass
class CacheLookup:
    cache: ResponseCache
    summary: RequestSummary
    mode: Mode
    scope: str
    digest: str
    ttl_seconds: int
    tool_calls: bool
    include_usage: bool
    entry: Entry | None = None

    @property
    def outcome(self) -> str:
        if self.entry is not None:
            return "hit"
        return "bypass" if self.mode is Mode.BYPASS else "miss"

    def hit(self, headers: Mapping[str, str]) -> Response:
        """The stored answer, as the caller asked for it."""
        entry = self.entry
        assert entry is not None
        self.cache.metrics.outcome("hit", entry.model)
        out = {**headers, h.CACHE: "hit"}
        if entry.model is not None:
            out[h.MODEL] = entry.model
        if not self.summary.stream:
            out[h.COST_USD] = cost_text(0)  # a hit uses no tokens
            return Response(entry.body, headers=out, media_type=entry.content_type)
        body = replay.stream(entry, self.summary.api, include_usage=self.include_usage)
        out |= {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return Response(body, headers=out, media_type=_SSE)

    async def whole(
        self, status: int, content: bytes, content_type: str, model: str | None
    ) -> None:
        """A whole answer from the router, stored before it is sent: a caller that has
        its answer finds it in the cache."""
        self.cache.metrics.outcome(self.outcome, model)
        if self.mode is Mode.BYPASS:
            return
        if storable_answer(self.summary.api, status, content, tool_calls=self.tool_calls):
            await self._put(Entry(Form.JSON, content_type, content, model))

    async def recorded(
        self, chunks: AsyncIterator[bytes], content_type: str, model: str | None
    ) -> AsyncIterator[bytes]:
        """The router's stream passed on; stored, once complete, before its last event
        goes out."""
        self.cache.metrics.outcome(self.outcome, model)
        recorder = None
        if self.mode is not Mode.BYPASS:
            recorder = StreamRecorder(
                self.summary.api, tool_calls=self.tool_calls, max_bytes=self.cache.max_entry_bytes
            )
        async for chunk in chunks:
            if recorder is not None:
                recorder.feed(chunk)
                entry = recorder.entry(content_type, model)
                if entry is not None:
                    await self._put(entry)
                    recorder = None
            yield chunk

    async def _put(self, entry: Entry) -> None:
        await self.cache.put(self.scope, self.digest, entry, self.ttl_seconds)


async def look_up(
    cache: ResponseCache,
    identity: Identity,
    summary: RequestSummary,
    body: bytes,
    headers: Mapping[str, str],
) -> CacheLookup | None:
    """The request's cache lookup; None when its plan has no cache."""
    plan_cache = identity.plan.cache
    if plan_cache is None:
        return None
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # edge let no such body through; nothing to key it by
    if not isinstance(request, dict):
        return None
    lookup = CacheLookup(
        cache,
        summary,
        mode(headers.get(h.CACHE_CONTROL)),
        cache_layout.scope(identity.key_id, identity.plan),
        digest(summary.api, request, headers.get(h.ANTHROPIC_BETA)),
        plan_cache.ttl_s,
        plan_cache.tool_calls,
        wants_usage(request),
    )
    if lookup.mode is Mode.USE and (not summary.stream or summary.api in _REPLAYABLE):
        entry = await cache.get(lookup.scope, lookup.digest)
        if entry is not None and entry.serves(summary.stream):
            lookup.entry = entry
    return lookup
