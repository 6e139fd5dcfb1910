"""LLM gateway / Overview: what clients get (at edge), tokens and refusals (policy), and
whether providers are up (router)."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import Query, stat_panel, table_panel, timeseries_panel
from gateway_cli.dashboards.promql import max_, quantile, rate, ratio, series, sum_
from gateway_cli.dashboards.tier import FIVE_XX, V1, job
from gateway_shared.observability.metrics import (
    HTTP_ERRORS,
    HTTP_IN_FLIGHT,
    HTTP_REQUEST_DURATION,
    OVERHEAD,
)
from policy.metrics import REJECTIONS, TOKENS
from router.observability.collector import BREAKER_STATE, HEALTH_STATE, routing_counter
from router.observability.provider_metrics import PROVIDER_REQUEST_DURATION

MODEL = 'model=~"$model"'
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
                quantile(0.5, OVERHEAD, (EDGE,)),
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
                "Latency p50 / p95 / p99",
                "End-to-end request latency at edge (streams: until the last byte). "
                "Exemplars link to traces.",
                [
                    Query(
                        quantile(q, HTTP_REQUEST_DURATION, (EDGE, V1, MODEL)),
                        f"p{round(q * 100)}",
                        exemplar=True,
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
                "s",
            ),
            timeseries_panel(
                "Errors/s by type and code",
                "Error answers (4xx and 5xx) by OpenAI error type and code, as clients "
                "received them.",
                [
                    Query(
                        sum_(rate(series(f"{HTTP_ERRORS}_total", EDGE)), "error_type, code"),
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
                    Query(quantile(q, OVERHEAD, (EDGE,)), f"p{round(q * 100)}", exemplar=True)
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
                "Rejections/s by reason",
                "Requests refused by key limits (429) or because limits could not be checked.",
                [Query(sum_(rate(series(f"{REJECTIONS}_total", POLICY)), "reason"), "{{reason}}")],
                "reqps",
                stacked=True,
            ),
        ],
    )


def _providers() -> Row:
    healthy = series(HEALTH_STATE, ROUTER, 'state="healthy"')
    return Row(
        "Providers (router)",
        [
            stat_panel(
                "Deployments healthy",
                "Deployments whose active health checks pass, out of all.",
                sum_(max_(healthy, "deployment")),
                "none",
            ),
            stat_panel(
                "Breakers open",
                "Deployments the router currently skips (circuit breaker open).",
                sum_(max_(series(BREAKER_STATE, ROUTER, 'state="open"'), "deployment")),
                "none",
                ((None, "green"), (1, "red")),
            ),
            stat_panel(
                "Retries/s",
                "Provider attempts after a request's first one.",
                sum_(rate(series(f"{routing_counter('retries')}_total", ROUTER))),
                "reqps",
            ),
            stat_panel(
                "In flight (all tiers)",
                "Requests being handled now, per tier.",
                sum_(series(HTTP_IN_FLIGHT, 'job=~"gateway-.*"'), "job"),
                "none",
            ),
            table_panel(
                "Provider health",
                "Per deployment: 1 = healthy, 0 = failing its health checks or not checked yet.",
                max_(healthy, "model, deployment, provider"),
                "short",
            ),
            timeseries_panel(
                "Provider call latency p95 by deployment",
                "Provider calls (attempts), to the answer's end.",
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


def board() -> Board:
    return Board(
        uid="gateway-overview",
        title="LLM gateway / Overview",
        description="What clients get (measured at edge), what it costs in tokens, who is "
        "refused, and whether providers are up.",
        variables=[
            Variable("model", "Model", series(f"{HTTP_REQUEST_DURATION}_count", EDGE)),
        ],
        rows=[_clients(), _tokens_and_limits(), _providers()],
    )
