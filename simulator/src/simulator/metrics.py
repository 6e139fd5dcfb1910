"""vLLM-style Prometheus metrics, one registry per app, served on ``GET /metrics``.

Names and labels follow vLLM's so dashboards and alerts written for a real vLLM fleet
work against the simulator:

- ``vllm:num_requests_running`` (gauge), ``vllm:num_requests_waiting`` (gauge, always 0)
- ``vllm:request_success_total`` (counter, also labelled ``finished_reason``)
- ``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total`` (counters)
- ``vllm:time_to_first_token_seconds``, ``vllm:e2e_request_latency_seconds`` (histograms)

All carry ``model_name``. Label children are resolved once per served model up front, so
recording costs a few attribute look-ups per request.
"""

from __future__ import annotations

from collections.abc import Iterable

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
FINISH_REASONS = ("stop", "length", "abort")

CONTENT_TYPE = CONTENT_TYPE_LATEST

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
REQUEST_SUCCESS = "vllm:request_success"
PROMPT_TOKENS = "vllm:prompt_tokens"
GENERATION_TOKENS = "vllm:generation_tokens"
TTFT = "vllm:time_to_first_token_seconds"
E2E_LATENCY = "vllm:e2e_request_latency_seconds"


class ModelMetrics:
    """The label children of one served model."""

    __slots__ = ("e2e", "generation_tokens", "prompt_tokens", "running", "success", "ttft")

    def __init__(self, metrics: SimMetrics, model: str) -> None:
        self.running = metrics.running.labels(model_name=model)
        metrics.waiting.labels(model_name=model).set(0)
        self.success = {
            reason: metrics.success.labels(model_name=model, finished_reason=reason)
            for reason in FINISH_REASONS
        }
        self.prompt_tokens = metrics.prompt_tokens.labels(model_name=model)
        self.generation_tokens = metrics.generation_tokens.labels(model_name=model)
        self.ttft = metrics.ttft.labels(model_name=model)
        self.e2e = metrics.e2e.labels(model_name=model)


class SimMetrics:
    def __init__(self, models: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["model_name"]
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
        self.e2e = Histogram(
            E2E_LATENCY,
            "Histogram of end to end request latency in seconds.",
            labels,
            buckets=E2E_BUCKETS,
            registry=self.registry,
        )
        self.by_model = {model: ModelMetrics(self, model) for model in models}

    def render(self) -> bytes:
        return generate_latest(self.registry)
