"""The engine model's physics, in virtual time: the scheduler stepped by hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from simulator.engine.kv_cache import KVCache, block_hashes
from simulator.engine.loop import EngineLoop, Progress
from simulator.engine.profile import H100_LLAMA_8B, EngineProfile, SchedulingPolicy
from simulator.engine.scheduler import EngineRequest, Scheduler


@dataclass
class Clock:
    """Runs a scheduler in virtual time and records when each request sampled tokens."""

    scheduler: Scheduler
    now: float = 0.0
    first: dict[int, float] = field(default_factory=dict)
    done: dict[int, float] = field(default_factory=dict)
    steps: list[float] = field(default_factory=list)

    def submit(self, request: EngineRequest) -> EngineRequest:
        self.scheduler.add(request)
        return request

    def step(self) -> None:
        step = self.scheduler.schedule()
        assert step.work, "the engine has nothing it can run"
        self.now += step.seconds
        self.steps.append(step.seconds)
        for request in self.scheduler.complete(step):
            self.first.setdefault(id(request), self.now)
            if request.finished:
                self.done[id(request)] = self.now

    def run(self, limit: int = 100_000) -> None:
        for _ in range(limit):
            if self.scheduler.idle:
                return
            self.step()
        raise AssertionError("the engine did not drain")

    def ttft(self, request: EngineRequest, since: float = 0.0) -> float:
        return self.first[id(request)] - since


def prompt(seed: str, tokens: int) -> tuple[str, tuple[bytes, ...]]:
    text = (seed * (4 * tokens // len(seed) + 1))[: 4 * tokens]
    return text, block_hashes(text, tokens, H100_LLAMA_8B.block_size)


def request(hashes: tuple[bytes, ...], tokens: int, output: int = 8, **kw: int) -> EngineRequest:
    return EngineRequest(prompt_tokens=tokens, max_output=output, hashes=hashes, **kw)


def test_a_repeated_prefix_is_cached_and_served_faster() -> None:
    clock = Clock(Scheduler(H100_LLAMA_8B))
    _, hashes = prompt("You are a careful assistant. ", 2000)
    cold = clock.submit(request(hashes, 2000))
    clock.run()
    started = clock.now
    warm = clock.submit(request(hashes, 2000))
    clock.run()
    assert cold.cached_tokens == 0
    # Every full block but the one holding the last token, which is always computed.
    assert warm.cached_tokens == (2000 - 1) // 16 * 16
    assert clock.ttft(warm, started) < clock.ttft(cold) / 5
    assert clock.scheduler.hit_tokens == warm.cached_tokens
    assert clock.scheduler.queried_tokens == 4000


def test_a_shared_prefix_hits_only_up_to_where_prompts_differ() -> None:
    clock = Clock(Scheduler(H100_LLAMA_8B))
    shared, _ = prompt("system prompt ", 512)
    first = shared + "A" * 4 * 256
    second = shared + "B" * 4 * 256
    clock.submit(request(block_hashes(first, 768, 16), 768))
    clock.run()
    other = clock.submit(request(block_hashes(second, 768, 16), 768))
    clock.run()
    assert other.cached_tokens == 512


def test_a_full_kv_cache_queues_requests() -> None:
    # 200 blocks: one 2,000-token prompt (125 blocks) fits, a second does not.
    clock = Clock(Scheduler(replace(H100_LLAMA_8B, num_gpu_blocks=200)))
    first = clock.submit(request(prompt("a", 2000)[1], 2000, output=32))
    second = clock.submit(request(prompt("b", 2000)[1], 2000, output=32))
    clock.step()
    assert clock.scheduler.waiting == 1
    assert clock.scheduler.running == [first]
    assert clock.scheduler.kv.usage == pytest.approx(125 / 200)
    clock.run()
    # The second starts only once the first has finished and let go of its blocks.
    assert clock.first[id(second)] > clock.done[id(first)]


def test_batch_growth_slows_steps() -> None:
    alone = Clock(Scheduler(H100_LLAMA_8B))
    alone.submit(request((), 100, output=64))
    alone.run()
    busy = Clock(Scheduler(H100_LLAMA_8B))
    for _ in range(256):
        busy.submit(request((), 100, output=64))
    busy.run()
    # Once every prompt is in, all 256 decode together: each step is slower...
    full_batch = H100_LLAMA_8B.step_ms(256, 0) / 1000
    assert full_batch in [pytest.approx(s) for s in busy.steps]
    assert full_batch > 4 * alone.steps[-1]
    # ...so each request's tokens come slower than alone.
    assert busy.now > 4 * alone.now


def test_the_token_budget_chunks_a_long_prefill() -> None:
    profile = H100_LLAMA_8B
    clock = Clock(Scheduler(profile))
    long = clock.submit(request((), 20_000, output=2))
    clock.step()
    assert long.computed == profile.max_num_batched_tokens
    assert clock.steps[0] == pytest.approx(profile.step_ms(0, 8192) / 1000)
    assert id(long) not in clock.first  # no token before the whole prompt is computed


def test_running_sequences_are_capped() -> None:
    clock = Clock(Scheduler(replace(H100_LLAMA_8B, max_num_seqs=4)))
    for _ in range(6):
        clock.submit(request((), 10, output=4))
    clock.step()
    assert len(clock.scheduler.running) == 4
    assert clock.scheduler.waiting == 2


def test_priority_scheduling_serves_the_lower_value_first() -> None:
    profile = replace(H100_LLAMA_8B, max_num_seqs=1, scheduling_policy=SchedulingPolicy.PRIORITY)
    clock = Clock(Scheduler(profile))
    busy = clock.submit(request((), 10, output=4))
    clock.step()
    low = clock.submit(request((), 10, output=4, priority=10))
    high = clock.submit(request((), 10, output=4, priority=-5))
    clock.run()
    assert clock.first[id(busy)] < clock.first[id(high)] < clock.first[id(low)]


def test_fcfs_ignores_priority_order() -> None:
    clock = Clock(Scheduler(replace(H100_LLAMA_8B, max_num_seqs=1)))
    clock.submit(request((), 10, output=4))
    clock.step()
    low = clock.submit(request((), 10, output=4, priority=10))
    high = clock.submit(request((), 10, output=4, priority=-5))
    clock.run()
    assert clock.first[id(low)] < clock.first[id(high)]


def test_preemption_frees_blocks_for_running_requests() -> None:
    # Two requests fit at first; as they decode, one must give its blocks back.
    clock = Clock(Scheduler(replace(H100_LLAMA_8B, num_gpu_blocks=10)))
    a = clock.submit(request((), 64, output=60))
    b = clock.submit(request((), 64, output=60))
    clock.run()
    assert a.output == b.output == 60
    assert clock.scheduler.kv.used == 0


def test_least_recently_freed_prefixes_are_evicted_first() -> None:
    cache = KVCache(4)
    old = (b"o1", b"o2")
    new = (b"n1", b"n2")
    for hashes in (old, new):
        blocks = cache.allocate(hashes, 0, 2)
        cache.commit(blocks, hashes)
        cache.release(blocks)
    assert cache.cached_prefix(old) == 2
    fresh = cache.allocate((), 0, 2)  # the oldest cached blocks make room
    assert cache.cached_prefix(old) == 0
    assert cache.cached_prefix(new) == 2
    assert cache.usage == 0.5
    cache.release(fresh)


def test_aborting_frees_what_the_request_held() -> None:
    clock = Clock(Scheduler(H100_LLAMA_8B))
    gone = clock.submit(request(prompt("x", 1000)[1], 1000, output=100))
    clock.step()
    clock.scheduler.abort(gone)
    assert clock.scheduler.idle
    assert clock.scheduler.kv.used == 0


def test_the_same_workload_takes_the_same_time() -> None:
    def total() -> float:
        clock = Clock(Scheduler(replace(H100_LLAMA_8B, num_gpu_blocks=300)))
        for i in range(40):
            clock.submit(request(prompt(f"tenant {i % 3} ", 600)[1], 600 + i, output=20))
        clock.run()
        return clock.now

    assert total() == total()


def test_scaling_the_gpu_down() -> None:
    slow = H100_LLAMA_8B.scaled(slowdown=10, kv_fraction=0.01)
    assert slow.num_gpu_blocks == 280
    assert slow.step_ms(4, 100) == pytest.approx(10 * H100_LLAMA_8B.step_ms(4, 100))
    assert isinstance(slow, EngineProfile)


async def test_resetting_the_engine_empties_it_and_ends_what_was_inside() -> None:
    loop = EngineLoop(Scheduler(H100_LLAMA_8B))
    progress = Progress()
    inside = request(prompt("r", 64)[1], 64, output=100_000)
    inside.notify = progress
    loop.submit(inside)
    await progress.wait()  # the engine is stepping it
    loop.reset()
    await progress.wait()
    assert inside.finished
    assert loop.scheduler.idle
    assert loop.scheduler.kv.cached_prefix(inside.hashes) == 0
    # The engine runs on, with its new scheduler.
    after = request((), 16, output=2)
    after.notify = progress
    loop.submit(after)
    async with asyncio.timeout(5):
        while not after.finished:
            await progress.wait()
    await loop.aclose()
