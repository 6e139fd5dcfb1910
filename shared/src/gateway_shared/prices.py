"""Prices in USD per million tokens, and what a request's usage costs at them.

The catalog gives each deployment its :class:`Prices`; the router publishes each alias's
highest (``router.prices``); policy prices every request from them (``policy.prices``).
Costs are added up as integers of nano-USD (1e-9 USD): Redis counters, budgets and the
sums a caller can check are exact, with no float rounding between them.

A rate left out is unknown, never zero. Cached input tokens without a cached rate are
priced at the input rate, reasoning tokens without a reasoning rate at the output rate
(both are the higher, safe reading); any other token type the usage holds without a rate
makes the cost unknown (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from gateway_shared.wire.report import Usage

# Where the router publishes each alias's highest prices (one hash: alias -> JSON).
PRICES_KEY = "gw:prices"

NANO_PER_USD = 10**9
# A rate in USD per million tokens is (rate x 10^6) pico-USD per token.
_PICO_PER_RATE_UNIT = 10**6
_PICO_PER_NANO = 1000
_FIELDS = ("input", "cached_input", "output", "reasoning")

Rate = float | None


def _pico(rate: float) -> int:
    return round(rate * _PICO_PER_RATE_UNIT)


class Prices(BaseModel):
    """USD per million tokens of each type; every one optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float | None = Field(default=None, ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)

    def cost_nusd(self, usage: Usage) -> int | None:
        """What ``usage`` costs, rounded up to the nano-USD; None: not all of it priced."""
        return self._cost(
            usage.prompt_tokens,
            usage.cached_tokens,
            usage.completion_tokens,
            usage.reasoning_tokens,
        )

    def _cost(self, prompt: int, cached: int, completion: int, reasoning: int) -> int | None:
        cached, reasoning = min(cached, prompt), min(reasoning, completion)
        parts = (
            (prompt - cached, self.input),
            (cached, self.input if self.cached_input is None else self.cached_input),
            (completion - reasoning, self.output),
            (reasoning, self.output if self.reasoning is None else self.reasoning),
        )
        pico = 0
        for tokens, rate in parts:
            if tokens:
                if rate is None:
                    return None
                pico += tokens * _pico(rate)
        return -(-pico // _PICO_PER_NANO)

    def worst_case_nusd(self, prompt_tokens: int, completion_tokens: int) -> int | None:
        """The most ``prompt_tokens`` in and ``completion_tokens`` out can cost: each
        token at the highest rate of its side, whatever share is cached or reasoning."""
        ceiling = Prices(
            input=None if self.input is None else max(self.input, self.cached_input or 0.0),
            output=None if self.output is None else max(self.output, self.reasoning or 0.0),
        )
        return ceiling._cost(prompt_tokens, 0, completion_tokens, 0)

    def effective(self) -> Prices:
        """The same prices with the fallback rates written out (cached input at the input
        rate, reasoning at the output rate, where not given)."""
        return Prices(
            input=self.input,
            cached_input=self.input if self.cached_input is None else self.cached_input,
            output=self.output,
            reasoning=self.output if self.reasoning is None else self.reasoning,
        )

    def lower(self, other: Prices | None) -> Prices:
        """Each rate at the lower of the two, where known (an unknown one gives way)."""
        if other is None:
            return self
        mine, theirs = self.effective(), other.effective()
        rates = {}
        for name in _FIELDS:
            known = [r for r in (getattr(mine, name), getattr(theirs, name)) if r is not None]
            rates[name] = min(known) if known else None
        return Prices(**rates)

    @classmethod
    def highest(cls, prices: Iterable[Prices | None]) -> Prices:
        """Each rate at the highest of ``prices``; unknown if any of them lacks it (the
        request could land on that one)."""
        effective = [p.effective() if p is not None else None for p in prices]
        rates: dict[str, Rate] = {}
        for name in _FIELDS:
            values = [getattr(p, name) if p is not None else None for p in effective]
            known = [v for v in values if v is not None]
            rates[name] = max(known) if values and len(known) == len(values) else None
        return cls(**rates)

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def decode(cls, raw: bytes | str) -> Prices | None:
        try:
            return cls.model_validate_json(raw)
        except ValueError:
            return None


def format_usd(nusd: int) -> str:
    """Nano-USD as a decimal USD string, exactly: ``0.000012345``."""
    return f"{nusd // NANO_PER_USD}.{nusd % NANO_PER_USD:09d}"
