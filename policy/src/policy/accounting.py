"""Charging each admitted request for what it really used, however it ends.

A :class:`Ticket` is taken at admission and settled exactly once: with the provider's
usage when the router reports it (``wire.report``: a header on whole answers, the
trailer of a stream), with an estimate when a stream ends without it (client gone,
provider cut), with nothing when the call failed before any work. Settling also returns
the concurrency slot, so no ending leaks one. A settlement Redis cannot take now is kept
and replayed by the :class:`~policy.ledger.Ledger`.

The cost is settled with the tokens, in the same call: the usage at each rate the lower
of the serving deployment's (the router's report) and the alias's highest when the
request was admitted (its ``quote``, what the budget reservation used). A price raised
while a request runs therefore never makes it cost more than was reserved for it; a
price lowered applies at once. Without either, the cost is unknown, never $0.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio

from gateway_shared.hop import HopError, HopResponse, abandon, body_chunks, upstream_lost
from gateway_shared.prices import Prices, format_usd
from gateway_shared.sse import EventFramer, data_event
from gateway_shared.wire.identity import Api, Identity
from gateway_shared.wire.report import Report, Usage, is_usage_trailer, parse_usage_trailer
from policy.ledger import Ledger
from policy.limits.limiter import Settlement
from policy.metrics import PolicyMetrics
from policy.stream_cost import UsageEvent, find_usage_event


@dataclass
class Ticket:
    ledger: Ledger
    identity: Identity
    model: str  # the alias asked for: usage is counted under it
    reserved: int  # recorded in Redis at admission; 0 when admission skipped Redis
    estimate: int
    prompt_estimate: int
    admitted_at: datetime
    metrics: PolicyMetrics | None = None
    # The catalog alias that served it, from the router's report: the metrics' label.
    label: str | None = None
    # Told what a successful request was charged (the request's log line).
    on_charged: Callable[[Usage], None] | None = None
    # The alias's prices at admission, and the worst-case cost reserved (nano-USD).
    quote: Prices | None = None
    reserved_cost: int = 0
    # The serving deployment's prices, from the router's report.
    prices: Prices | None = None
    # What the request was charged, in nano-USD (None: unknown), once settled.
    cost: int | None = None
    settled: bool = False

    def cost_of(self, usage: Usage) -> int | None:
        rates = self.quote if self.prices is None else self.prices.lower(self.quote)
        return rates.cost_nusd(usage) if rates is not None else None

    async def settle(self, usage: Usage) -> None:
        """Charge a request that was answered (wholly or in part)."""
        if self.settled:
            return
        self.settled = True
        self.cost = self.cost_of(usage)
        if self.on_charged is not None:
            self.on_charged(usage)
        if self.metrics is not None:
            self.metrics.charged(self.identity.key_name, self.label, usage, self.cost)
        await self._record(self.model, usage, self.cost)

    async def release(self) -> None:
        """A request that failed before any answer: nothing is charged, the slot freed."""
        if self.settled:
            return
        self.settled = True
        await self._record("", Usage(0, 0), 0)

    async def _record(self, model: str, usage: Usage, cost: int | None) -> None:
        settlement = Settlement(
            key_id=self.identity.key_id,
            request_id=self.identity.request_id,
            model=model,
            reserved=self.reserved,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            admitted_at=self.admitted_at,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            group=self.identity.plan.budget_group,
            reserved_cost=self.reserved_cost,
            cost=cost,
        )
        await self.ledger.settle(settlement, self._quota_used)

    def _quota_used(self, totals: tuple[int, int]) -> None:
        if self.metrics is not None:
            self.metrics.quota(self.identity.key_name, self.identity.plan, *totals)

    async def settle_answer(self, status: int, report: Report) -> None:
        """A whole answer: its status, and the router's report of it."""
        if status >= 400:
            await self.release()
        elif report.usage is not None:
            await self.settle(report.usage)
        else:
            # The provider gave no usage: charge the reservation rather than nothing.
            await self.settle(
                Usage(self.prompt_estimate, self.estimate - self.prompt_estimate, estimated=True)
            )

    async def settle_estimated(self, completion_tokens: int = 0) -> None:
        await self.settle(Usage(self.prompt_estimate, completion_tokens, estimated=True))


def cost_text(cost: int | None) -> str:
    """What a caller is shown of a cost (``x-gateway-cost-usd``)."""
    return "unknown" if cost is None else format_usd(cost)


async def metered_stream(response: HopResponse, ticket: Ticket, api: Api) -> AsyncIterator[bytes]:
    """Relay the router's stream event by event, taking out its usage trailer.

    The event that reports the stream's usage (``policy.stream_cost``) and the few after
    it are held back until the trailer, at the stream's very end, says what the request
    cost; they go on with the cost in that usage. A stream cut before the trailer
    releases them as they are."""
    framer = EventFramer()
    content_events = 0
    usage: Usage | None = None
    usage_event: UsageEvent | None = None
    held: list[bytes] = []
    try:
        async for raw in body_chunks(response):
            out = []
            for event in framer.feed(raw):
                if is_usage_trailer(event):
                    usage = parse_usage_trailer(event)
                    if usage is not None and usage_event is not None:
                        out += [usage_event.with_cost(ticket.cost_of(usage)), *held[1:]]
                        usage_event, held = None, []
                    continue
                if event.startswith(b"data: {") or b"\ndata: {" in event:
                    content_events += 1
                if usage is None and usage_event is None:
                    usage_event = find_usage_event(api, event)
                (out if usage_event is None else held).append(event)
            if out:
                yield b"".join(out)
        if held:
            yield b"".join(held)
    except HopError:
        # Router died mid-stream: the client must see the stream fail, not end.
        yield b"".join([*held, data_event(upstream_lost().to_body())])
    finally:
        # Shielded: a client that disconnected cancels this generator, and the charge
        # and the slot must still be settled (bounded by the Redis timeout).
        with anyio.CancelScope(shield=True):
            await abandon(response)  # a no-op when the stream was read to its end
            if usage is not None:
                await ticket.settle(usage)
            else:
                # Roughly one token per content event, less the role and finish events.
                await ticket.settle_estimated(max(0, content_events - 2))
