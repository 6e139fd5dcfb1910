"""Per-key usage in Redis: the layout policy writes and anyone may read.

Every key of one gateway key shares the hash tag ``{<key id>}``, so policy's scripts
touch a single slot and run unchanged on Redis Cluster:

- ``gw:{k}:rpm``                 sliding log of admitted requests (ZSET id -> ms)
- ``gw:{k}:tpm``, ``:tpm:n``, ``:tpm:sum``  sliding log of tokens (ZSET id -> ms,
  HASH id -> tokens, running total)
- ``gw:{k}:inflight``, ``:inflight:n``  requests in flight (ZSET id -> lease expiry ms,
  HASH id -> tokens reserved)
- ``gw:{k}:usage:d:YYYYMMDD`` and ``gw:{k}:usage:m:YYYYMM``  HASH of ``tokens``
  (charged plus reserved, what quotas check), ``requests``, and per model
  ``<model>|requests``, ``<model>|prompt_tokens``, ``<model>|completion_tokens`` and,
  when there were any, ``<model>|cached_tokens`` and ``<model>|reasoning_tokens``;
  requests the response cache answered count apart, in ``cache_hits`` and
  ``<model>|cache_hits`` (they used no tokens and are not in ``requests``).
- ``gw:{k}:settled:<request id>``  marker of a settled request (expires): a settlement
  replayed after a Redis outage counts once.

Days and months are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway_shared.redis_client import RedisClient

DAY_TTL_SECONDS = 2 * 86400
MONTH_TTL_SECONDS = 32 * 86400


@dataclass(frozen=True, slots=True)
class KeyLayout:
    key_id: str

    def _k(self, suffix: str) -> str:
        return f"gw:{{{self.key_id}}}:{suffix}"

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


def utcnow() -> datetime:
    return datetime.now(UTC)


def _period(raw: dict[bytes, bytes]) -> dict[str, Any]:
    fields = {k.decode(): int(v) for k, v in raw.items()}
    by_model: dict[str, dict[str, int]] = {}
    for name, value in fields.items():
        model, sep, what = name.rpartition("|")
        if sep:
            by_model.setdefault(model, {})[what] = value
    return {
        "requests": fields.get("requests", 0),
        "cache_hits": fields.get("cache_hits", 0),
        "prompt_tokens": sum(m.get("prompt_tokens", 0) for m in by_model.values()),
        "completion_tokens": sum(m.get("completion_tokens", 0) for m in by_model.values()),
        # Of the prompt tokens, read from the providers' prompt caches; of the completion
        # tokens, spent reasoning.
        "cached_tokens": sum(m.get("cached_tokens", 0) for m in by_model.values()),
        "reasoning_tokens": sum(m.get("reasoning_tokens", 0) for m in by_model.values()),
        "charged_and_reserved_tokens": fields.get("tokens", 0),
        "by_model": by_model,
    }


async def read_usage(
    redis: RedisClient, key_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The key's usage for the current UTC day and month."""
    now = now or utcnow()
    layout = KeyLayout(key_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(layout.day(now))
        pipe.hgetall(layout.month(now))
        day, month = await pipe.execute()
    return {
        "day": {"date": f"{now:%Y-%m-%d}", **_period(day)},
        "month": {"month": f"{now:%Y-%m}", **_period(month)},
    }
