"""Charging each admitted request for what it really used, however it ends.

A :class:`Ticket` is taken at admission and settled exactly once: with the provider's
usage when the router reports it, with an estimate when a stream ends without it (client
gone, provider cut), with nothing when the call failed before any work. Settling also
returns the concurrency slot, so no ending leaks one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import orjson
from redis.exceptions import RedisError

from gateway_shared.hop import HopError, HopResponse, abandon, body_chunks, upstream_lost
from gateway_shared.identity import Identity
from gateway_shared.logs import ThrottledLog
from gateway_shared.observability import RequestContext, current_request
from gateway_shared.sse import USAGE_TRAILER, EventFramer, data_event, parse_usage_trailer
from policy.limits.limiter import Limiter
from policy.metrics import PolicyMetrics

log = logging.getLogger("policy.accounting")
_settle_failures = ThrottledLog(log)


@dataclass
class Ticket:
    limiter: Limiter
    identity: Identity
    model: str
    reserved: int  # recorded in Redis at admission; 0 when admission skipped Redis
    estimate: int
    prompt_estimate: int
    admitted_at: datetime
    settled: bool = field(default=False)
    metrics: PolicyMetrics | None = None
    # The request it was taken for: the router's model label and the log line's tokens.
    request: RequestContext | None = field(default_factory=current_request)

    async def settle(self, prompt_tokens: int, completion_tokens: int, *, ok: bool = True) -> None:
        if self.settled:
            return
        self.settled = True
        if ok:
            self._observe(prompt_tokens, completion_tokens)
        try:
            totals = await self.limiter.settle(
                key_id=self.identity.key_id,
                request_id=self.identity.request_id,
                model=self.model if ok else "",
                reserved=self.reserved,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                admitted_at=self.admitted_at,
            )
        except RedisError as exc:
            _settle_failures.warning(
                "could not settle usage: Redis unavailable (%s)", type(exc).__name__
            )
            return
        if self.metrics is not None:
            self.metrics.quota(self.identity.key_name, self.identity.plan, *totals)

    def _observe(self, prompt_tokens: int, completion_tokens: int) -> None:
        request = self.request
        if request is not None:
            request.set_tokens(prompt_tokens, completion_tokens)
        if self.metrics is not None:
            model = request.model if request is not None else None
            self.metrics.charged(self.identity.key_name, model, prompt_tokens, completion_tokens)

    async def settle_from_header(
        self, status: int, headers: Mapping[str, str], header: str
    ) -> None:
        if status >= 400:
            await self.settle(0, 0, ok=False)
            return
        try:
            usage = orjson.loads(headers[header])
            await self.settle(int(usage["prompt_tokens"]), int(usage["completion_tokens"]))
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
            # The provider gave no usage: charge the reservation rather than nothing.
            await self.settle(self.prompt_estimate, self.estimate - self.prompt_estimate)

    async def settle_estimated(self, chunks: int = 0) -> None:
        await self.settle(self.prompt_estimate, chunks)


async def metered_stream(response: HopResponse, ticket: Ticket) -> AsyncIterator[bytes]:
    """Relay the router's stream event by event, taking out its usage trailer."""
    framer = EventFramer()
    content_events = 0
    usage: dict[str, int] | None = None
    try:
        async for raw in body_chunks(response):
            out = []
            for event in framer.feed(raw):
                if event.startswith(USAGE_TRAILER):
                    usage = parse_usage_trailer(event)
                    continue
                if event.startswith(b"data: {"):
                    content_events += 1
                out.append(event)
            if out:
                yield b"".join(out)
    except HopError:
        # Router died mid-stream: the client must see the stream fail, not end.
        yield data_event(upstream_lost().to_body())
    finally:
        # Shielded: a client that disconnected cancels this generator, and the charge
        # and the slot must still be settled (bounded by the Redis timeout).
        with anyio.CancelScope(shield=True):
            await abandon(response)  # a no-op when the stream was read to its end
            if usage is not None:
                await ticket.settle(
                    int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
                )
            else:
                # Roughly one token per content event, less the role and finish events.
                await ticket.settle_estimated(max(0, content_events - 2))
