"""LLM gateway / Overview: what clients get (at edge), tokens and refusals (policy), and
whether providers are up (router)."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import (
    ALL_UP,
    Query,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from gateway_cli.dashboards.promql import (
    count_,
    max_,
    quantile,
    rate,
    ratio,
    ratio_by,
    series,
    sum_,
)
from gateway_cli.dashboards.states import HEALTH
from gateway_cli.dashboards.tier import FIVE_XX, V1, job
from gateway_shared.observability.metrics import (
    BUILD_INFO,
    CLIENT_TTFT,
    HTTP_ERRORS,
    HTTP_IN_FLIGHT,
    HTTP_REQUEST_DURATION,
    OVERHEAD,
)
from policy.metrics import REJECTIONS, TOKENS
from router.observability.collector import (
    BREAKER_STATE,
    CATALOG_INFO,
    HEALTH_STATE,
    routing_counter,
)
from router.observability.provider_metrics import PROVIDER_REQUEST_DURATION

MODEL = 'model=~"$model"'
# Requests answered with generated text, streamed or whole (embeddings apart).
GENERATION = 'route=~"/v1/(chat/completions|completions|responses|messages)"'
KINDS = (
    ("streamed", (GENERATION, 'stream="true"')),
    ("whole", (GENERATION, 'stream="false"')),
    ("embeddings", ('route="/v1/embeddings"',)),
)
EDGE = job("edge")
POLICY = job("policy")
ROUTER = job("router")


def _clients() -> Row:
    requests = series(f"{HTTP_REQUEST_DURATION}_count", EDGE, V1, MODEL)
    failed = series(f"{HTTP_REQUEST_DURATION}_count", EDGE, V1, MODEL, FIVE_XX)
    return Row(
        "Clients (edge)",
        [
            stat_panel(
                "Requests/s",
                "Client requests per second on /v1 routes.",
                sum_(rate(requests)),
                "reqps",
            ),
            stat_panel(
                "Error ratio (5xx)",
                "Share of client requests answered 5xx (availability SLO: at most 0.5%).",
                ratio(sum_(rate(failed)), sum_(rate(requests))),
                "percentunit",
                ((None, "green"), (0.005, "orange"), (0.02, "red")),
            ),
            stat_panel(
                "Gateway overhead p50",
                "Edge's time to the first byte minus the providers' time, median (target <= 5 ms).",
                quantile(0.5, OVERHEAD, (EDGE, MODEL)),
                "s",
                ((None, "green"), (0.005, "orange"), (0.025, "red")),
            ),
            stat_panel(
                "Availability burn rate (1h)",
                "Errors over the last hour relative to the error budget: 1 spends it in "
                "exactly 30 days; 14.4 pages.",
                "gateway:slo_errors:ratio_rate1h / 0.005",
                "none",
                ((None, "green"), (6, "orange"), (14.4, "red")),
            ),
            timeseries_panel(
                "Requests/s by status class",
                "Client requests on /v1 routes by status class.",
                [Query(sum_(rate(requests), "status_class"), "{{status_class}}")],
                "reqps",
                stacked=True,
            ),
            timeseries_panel(
                "Latency p50 / p99 by kind",
                "End-to-end request latency at edge, to the last byte: streams (as long as "
                "their answer), whole answers and embeddings apart, so that one does not "
                "hide the others. Exemplars link to traces.",
                [
                    Query(
                        quantile(q, HTTP_REQUEST_DURATION, (EDGE, *matchers, MODEL)),
                        f"p{round(q * 100)} {kind}",
                        exemplar=True,
                    )
                    for q in (0.5, 0.99)
                    for kind, matchers in KINDS
                ],
                "s",
            ),
            timeseries_panel(
                "Time to first token p50 / p95 by model",
                "Streams as clients see them: from the request's arrival at edge to the "
                "first chunk of the answer (gateway, queueing and prefill included).",
                [
                    Query(
                        quantile(q, CLIENT_TTFT, (EDGE, MODEL), "model"),
                        f"p{round(q * 100)} {{{{model}}}}",
                        exemplar=True,
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
            ),
            timeseries_panel(
                "Error ratio (5xx) by model",
                "Share of each model's client requests answered 5xx.",
                [
                    Query(
                        ratio_by(sum_(rate(failed), "model"), sum_(rate(requests), "model")),
                        "{{model}}",
                    )
                ],
                "percentunit",
            ),
            timeseries_panel(
                "Errors/s by type and code",
                "Error answers (4xx and 5xx) by OpenAI error type and code, as clients "
                "received them. A request refused before routing counts as model 'other'.",
                [
                    Query(
                        sum_(rate(series(f"{HTTP_ERRORS}_total", EDGE, MODEL)), "error_type, code"),
                        "{{error_type}} / {{code}}",
                    )
                ],
                "reqps",
            ),
            timeseries_panel(
                "Gateway overhead p50 / p99",
                "What the gateway adds: edge's time to first byte minus provider time "
                "(all attempts).",
                [
                    Query(quantile(q, OVERHEAD, (EDGE, MODEL)), f"p{round(q * 100)}", exemplar=True)
                    for q in (0.5, 0.99)
                ],
                "s",
            ),
        ],
    )


def _tokens_and_limits() -> Row:
    return Row(
        "Tokens and limits (policy)",
        [
            timeseries_panel(
                "Tokens/s by model",
                "Tokens charged to keys per second, input and output, by catalog model.",
                [
                    Query(
                        sum_(rate(series(f"{TOKENS}_total", POLICY, MODEL)), "model, token_type"),
                        "{{model}} {{token_type}}",
                    )
                ],
                "short",
                stacked=True,
            ),
            timeseries_panel(
                "Output tokens/s by model",
                "Output tokens charged per second: what the models generate.",
                [
                    Query(
                        sum_(
                            rate(series(f"{TOKENS}_total", POLICY, MODEL, 'token_type="output"')),
                            "model",
                        ),
                        "{{model}}",
                    )
                ],
                "short",
                stacked=True,
            ),
            timeseries_panel(
                "Rejections/s by reason",
                "Requests refused by key limits (429) or because limits could not be "
                "checked. All models: policy refuses before a model is resolved.",
                [Query(sum_(rate(series(f"{REJECTIONS}_total", POLICY)), "reason"), "{{reason}}")],
                "reqps",
                stacked=True,
            ),
        ],
    )


def _providers() -> Row:
    healthy = max_(series(HEALTH_STATE, ROUTER, MODEL, 'state="healthy"'), "deployment")
    retries = series(f"{routing_counter('retries')}_total", ROUTER)
    requests = series(f"{routing_counter('requests')}_total", ROUTER)
    return Row(
        "Providers (router)",
        [
            stat_panel(
                "Deployments healthy (share)",
                "Share of deployments whose active health checks pass: green only when "
                "all do, red when fewer than half (the table below names them).",
                f"{sum_(healthy)} / {count_(healthy)}",
                "percentunit",
                ALL_UP,
            ),
            stat_panel(
                "Breakers open",
                "Deployments the router currently skips (circuit breaker open).",
                sum_(max_(series(BREAKER_STATE, ROUTER, MODEL, 'state="open"'), "deployment")),
                "none",
                ((None, "green"), (1, "red")),
            ),
            stat_panel(
                "Retry ratio",
                "Provider attempts after a request's first one, per request routed (all models).",
                f"{sum_(rate(retries))} / {sum_(rate(requests))}",
                "percentunit",
                ((None, "green"), (0.05, "orange"), (0.2, "red")),
            ),
            stat_panel(
                "In flight (all tiers)",
                "Requests being handled now, per tier.",
                sum_(series(HTTP_IN_FLIGHT, 'job=~"gateway-.*"'), "job"),
                "none",
            ),
            table_panel(
                "Provider health",
                "Per deployment: healthy, unhealthy (failing its health checks) or unknown "
                "(not checked yet).",
                HEALTH.expr(ROUTER, MODEL),
                "none",
                HEALTH.mappings(),
            ),
            timeseries_panel(
                "Provider call latency p95 by deployment",
                "Provider calls (attempts), to the answer's end; all models.",
                [
                    Query(
                        quantile(0.95, PROVIDER_REQUEST_DURATION, (ROUTER,), "deployment"),
                        "{{deployment}}",
                        exemplar=True,
                    )
                ],
                "s",
            ),
        ],
    )


def _releases() -> Row:
    return Row(
        "Releases",
        [
            table_panel(
                "Versions running by tier",
                "Replicas per tier and version (gateway_build_info): two versions of a "
                "tier mean a rollout in progress, or one stuck.",
                f"count by (job, version) ({series(BUILD_INFO, 'job=~"gateway-.*"')})",
                "none",
            ),
            timeseries_panel(
                "Router replicas per catalog",
                "Replicas per model catalog in force (sha256 prefix): a reload starts a "
                "new line; two lines at once mean replicas disagree.",
                [Query(f"count by (sha256) ({series(CATALOG_INFO, ROUTER)})", "{{sha256}}")],
                "none",
            ),
        ],
    )


def board() -> Board:
    return Board(
        uid="gateway-overview",
        title="LLM gateway / Overview",
        description="What clients get (measured at edge), what it costs in tokens, who is "
        "refused, and whether providers are up.",
        variables=[
            Variable("model", "Model", series(f"{HTTP_REQUEST_DURATION}_count", EDGE)),
        ],
        rows=[_clients(), _tokens_and_limits(), _providers(), _releases()],
    )
