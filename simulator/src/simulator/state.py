"""Everything one simulator app holds, kept on ``app.state.sim`` (no module-level state)."""

from __future__ import annotations

import random
import time

import orjson

from simulator.faults import FaultConfig
from simulator.metrics import ModelMetrics, SimMetrics
from simulator.settings import SimulatorSettings
from simulator.stats import Outcome, Stats


class SimState:
    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.initial_faults = settings.faults()
        self.faults: FaultConfig = self.initial_faults
        self.stats = Stats()
        self.metrics = SimMetrics(settings.models)
        # Served model name -> its JSON string literal, for splicing into payloads.
        self.models: dict[str, bytes] = {model: orjson.dumps(model) for model in settings.models}
        self.created = int(time.time())
        # Decides which requests get an injected error; not security-relevant.
        self.random = random.Random()  # noqa: S311
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.expected_authorization: bytes | None = (
            f"Bearer {key}".encode() if key is not None else None
        )

    def reset(self) -> None:
        self.faults = self.initial_faults
        self.stats.reset()

    def inject_error(self, faults: FaultConfig) -> bool:
        rate = faults.error_rate
        return rate > 0.0 and (rate >= 1.0 or self.random.random() < rate)

    def accept(self, model: str, prompt_tokens: int) -> RequestRecord:
        """Account for a request that passed validation and is about to be generated."""
        return RequestRecord(self.stats, self.metrics.by_model[model], prompt_tokens)


class RequestRecord:
    """The accounting of one accepted request: gauges, counters and histograms.

    ``first_token()`` is called when the first output is ready, ``end()`` exactly once
    when the request is over, whatever the reason.
    """

    __slots__ = ("_ended", "_first", "_metrics", "_prompt_tokens", "_stats", "_t0")

    def __init__(self, stats: Stats, metrics: ModelMetrics, prompt_tokens: int) -> None:
        self._stats = stats
        self._metrics = metrics
        self._prompt_tokens = prompt_tokens
        self._t0 = time.perf_counter()
        self._first = False
        self._ended = False
        metrics.running.inc()

    def first_token(self) -> None:
        if not self._first:
            self._first = True
            self._metrics.ttft.observe(time.perf_counter() - self._t0)
            self._metrics.prompt_tokens.inc(self._prompt_tokens)

    def end(self, outcome: Outcome, generated_tokens: int, finish_reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._stats.end(outcome)
        metrics = self._metrics
        metrics.running.dec()
        if generated_tokens:
            metrics.generation_tokens.inc(generated_tokens)
        # The engine ends a tool call with "stop": "tool_calls" is the API's reading of it.
        engine_reason = "stop" if finish_reason == "tool_calls" else finish_reason
        reason = engine_reason if outcome is Outcome.COMPLETED else "abort"
        metrics.success[reason].inc()
        metrics.e2e.observe(time.perf_counter() - self._t0)
