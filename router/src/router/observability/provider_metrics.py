"""The metrics of provider calls, and each deployment's resolved label children.

- ``gateway_provider_request_duration_seconds``: every call (one per attempt), by outcome;
- ``gateway_provider_time_to_first_token_seconds``: streamed calls, to the first token;
- the GenAI semantic conventions' ``gen_ai.client.operation.duration`` and
  ``gen_ai.client.token.usage`` (in Prometheus ``gen_ai_client_operation_duration_seconds``
  and ``gen_ai_client_token_usage``).

Label values come from the catalog (deployment, provider type, model) and a fixed list
of outcomes, so clients cannot grow them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from gateway_shared.observability.metrics import LATENCY_BUCKETS, TTFT_BUCKETS, trace_exemplar
from gateway_shared.observability.outcomes import Outcome
from gateway_shared.wire.report import Usage
from router.catalog import Deployment

PROVIDER_REQUEST_DURATION = "gateway_provider_request_duration_seconds"
PROVIDER_TTFT = "gateway_provider_time_to_first_token_seconds"
PROVIDER_ITL = "gateway_provider_inter_token_latency_seconds"
GENAI_OPERATION_DURATION = "gen_ai_client_operation_duration_seconds"
GENAI_USAGE = "gen_ai_client_token_usage"
# Between two output tokens: a fast small model to a slow large one.
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1.0)
# The semantic conventions' advised buckets.
GENAI_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GENAI_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip


class ProviderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            PROVIDER_REQUEST_DURATION,
            "Provider calls (one per attempt) from sending to the answer's end (streams: "
            "the last chunk), by provider type, deployment, operation and outcome (ok, "
            "rate_limited, timeout, unavailable, rejected, interrupted, error, cancelled, "
            "internal: gateway_shared.observability.outcomes).",
            ("provider", "deployment", "operation", "outcome"),
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.ttft = Histogram(
            PROVIDER_TTFT,
            "Provider calls, from sending to the first token; stream is whether the client "
            "asked for a stream (whole answers are read as streams too).",
            ("provider", "deployment", "stream"),
            buckets=TTFT_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.itl = Histogram(
            PROVIDER_ITL,
            "Streamed calls that ended well, from the first token to the last divided by "
            "the output tokens after the first: the mean time between two tokens.",
            ("provider", "deployment"),
            buckets=ITL_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.operation_duration = Histogram(
            GENAI_OPERATION_DURATION,
            "GenAI operation duration (OpenTelemetry semantic conventions: "
            "gen_ai.client.operation.duration); error_type is empty on success.",
            ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
            buckets=GENAI_DURATION_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.token_usage = Histogram(
            GENAI_USAGE,
            "Number of input and output tokens used per call (OpenTelemetry semantic "
            "conventions: gen_ai.client.token.usage).",
            (
                "gen_ai_operation_name",
                "gen_ai_provider_name",
                "gen_ai_request_model",
                "gen_ai_token_type",
            ),
            buckets=GENAI_TOKEN_BUCKETS,
            registry=registry,
        )


class DeploymentInstruments:
    """One deployment's label children, resolved when its adapter is built: recording a
    call then costs a dictionary look-up and an observation."""

    def __init__(self, metrics: ProviderMetrics, deployment: Deployment) -> None:
        self._metrics = metrics
        self.provider = deployment.provider
        self.name = deployment.name
        self.model = deployment.model
        self.ttft = {
            True: metrics.ttft.labels(self.provider, self.name, "true"),
            False: metrics.ttft.labels(self.provider, self.name, "false"),
        }
        self.itl = metrics.itl.labels(self.provider, self.name)
        self._duration: dict[tuple[str, Outcome], Histogram] = {}
        self._operation: dict[tuple[str, Outcome], Histogram] = {}
        self._tokens: dict[tuple[str, str], Histogram] = {}

    def observe(
        self, operation: str, outcome: Outcome, seconds: float, trace_id: str | None
    ) -> None:
        key = (operation, outcome)
        duration = self._duration.get(key)
        if duration is None:
            duration = self._duration[key] = self._metrics.duration.labels(
                self.provider, self.name, operation, outcome
            )
            error_type = "" if outcome is Outcome.OK else outcome.value
            self._operation[key] = self._metrics.operation_duration.labels(
                operation, self.provider, self.model, error_type
            )
        exemplar = trace_exemplar(trace_id)
        duration.observe(seconds, exemplar)
        self._operation[key].observe(seconds, exemplar)

    def tokens(self, operation: str, usage: Usage) -> None:
        for token_type, count in (
            ("input", usage.prompt_tokens),
            ("output", usage.completion_tokens),
        ):
            key = (operation, token_type)
            child = self._tokens.get(key)
            if child is None:
                child = self._tokens[key] = self._metrics.token_usage.labels(
                    operation, self.provider, self.model, token_type
                )
            child.observe(count)
