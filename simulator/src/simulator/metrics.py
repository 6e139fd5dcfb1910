"""vLLM-style Prometheus metrics, one registry per app, served on ``GET /metrics``.

Names and labels follow vLLM's so dashboards and alerts written for a real vLLM fleet
work against the simulator:

- ``vllm:num_requests_running``, ``vllm:num_requests_waiting`` (gauges; waiting is 0
  without the engine model)
- ``vllm:kv_cache_usage_perc`` (gauge, 0 to 1) and, as vLLM before 0.11 named it,
  ``vllm:gpu_cache_usage_perc``
- ``vllm:prefix_cache_queries_total``, ``vllm:prefix_cache_hits_total`` (counters, tokens)
- ``vllm:cache_config_info`` (gauge, 1, the KV cache's settings as labels: ``block_size``,
  ``num_gpu_blocks``, ``enable_prefix_caching``, as vLLM reports them once sized)
- ``vllm:request_success_total`` (counter, also labelled ``finished_reason``)
- ``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total`` (counters)
- ``vllm:time_to_first_token_seconds``, ``vllm:time_per_output_token_seconds``,
  ``vllm:e2e_request_latency_seconds`` (histograms)

All carry ``model_name`` and ``engine`` (one engine, ``"0"``). The engine's own gauges
and counters are reported under the first served model, as a vLLM server serves one.
Label children are resolved once per served model up front, so recording costs a few
attribute look-ups per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# vLLM's buckets for these histograms.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
TPOT_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
FINISH_REASONS = ("stop", "length", "abort")
ENGINE = "0"

CONTENT_TYPE = CONTENT_TYPE_LATEST

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = "vllm:kv_cache_usage_perc"
KV_USAGE_BEFORE_0_11 = "vllm:gpu_cache_usage_perc"
CACHE_CONFIG = "vllm:cache_config_info"
REQUEST_SUCCESS = "vllm:request_success"
PROMPT_TOKENS = "vllm:prompt_tokens"
GENERATION_TOKENS = "vllm:generation_tokens"
TTFT = "vllm:time_to_first_token_seconds"
E2E_LATENCY = "vllm:e2e_request_latency_seconds"


class ModelMetrics:
    """The label children of one served model."""

    __slots__ = (
        "e2e",
        "generation_tokens",
        "hits",
        "kv_usage",
        "old_kv_usage",
        "prompt_tokens",
        "queries",
        "running",
        "success",
        "tpot",
        "ttft",
        "waiting",
    )

    def __init__(self, metrics: SimMetrics, model: str) -> None:
        labels = {"model_name": model, "engine": ENGINE}
        self.running = metrics.running.labels(**labels)
        self.waiting = metrics.waiting.labels(**labels)
        self.kv_usage = metrics.kv_usage.labels(**labels)
        self.old_kv_usage = metrics.old_kv_usage.labels(**labels)
        self.queries = metrics.prefix_queries.labels(**labels)
        self.hits = metrics.prefix_hits.labels(**labels)
        self.success = {
            reason: metrics.success.labels(**labels, finished_reason=reason)
            for reason in FINISH_REASONS
        }
        self.prompt_tokens = metrics.prompt_tokens.labels(**labels)
        self.generation_tokens = metrics.generation_tokens.labels(**labels)
        self.ttft = metrics.ttft.labels(**labels)
        self.tpot = metrics.tpot.labels(**labels)
        self.e2e = metrics.e2e.labels(**labels)


class SimMetrics:
    def __init__(self, models: Iterable[str], cache: Mapping[str, object]) -> None:
        """``cache``: the KV cache's settings, reported as vLLM reports its CacheConfig."""
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["model_name", "engine"]
        self.running = Gauge(
            RUNNING,
            "Number of requests in model execution batches.",
            labels,
            registry=self.registry,
        )
        self.waiting = Gauge(
            WAITING,
            "Number of requests waiting to be processed.",
            labels,
            registry=self.registry,
        )
        self.kv_usage = Gauge(
            KV_USAGE,
            "KV-cache usage. 1 means 100 percent usage.",
            labels,
            registry=self.registry,
        )
        self.old_kv_usage = Gauge(
            KV_USAGE_BEFORE_0_11,
            "GPU KV-cache usage. 1 means 100 percent usage (the name before vLLM 0.11).",
            labels,
            registry=self.registry,
        )
        self.prefix_queries = Counter(
            "vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
            labels,
            registry=self.registry,
        )
        self.prefix_hits = Counter(
            "vllm:prefix_cache_hits",
            "Prefix cache hits, in terms of number of cached tokens.",
            labels,
            registry=self.registry,
        )
        self.success = Counter(
            REQUEST_SUCCESS,
            "Count of successfully processed requests.",
            [*labels, "finished_reason"],
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            PROMPT_TOKENS,
            "Number of prefill tokens processed.",
            labels,
            registry=self.registry,
        )
        self.generation_tokens = Counter(
            GENERATION_TOKENS,
            "Number of generation tokens processed.",
            labels,
            registry=self.registry,
        )
        self.ttft = Histogram(
            TTFT,
            "Histogram of time to first token in seconds.",
            labels,
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.tpot = Histogram(
            "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds.",
            labels,
            buckets=TPOT_BUCKETS,
            registry=self.registry,
        )
        self.e2e = Histogram(
            E2E_LATENCY,
            "Histogram of end to end request latency in seconds.",
            labels,
            buckets=E2E_BUCKETS,
            registry=self.registry,
        )
        cache_labels = {name: str(value) for name, value in cache.items()}
        Gauge(
            CACHE_CONFIG,
            "Information of the LLMEngine CacheConfig",
            list(cache_labels),
            registry=self.registry,
        ).labels(**cache_labels).set(1)
        self.by_model = {model: ModelMetrics(self, model) for model in models}
        self.engine = next(iter(self.by_model.values()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
