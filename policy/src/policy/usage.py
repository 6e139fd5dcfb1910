"""Per-key usage in Redis: the layout policy writes and anyone may read.

Every key of one gateway key shares one hash tag, so policy's scripts touch a single
slot and run unchanged on Redis Cluster: ``{<key id>}``, or ``{g:<group>}`` for a key
whose plan names a ``budget_group`` (its keys are then ``gw:{g:<group>}:<key id>:...``),
since its requests also charge the group's counters:

- ``gw:{k}:rpm``                 sliding log of admitted requests (ZSET id -> ms)
- ``gw:{k}:tpm``, ``:tpm:n``, ``:tpm:sum``  sliding log of tokens (ZSET id -> ms,
  HASH id -> tokens, running total)
- ``gw:{k}:inflight``, ``:inflight:n``  requests in flight (ZSET id -> lease expiry ms,
  HASH id -> tokens reserved)
- ``gw:{k}:usage:d:YYYYMMDD`` and ``gw:{k}:usage:m:YYYYMM``  HASH of ``tokens``
  (charged plus reserved, what quotas check), ``requests``, and per model
  ``<model>|requests``, ``<model>|prompt_tokens``, ``<model>|completion_tokens`` and,
  when there were any, ``<model>|cached_tokens`` and ``<model>|reasoning_tokens``; in
  nano-USD, ``cost`` (charged plus reserved, what budgets check) and per model
  ``<model>|cost_nusd`` (charged), or ``<model>|unpriced_requests`` for requests of
  unknown cost; requests the response cache answered count apart, in ``cache_hits`` and
  ``<model>|cache_hits`` (they used no tokens and are not in ``requests``)
- ``gw:{g:<group>}:usage:d:YYYYMMDD`` and ``...:usage:m:YYYYMM``  the budget group's
  ``cost``, ``cost_nusd``, ``unpriced_requests`` and ``requests``, over its keys
- ``gw:state:since``  when these counters started (unix seconds): written once by
  whichever policy replica finds it missing, so a Redis that lost its data shows a new
  start (``counters_since``)
- ``gw:{k}:settled:<request id>``  marker of a settled request (expires): a settlement
  replayed after a Redis outage counts once.

Days and months are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway_shared.prices import NANO_PER_USD
from gateway_shared.redis_client import RedisClient

DAY_TTL_SECONDS = 2 * 86400
MONTH_TTL_SECONDS = 32 * 86400


@dataclass(frozen=True, slots=True)
class KeyLayout:
    key_id: str
    group: str | None = None

    def _k(self, suffix: str) -> str:
        if self.group is not None:
            return f"gw:{{g:{self.group}}}:{self.key_id}:{suffix}"
        return f"gw:{{{self.key_id}}}:{suffix}"

    def _g(self, suffix: str) -> str:
        """The group's own key; the key's own when ungrouped (scripts then skip it)."""
        if self.group is None:
            return self._k(suffix)
        return f"gw:{{g:{self.group}}}:{suffix}"

    @property
    def rpm(self) -> str:
        return self._k("rpm")

    @property
    def tpm(self) -> str:
        return self._k("tpm")

    @property
    def tpm_amounts(self) -> str:
        return self._k("tpm:n")

    @property
    def tpm_sum(self) -> str:
        return self._k("tpm:sum")

    @property
    def inflight(self) -> str:
        return self._k("inflight")

    @property
    def inflight_reserved(self) -> str:
        return self._k("inflight:n")

    def settled(self, request_id: str) -> str:
        return self._k(f"settled:{request_id}")

    # Not strftime: it showed in policy's profile under load (gateway bench --profile).
    def day(self, now: datetime) -> str:
        return self._k(f"usage:d:{now.year:04d}{now.month:02d}{now.day:02d}")

    def month(self, now: datetime) -> str:
        return self._k(f"usage:m:{now.year:04d}{now.month:02d}")

    def group_day(self, now: datetime) -> str:
        return self._g(f"usage:d:{now.year:04d}{now.month:02d}{now.day:02d}")

    def group_month(self, now: datetime) -> str:
        return self._g(f"usage:m:{now.year:04d}{now.month:02d}")

    @property
    def inflight_cost(self) -> str:
        return self._k("inflight:c")


STATE_SINCE = "gw:state:since"


async def counters_since(redis: RedisClient, now: float) -> float:
    """When the usage counters in this Redis started: ``now`` if nobody said before."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(STATE_SINCE, int(now), nx=True)
        pipe.get(STATE_SINCE)
        _, since = await pipe.execute()
    return float(since)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _cost(cost_nusd: int, unpriced: int, requests: int) -> dict[str, Any]:
    """What requests cost: USD of the priced ones; "unknown" when none was priced."""
    known = requests == 0 or unpriced < requests
    return {
        "cost_usd": cost_nusd / NANO_PER_USD if known else "unknown",
        "unpriced_requests": unpriced,
    }


def _period(raw: dict[bytes, bytes]) -> dict[str, Any]:
    fields = {k.decode(): int(v) for k, v in raw.items()}
    by_model: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        model, sep, what = name.rpartition("|")
        if sep:
            by_model.setdefault(model, {})[what] = value
    for counts in by_model.values():
        counts.update(
            _cost(
                counts.pop("cost_nusd", 0),
                counts.pop("unpriced_requests", 0),
                counts.get("requests", 0),
            )
        )
    requests = fields.get("requests", 0)
    return {
        "requests": requests,
        "cache_hits": fields.get("cache_hits", 0),
        "prompt_tokens": sum(m.get("prompt_tokens", 0) for m in by_model.values()),
        "completion_tokens": sum(m.get("completion_tokens", 0) for m in by_model.values()),
        # Of the prompt tokens, read from the providers' prompt caches; of the completion
        # tokens, spent reasoning.
        "cached_tokens": sum(m.get("cached_tokens", 0) for m in by_model.values()),
        "reasoning_tokens": sum(m.get("reasoning_tokens", 0) for m in by_model.values()),
        "charged_and_reserved_tokens": fields.get("tokens", 0),
        **_cost(
            sum(fields[n] for n in fields if n.endswith("|cost_nusd")),
            sum(fields[n] for n in fields if n.endswith("|unpriced_requests")),
            requests,
        ),
        "charged_and_reserved_nusd": fields.get("cost", 0),
        "by_model": by_model,
    }


def _group_period(raw: dict[bytes, bytes]) -> dict[str, Any]:
    fields = {k.decode(): int(v) for k, v in raw.items()}
    requests = fields.get("requests", 0)
    return {
        "requests": requests,
        **_cost(fields.get("cost_nusd", 0), fields.get("unpriced_requests", 0), requests),
        "charged_and_reserved_nusd": fields.get("cost", 0),
    }


async def read_usage(
    redis: RedisClient, key_id: str, group: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The key's usage for the current UTC day and month, and its budget group's."""
    now = now or utcnow()
    layout = KeyLayout(key_id, group)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(layout.day(now))
        pipe.hgetall(layout.month(now))
        if group is not None:
            pipe.hgetall(layout.group_day(now))
            pipe.hgetall(layout.group_month(now))
        day, month, *group_periods = await pipe.execute()
    usage: dict[str, Any] = {
        "day": {"date": f"{now:%Y-%m-%d}", **_period(day)},
        "month": {"month": f"{now:%Y-%m}", **_period(month)},
    }
    if group is not None:
        group_day, group_month = group_periods
        usage["budget_group"] = {
            "name": group,
            "day": {"date": f"{now:%Y-%m-%d}", **_group_period(group_day)},
            "month": {"month": f"{now:%Y-%m}", **_group_period(group_month)},
        }
    return usage
