"""Everything one simulator app holds, kept on ``app.state.sim`` (no module-level state)."""

from __future__ import annotations

import random
import time

import orjson

from simulator.engine.kv_cache import KVCache, block_hashes
from simulator.engine.loop import EngineLoop
from simulator.engine.scheduler import Scheduler
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
        # Served model name -> its JSON string literal, for splicing into payloads.
        self.models: dict[str, bytes] = {model: orjson.dumps(model) for model in settings.models}
        self.created = int(time.time())
        # Decides which requests get an injected error; not security-relevant.
        self.random = random.Random()  # noqa: S311
        # The engine's prefix-cache counters already added to the metrics.
        self._counted = (0, 0)
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.expected_authorization: bytes | None = (
            f"Bearer {key}".encode() if key is not None else None
        )
        self.profile = settings.engine_profile()
        profile = self.profile
        self.metrics = SimMetrics(
            settings.models,
            {
                "block_size": profile.block_size,
                "num_gpu_blocks": profile.num_gpu_blocks,
                "enable_prefix_caching": profile.enable_prefix_caching,
            },
        )
        # With the engine model, its scheduler's KV cache; without it, a cache that only
        # remembers prefixes, so instant answers report cached tokens too.
        self.engine: EngineLoop | None = None
        if settings.engine:
            self.engine = EngineLoop(Scheduler(self.profile), self._engine_stepped)
        self.prefix_cache = KVCache(
            self.profile.num_gpu_blocks, prefix_caching=self.profile.enable_prefix_caching
        )

    def block_hashes(self, text: str, tokens: int) -> tuple[bytes, ...]:
        if not self.profile.enable_prefix_caching:
            return ()
        return block_hashes(text, tokens, self.profile.block_size)

    def instant_cached_tokens(self, hashes: tuple[bytes, ...], prompt_tokens: int) -> int:
        """An instant answer's cached prompt tokens: its prefix's hits, then the prompt's
        blocks are remembered (held and freed at once: nothing runs concurrently)."""
        cache, size = self.prefix_cache, self.profile.block_size
        hits = min(cache.cached_prefix(hashes), (prompt_tokens - 1) // size)
        try:
            blocks = cache.allocate(hashes, hits, len(hashes) - hits)
        except MemoryError:  # a prompt larger than the whole cache
            return 0
        cache.commit(blocks, hashes)
        cache.release(blocks)
        metrics = self.metrics.engine
        metrics.queries.inc(prompt_tokens)
        metrics.hits.inc(hits * size)
        return hits * size

    def _engine_stepped(self, scheduler: Scheduler) -> None:
        metrics = self.metrics.engine
        metrics.running.set(len(scheduler.running))
        metrics.waiting.set(scheduler.waiting)
        usage = scheduler.kv.usage
        metrics.kv_usage.set(usage)
        metrics.old_kv_usage.set(usage)
        queried, hit = scheduler.queried_tokens, scheduler.hit_tokens
        metrics.queries.inc(queried - self._counted[0])
        metrics.hits.inc(hit - self._counted[1])
        self._counted = (queried, hit)

    def reset(self) -> None:
        self.faults = self.initial_faults
        self.stats.reset()
        # Caches start cold again (a benchmark's runs must not inherit each other's).
        self.prefix_cache = KVCache(
            self.profile.num_gpu_blocks, prefix_caching=self.profile.enable_prefix_caching
        )
        self._counted = (0, 0)
        if self.engine is not None:
            self.engine.reset()

    def inject_error(self, faults: FaultConfig) -> bool:
        rate = faults.error_rate
        return rate > 0.0 and (rate >= 1.0 or self.random.random() < rate)

    def accept(self, model: str, prompt_tokens: int, *, engine: bool = False) -> RequestRecord:
        """Account for a request that passed validation and is about to be generated;
        ``engine``: the engine reports running requests itself."""
        metrics = self.metrics.by_model[model]
        return RequestRecord(self.stats, metrics, prompt_tokens, running=not engine)


class RequestRecord:
    """The accounting of one accepted request: gauges, counters and histograms.

    ``first_token()`` is called when the first output is ready, ``end()`` exactly once
    when the request is over, whatever the reason.
    """

    __slots__ = (
        "_ended",
        "_first",
        "_metrics",
        "_prompt_tokens",
        "_running",
        "_stats",
        "_t0",
        "_t_first",
    )

    def __init__(
        self, stats: Stats, metrics: ModelMetrics, prompt_tokens: int, *, running: bool = True
    ) -> None:
        self._stats = stats
        self._metrics = metrics
        self._prompt_tokens = prompt_tokens
        self._t0 = time.perf_counter()
        self._t_first = self._t0
        self._first = False
        self._ended = False
        self._running = running
        if running:
            metrics.running.inc()

    def first_token(self) -> None:
        if not self._first:
            self._first = True
            self._t_first = time.perf_counter()
            self._metrics.ttft.observe(self._t_first - self._t0)
            self._metrics.prompt_tokens.inc(self._prompt_tokens)

    def end(self, outcome: Outcome, generated_tokens: int, finish_reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._stats.end(outcome)
        metrics = self._metrics
        now = time.perf_counter()
        if self._running:
            metrics.running.dec()
        if generated_tokens:
            metrics.generation_tokens.inc(generated_tokens)
        if self._first and generated_tokens > 1:
            metrics.tpot.observe((now - self._t_first) / (generated_tokens - 1))
        # The engine ends a tool call with "stop": "tool_calls" is the API's reading of it.
        engine_reason = "stop" if finish_reason == "tool_calls" else finish_reason
        reason = engine_reason if outcome is Outcome.COMPLETED else "abort"
        metrics.success[reason].inc()
        metrics.e2e.observe(now - self._t0)
