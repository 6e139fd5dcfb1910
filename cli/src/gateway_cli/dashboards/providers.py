"""LLM gateway / Providers: provider calls as the router sees them, per deployment."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import Query, table_panel, timeseries_panel
from gateway_cli.dashboards.promql import increase, max_, quantile, rate, series, sum_
from gateway_cli.dashboards.tier import job
from router.observability.collector import (
    BREAKER_OPENED,
    BREAKER_STATE,
    HEALTH_CHECKS,
    HEALTH_STATE,
    routing_counter,
)
from router.observability.provider_metrics import (
    GENAI_OPERATION_DURATION,
    GENAI_USAGE,
    PROVIDER_REQUEST_DURATION,
    PROVIDER_TTFT,
)

ROUTER = job("router")
DEPLOYMENT = 'deployment=~"$deployment"'
ON = (ROUTER, DEPLOYMENT)
BY_DEPLOYMENT = "model, deployment, provider"


def _health() -> Row:
    return Row(
        "Health",
        [
            table_panel(
                "Health checks",
                "1 = the deployment passes its active health checks.",
                max_(series(HEALTH_STATE, *ON, 'state="healthy"'), BY_DEPLOYMENT),
                "short",
            ),
            table_panel(
                "Circuit breakers",
                "1 = open: the router skips the deployment until its cooldown ends.",
                max_(series(BREAKER_STATE, *ON, 'state="open"'), BY_DEPLOYMENT),
                "short",
            ),
            timeseries_panel(
                "Breaker openings",
                "Times each breaker opened in the window.",
                [
                    Query(
                        sum_(
                            increase(series(f"{BREAKER_OPENED}_total", *ON), "$__rate_interval"),
                            "deployment",
                        ),
                        "{{deployment}}",
                    )
                ],
                "none",
            ),
            timeseries_panel(
                "Failed health checks/s",
                "Active health checks that failed, per deployment.",
                [
                    Query(
                        sum_(
                            rate(series(f"{HEALTH_CHECKS}_total", *ON, 'result="failed"')),
                            "deployment",
                        ),
                        "{{deployment}}",
                    )
                ],
                "none",
            ),
        ],
    )


def _calls() -> Row:
    calls = series(f"{PROVIDER_REQUEST_DURATION}_count", *ON)
    failed = series(f"{PROVIDER_REQUEST_DURATION}_count", *ON, 'outcome!~"ok|cancelled"')
    routing = ("retries", "failovers", "fallbacks", "exhausted")
    return Row(
        "Calls",
        [
            timeseries_panel(
                "Calls/s by outcome",
                "Provider attempts by outcome (ok, rate_limited, timeout, unavailable, "
                "rejected, interrupted, error, cancelled).",
                [Query(sum_(rate(calls), "outcome"), "{{outcome}}")],
                "reqps",
                stacked=True,
            ),
            timeseries_panel(
                "Failed calls/s by deployment",
                "Attempts that did not succeed (client cancellations excluded).",
                [Query(sum_(rate(failed), "deployment, outcome"), "{{deployment}} {{outcome}}")],
                "reqps",
            ),
            timeseries_panel(
                "Call latency p50 / p95 / p99",
                "Attempts from sending to the answer's end (streams: last chunk).",
                [
                    Query(
                        quantile(q, PROVIDER_REQUEST_DURATION, ON),
                        f"p{round(q * 100)}",
                        exemplar=True,
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
                "s",
            ),
            timeseries_panel(
                "Time to first token p50 / p95",
                "Streamed calls: from sending to the first token.",
                [
                    Query(quantile(q, PROVIDER_TTFT, ON), f"p{round(q * 100)}", exemplar=True)
                    for q in (0.5, 0.95)
                ],
                "s",
            ),
            timeseries_panel(
                "Retries, failovers, fallbacks",
                "Across all models.",
                [
                    Query(sum_(rate(series(f"{routing_counter(name)}_total", ROUTER))), name)
                    for name in routing
                ],
                "reqps",
            ),
        ],
    )


def _genai() -> Row:
    return Row(
        "GenAI semantic conventions",
        [
            timeseries_panel(
                "Token usage/s by provider model",
                "gen_ai.client.token.usage: tokens per second by request model and token type.",
                [
                    Query(
                        sum_(
                            rate(series(f"{GENAI_USAGE}_sum", ROUTER)),
                            "gen_ai_request_model, gen_ai_token_type",
                        ),
                        "{{gen_ai_request_model}} {{gen_ai_token_type}}",
                    )
                ],
                "short",
                stacked=True,
            ),
            timeseries_panel(
                "Operation duration p95 by model",
                "gen_ai.client.operation.duration, successful calls.",
                [
                    Query(
                        quantile(
                            0.95,
                            GENAI_OPERATION_DURATION,
                            (ROUTER, 'error_type=""'),
                            "gen_ai_request_model, gen_ai_operation_name",
                        ),
                        "{{gen_ai_operation_name}} {{gen_ai_request_model}}",
                    )
                ],
                "s",
            ),
        ],
    )


def board() -> Board:
    return Board(
        uid="gateway-providers",
        title="LLM gateway / Providers",
        description="Provider calls as the router sees them, per deployment: latency, time "
        "to first token, failures, health and circuit breakers.",
        variables=[
            Variable(
                "deployment",
                "Deployment",
                series(f"{PROVIDER_REQUEST_DURATION}_count", ROUTER),
            )
        ],
        rows=[_health(), _calls(), _genai()],
    )
