"""What the router reports outward with each answer, and how policy and edge read it.

- On every answer: the catalog alias that served it (the only value the tiers' ``model``
  metric label takes) and the milliseconds spent on providers (all attempts, up to the
  answer or the first token), as response headers.
- Whole answers: the tokens used, in the ``x-gateway-usage`` header.
- The prices of the deployment that served the request (``x-gateway-prices``), from
  which policy costs it; absent when that deployment has none.
- Streams: the tokens used, in a trailer event after the last one - an SSE comment,
  which any client would ignore, and which policy reads for billing and drops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from gateway_shared.prices import Prices
from gateway_shared.wire import headers as h

# Longest model label accepted from the router's header (a catalog alias).
MAX_MODEL_LABEL = 128
TRAILER = b": gateway-usage "


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one request used, the same whatever provider served it: ``prompt_tokens``
    counts every input token, cached ones included (``cached_tokens`` of them were read
    from the provider's prompt cache); ``completion_tokens`` every output token,
    reasoning included (``reasoning_tokens`` of them)."""

    prompt_tokens: int
    completion_tokens: int
    # True when the provider never said and the gateway counted for itself.
    estimated: bool = False
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def encode(self) -> bytes:
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        if self.estimated:
            usage["estimated"] = 1
        if self.cached_tokens:
            usage["cached_tokens"] = self.cached_tokens
        if self.reasoning_tokens:
            usage["reasoning_tokens"] = self.reasoning_tokens
        return orjson.dumps(usage)

    @classmethod
    def decode(cls, raw: bytes | str) -> Usage | None:
        try:
            usage = orjson.loads(raw)
            return cls(
                int(usage["prompt_tokens"]),
                int(usage["completion_tokens"]),
                bool(usage.get("estimated", False)),
                int(usage.get("cached_tokens", 0)),
                int(usage.get("reasoning_tokens", 0)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass(frozen=True, slots=True)
class Report:
    model: str | None = None
    provider_seconds: float | None = None
    # Whole answers only; a stream reports its usage in the trailer.
    usage: Usage | None = None
    # The serving deployment's prices (None: unpriced, or no deployment served it).
    prices: Prices | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.model is not None and self.model.isascii():
            out[h.MODEL] = self.model
        if self.provider_seconds is not None:
            out[h.PROVIDER_MS] = f"{self.provider_seconds * 1000:.3f}"
        if self.usage is not None:
            out[h.USAGE] = self.usage.encode().decode()
        if self.prices is not None:
            out[h.PRICES] = self.prices.encode()
        return out

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Report:
        model = headers.get(h.MODEL)
        provider_seconds = None
        if provider_ms := headers.get(h.PROVIDER_MS):
            with contextlib.suppress(ValueError):
                provider_seconds = float(provider_ms) / 1000
        usage = headers.get(h.USAGE)
        prices = headers.get(h.PRICES)
        return cls(
            model=model if model and len(model) <= MAX_MODEL_LABEL else None,
            provider_seconds=provider_seconds,
            usage=Usage.decode(usage) if usage else None,
            prices=Prices.decode(prices) if prices else None,
        )


def usage_trailer(usage: Usage) -> bytes:
    """The stream's last event: the tokens it used."""
    return TRAILER + usage.encode() + b"\n\n"


def is_usage_trailer(event: bytes) -> bool:
    return event.startswith(TRAILER)


def parse_usage_trailer(event: bytes) -> Usage | None:
    if not event.startswith(TRAILER):
        return None
    return Usage.decode(event[len(TRAILER) :])
