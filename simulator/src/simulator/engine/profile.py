"""The engine's physics: one small model on one data-centre GPU, as vLLM v0.11.0 runs it.

Compose pins ``vllm/vllm-openai:v0.11.0``; every default below is that version's, or is
derived from the hardware in the comment beside it. The profile approximates
Llama-3.1-8B-Instruct in bf16 on one NVIDIA H100 80GB SXM served by ``vllm serve`` (the
OpenAI API server usage context) with its defaults. It was written before the routing
policy and is not tuned to make any policy look good.

Sources (vLLM at the v0.11.0 tag):

- ``vllm/config/cache.py``: ``block_size`` 16 tokens on CUDA; prefix caching on by
  default in the V1 engine (``vllm/engine/arg_utils.py``, ``enable_prefix_caching``).
- ``vllm/v1/core/kv_cache_utils.py``: ``hash_block_tokens(parent_block_hash, tokens)``:
  a block's hash covers its parent's, so a block is a hit only if its whole prefix is;
  only full blocks are cached; freed blocks stay cached and are evicted least recently
  used first (``FreeKVCacheBlockQueue``).
- ``vllm/engine/arg_utils.py``, ``EngineArgs.get_batch_defaults``: on a GPU with at
  least 70 GiB that is not an A100 (H100, MI300x), the API server defaults to
  ``max_num_batched_tokens`` 8192 and ``max_num_seqs`` 1024 (other GPUs: 2048 and 256;
  see vLLM PR #17885 for why A100 stays low).
- ``vllm/v1/core/sched/scheduler.py``: running requests are scheduled before waiting
  ones, within the token budget (chunked prefill is always on in V1); a request that
  cannot get KV blocks preempts the last running one (``fcfs``) or the lowest priority
  one (``priority``); with ``--scheduling-policy priority`` the *lower* ``priority``
  value is served first (``vllm/entrypoints/openai/protocol.py``: "lower means earlier
  handling"), and a non-zero ``priority`` is refused otherwise
  (``vllm/v1/engine/processor.py``: "Got priority ... but Priority scheduling is not
  enabled.").
- The prompt's last token is always computed, even on a full hit
  (``KVCacheManager.get_computed_blocks`` caps the hit at ``num_tokens - 1``).

Derived figures (stated derivations; the GPU's datasheet figures are NVIDIA's H100 SXM:
80 GB HBM3 at 3.35 TB/s, 989 dense bf16 TFLOPS):

- KV per token: 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 128 KiB.
- KV capacity at ``gpu_memory_utilization`` 0.9: 0.9 x 80 GiB = 72 GiB, minus 15 GiB of
  weights (8.03 B parameters x 2 bytes) and about 2.3 GiB of activation peak found by
  vLLM's profiling run, leaves about 54.7 GiB: 448k tokens, 28,000 blocks of 16.
- Step base: a decode step reads all weights once, 16 GB / 3.35 TB/s = 4.8 ms, plus
  sampling, scheduling and launch overhead (CUDA graphs on): 6.5 ms.
- Per running sequence in a decode step: reading its KV cache, about 2.7k tokens x
  128 KiB / 3.35 TB/s = 0.11 ms.
- Per prefill token: 2 x 8.03 GFLOP per token at about half of the dense peak (the
  utilisation vLLM's prefill throughput benchmarks reach on H100) = 0.030 ms.

These give a decode-only step at a batch of 64 of about 13.5 ms (74 tokens/s per
sequence) and a 2,000-token prefill of about 66 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class SchedulingPolicy(StrEnum):
    FCFS = "fcfs"  # vLLM's default
    PRIORITY = "priority"


@dataclass(frozen=True, slots=True)
class EngineProfile:
    """What one simulated engine can do, and how long each step takes."""

    block_size: int = 16
    num_gpu_blocks: int = 28_000
    max_num_seqs: int = 1024
    max_num_batched_tokens: int = 8192
    step_base_ms: float = 6.5
    step_per_decode_seq_ms: float = 0.11
    step_per_prefill_token_ms: float = 0.030
    scheduling_policy: SchedulingPolicy = SchedulingPolicy.FCFS
    enable_prefix_caching: bool = True

    def step_ms(self, decode_seqs: int, prefill_tokens: int) -> float:
        """How long one engine step takes with this batch."""
        return (
            self.step_base_ms
            + self.step_per_decode_seq_ms * decode_seqs
            + self.step_per_prefill_token_ms * prefill_tokens
        )

    def scaled(self, *, slowdown: float = 1.0, kv_fraction: float = 1.0) -> EngineProfile:
        """A GPU ``slowdown`` times slower with ``kv_fraction`` of the KV cache: the
        same physics at a size a small machine can drive to saturation."""
        return replace(
            self,
            num_gpu_blocks=max(1, round(self.num_gpu_blocks * kv_fraction)),
            step_base_ms=self.step_base_ms * slowdown,
            step_per_decode_seq_ms=self.step_per_decode_seq_ms * slowdown,
            step_per_prefill_token_ms=self.step_per_prefill_token_ms * slowdown,
        )


H100_LLAMA_8B = EngineProfile()
