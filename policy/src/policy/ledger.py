"""Settlements reach Redis even across an outage: applied at once, or kept and replayed.

A settlement that fails for want of Redis (a failover, a network cut, a restart) is kept
in a bounded in-memory queue of this policy process and replayed, in order, once Redis
answers again. Replays are safe because settling is idempotent by request id (the
settle script's marker): one whose first attempt did run, its answer lost, counts once.
What cannot be kept - the queue full, an entry older than ``keep_seconds`` (its marker
may be gone, so a replay could count twice), the process stopping with entries left -
is counted in ``gateway_policy_settlements_lost_total`` and logged. A process killed
outright loses its queue uncounted; its requests' leases expire and are reaped, which
returns their reservations, so they are neither charged nor held.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from redis.exceptions import RedisError

from gateway_shared.observability.logs import ThrottledLog
from policy.limits.limiter import Limiter, Settlement
from policy.metrics import PolicyMetrics

log = logging.getLogger("policy.ledger")

# How long the replay waits after a failed attempt: Redis is still away, and each
# attempt is already bounded by the client's short timeout.
RETRY_SECONDS = 0.5

# A settlement's idempotency marker outlives the last replay of it by this much.
_MARKER_MARGIN_SECONDS = 60

Totals = Callable[[tuple[int, int]], None]


def marker_seconds(keep_seconds: float) -> float:
    """How long settling must mark a request as settled, for a ledger keeping its
    settlements ``keep_seconds``: a replay started at the last moment finds the marker."""
    return keep_seconds + _MARKER_MARGIN_SECONDS


@dataclass(frozen=True, slots=True)
class _Kept:
    settlement: Settlement
    on_totals: Totals | None
    kept_at: float


class Ledger:
    def __init__(
        self,
        limiter: Limiter,
        *,
        capacity: int,
        keep_seconds: float,
        metrics: PolicyMetrics | None = None,
    ) -> None:
        self._limiter = limiter
        self._capacity = capacity
        self._keep_seconds = keep_seconds
        self._metrics = metrics
        self._kept: deque[_Kept] = deque()
        self._waiting = anyio.Event()
        self._failures = ThrottledLog(log)
        self._losses = ThrottledLog(log)

    @property
    def kept(self) -> int:
        return len(self._kept)

    async def settle(self, settlement: Settlement, on_totals: Totals | None = None) -> None:
        """Apply now; if Redis does not answer, keep it for :meth:`replay`."""
        try:
            totals = await self._limiter.settle(settlement)
        except RedisError as exc:
            self._failures.warning(
                "could not settle usage: Redis unavailable (%s); kept for replay",
                type(exc).__name__,
            )
            self._keep(settlement, on_totals)
            return
        if on_totals is not None:
            on_totals(totals)

    def _keep(self, settlement: Settlement, on_totals: Totals | None) -> None:
        if len(self._kept) >= self._capacity:
            self._lost("queue_full", 1, settlement)
            return
        self._kept.append(_Kept(settlement, on_totals, time.monotonic()))
        self._gauge()
        self._waiting.set()

    async def replay(self) -> None:
        """Run for the process's life: apply kept settlements once Redis answers."""
        while True:
            await self._waiting.wait()
            while self._kept:
                if not await self._apply_oldest():
                    await anyio.sleep(RETRY_SECONDS)
            self._waiting = anyio.Event()

    async def close(self) -> None:
        """At shutdown: one last pass, then what is still kept is counted lost."""
        while self._kept and await self._apply_oldest():
            pass
        if self._kept:
            self._lost("shutdown", len(self._kept), self._kept[0].settlement)
            self._kept.clear()
            self._gauge()

    async def _apply_oldest(self) -> bool:
        """False when Redis still does not answer."""
        entry = self._kept[0]
        if time.monotonic() - entry.kept_at > self._keep_seconds:
            self._kept.popleft()
            self._gauge()
            self._lost("expired", 1, entry.settlement)
            return True
        try:
            totals = await self._limiter.settle(entry.settlement)
        except RedisError:
            return False
        self._kept.popleft()
        self._gauge()
        if self._metrics is not None:
            self._metrics.settlements_replayed.inc()
        if entry.on_totals is not None:
            entry.on_totals(totals)
        return True

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.settlements_kept.set(len(self._kept))

    def _lost(self, reason: str, count: int, example: Settlement) -> None:
        if self._metrics is not None:
            self._metrics.settlements_lost.labels(reason).inc(count)
        self._losses.warning(
            "usage lost: %d settlement(s) not kept for replay (%s); e.g. key %s request %s",
            count,
            reason,
            example.key_id,
            example.request_id,
        )
