"""Continuous batching, as vLLM's V1 scheduler does it, in time the caller keeps.

Each step: running requests first (a decode token each, or the next chunk of their
prefill), then waiting ones while sequences (``max_num_seqs``), the step's token budget
(``max_num_batched_tokens``) and KV blocks last. A running request that needs a block
when none is free preempts another (the last admitted; with priority scheduling the
lowest priority, latest arrival) back to waiting, where it will recompute. A prompt's
cached prefix blocks are not computed again. A request samples a token at the end of
the step that computed its last known token: the first one ends its prefill (time to
first token), then one per step.

The scheduler is pure: :meth:`Scheduler.schedule` says what the next step does and how
long it takes, :meth:`Scheduler.complete` applies it. :mod:`simulator.engine.loop` runs
it in real time; unit tests run it in virtual time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.engine.kv_cache import BlockHash, KVCache
from simulator.engine.profile import EngineProfile, SchedulingPolicy


@dataclass(eq=False)
class EngineRequest:
    """One generation request inside the engine."""

    prompt_tokens: int
    max_output: int
    hashes: tuple[BlockHash, ...] = ()
    priority: int = 0
    # Called after each step in which the request sampled a token or finished.
    notify: Callable[[EngineRequest], None] | None = None
    seq: int = 0
    blocks: list[int] = field(default_factory=list)
    computed: int = 0
    output: int = 0
    cached_tokens: int = 0
    admitted: bool = False
    finished: bool = False

    @property
    def known(self) -> int:
        """Tokens whose KV must exist before the next one is sampled."""
        return self.prompt_tokens + self.output

    def order(self) -> tuple[int, int]:
        return (self.priority, self.seq)


@dataclass
class Step:
    """What one engine step computes, and how long it takes."""

    work: list[tuple[EngineRequest, int]]
    seconds: float
    decode_seqs: int
    prefill_tokens: int


class Scheduler:
    def __init__(self, profile: EngineProfile) -> None:
        self.profile = profile
        self.kv = KVCache(profile.num_gpu_blocks, prefix_caching=profile.enable_prefix_caching)
        self.running: list[EngineRequest] = []
        self._waiting: list[tuple[tuple[int, int], EngineRequest]] = []
        self._seq = itertools.count()
        self._by_priority = profile.scheduling_policy is SchedulingPolicy.PRIORITY
        # Prefix-cache counters, in tokens (vllm:prefix_cache_queries / _hits).
        self.queried_tokens = 0
        self.hit_tokens = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def queued(self) -> list[EngineRequest]:
        return [request for _, request in self._waiting]

    @property
    def idle(self) -> bool:
        return not self.running and not self._waiting

    def add(self, request: EngineRequest) -> None:
        request.seq = next(self._seq)
        self._queue(request)

    def _queue(self, request: EngineRequest) -> None:
        key = request.order() if self._by_priority else (0, request.seq)
        heapq.heappush(self._waiting, (key, request))

    def abort(self, request: EngineRequest) -> None:
        """The client went away: the request leaves the engine wherever it is."""
        if request.finished:
            return
        request.finished = True
        if request in self.running:
            self.running.remove(request)
            self.kv.release(request.blocks)
            request.blocks = []
        else:
            self._waiting = [(k, r) for k, r in self._waiting if r is not request]
            heapq.heapify(self._waiting)

    def schedule(self) -> Step:
        budget = self.profile.max_num_batched_tokens
        block = self.profile.block_size
        work: list[tuple[EngineRequest, int]] = []
        preempted = False
        for request in list(self._running_order()):
            if budget == 0:
                break
            if request not in self.running:  # preempted by an earlier one this step
                continue
            tokens = min(request.known - request.computed, budget)
            need = -(-(request.computed + tokens) // block) - len(request.blocks)
            while not self.kv.grow(request.blocks, need):
                victim = self._victim()
                self._preempt(victim)
                preempted = True
                if victim is request:
                    break
            if request in self.running:
                work.append((request, tokens))
                budget -= tokens
        while (
            not preempted
            and budget > 0
            and self._waiting
            and len(self.running) < self.profile.max_num_seqs
        ):
            request = self._waiting[0][1]
            admitted = self._admit(request, budget)
            if admitted is None:
                break
            heapq.heappop(self._waiting)
            self.running.append(request)
            work.append((request, admitted))
            budget -= admitted
        decode = sum(1 for r, t in work if t == 1 and r.output > 0)
        prefill = sum(t for r, t in work) - decode
        seconds = self.profile.step_ms(decode, prefill) / 1000 if work else 0.0
        return Step(work, seconds, decode, prefill)

    def _admit(self, request: EngineRequest, budget: int) -> int | None:
        """Blocks for the request's cached prefix and first chunk; None if they do not fit."""
        block = self.profile.block_size
        # The last token is always computed, so a full hit still leaves one to do.
        hits = min(self.kv.cached_prefix(request.hashes), (request.known - 1) // block)
        computed = hits * block
        tokens = min(request.known - computed, budget)
        new = -(-(computed + tokens) // block) - hits
        try:
            request.blocks = self.kv.allocate(request.hashes, hits, new)
        except MemoryError:
            return None
        request.computed = computed
        if not request.admitted:
            request.admitted = True
            request.cached_tokens = computed
            self.queried_tokens += request.prompt_tokens
            self.hit_tokens += computed
        return tokens

    def complete(self, step: Step) -> list[EngineRequest]:
        """Apply a step: the requests that sampled a token (and those that finished)."""
        block = self.profile.block_size
        sampled: list[EngineRequest] = []
        for request, tokens in step.work:
            if request.finished:  # aborted while the step ran
                continue
            request.computed += tokens
            full = min(request.computed, request.prompt_tokens) // block
            self.kv.commit(request.blocks[:full], request.hashes[:full])
            if request.computed < request.known:
                continue
            request.output += 1
            sampled.append(request)
            if request.output >= request.max_output:
                request.finished = True
                self.running.remove(request)
                self.kv.release(request.blocks)
                request.blocks = []
        return sampled

    def _running_order(self) -> list[EngineRequest]:
        if self._by_priority:
            return sorted(self.running, key=EngineRequest.order)
        return self.running

    def _victim(self) -> EngineRequest:
        if self._by_priority:
            return max(self.running, key=EngineRequest.order)
        return self.running[-1]

    def _preempt(self, request: EngineRequest) -> None:
        self.running.remove(request)
        self.kv.release(request.blocks)
        request.blocks = []
        request.computed = 0
        self._queue(request)
