"""LLM gateway / Providers: provider calls as the router sees them, per deployment."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import Query, table_panel, timeseries_panel
from gateway_cli.dashboards.promql import quantile, rate, ratio_by, series, sum_
from gateway_cli.dashboards.states import BREAKER, HEALTH
from gateway_cli.dashboards.tier import job
from gateway_shared.observability.outcomes import Outcome
from router.observability.collector import BREAKER_OPENED, HEALTH_CHECKS, routing_counter
from router.observability.provider_metrics import (
    GENAI_OPERATION_DURATION,
    GENAI_USAGE,
    PROVIDER_ITL,
    PROVIDER_REQUEST_DURATION,
    PROVIDER_TTFT,
)

ROUTER = job("router")
DEPLOYMENT = 'deployment=~"$deployment"'
ON = (ROUTER, DEPLOYMENT)
# Failed on the provider's side: a client leaving is not a failure.
FAILED_CALL = f'outcome!~"{Outcome.OK}|{Outcome.CANCELLED}"'
CUT_SHORT = f'outcome=~"{Outcome.INTERRUPTED}|{Outcome.CANCELLED}"'
# The dispatcher's counters of attempts beyond the plan, and of requests it gave up on.
ROUTING = ("retries", "failovers", "fallbacks", "panics", "exhausted")


def _health() -> Row:
    return Row(
        "Health",
        [
            table_panel(
                "Health checks",
                "Each deployment's active health checks: healthy, unhealthy (failing) or "
                "unknown (not checked yet).",
                HEALTH.expr(*ON),
                "none",
                HEALTH.mappings(),
            ),
            table_panel(
                "Circuit breakers",
                "closed: in use; open: the router skips the deployment until its "
                "cooldown ends; half_open: probing it with a few requests.",
                BREAKER.expr(*ON),
                "none",
                BREAKER.mappings(),
            ),
            timeseries_panel(
                "Breaker openings/h",
                "How often each breaker opens, per hour: the same at any zoom.",
                [
                    Query(
                        f"{sum_(rate(series(f'{BREAKER_OPENED}_total', *ON)), 'deployment')}"
                        " * 3600",
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
    failed = series(f"{PROVIDER_REQUEST_DURATION}_count", *ON, FAILED_CALL)
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
                "Attempts that failed on the provider's side (client cancellations "
                "excluded), by outcome.",
                [Query(sum_(rate(failed), "deployment, outcome"), "{{deployment}} {{outcome}}")],
                "reqps",
            ),
            timeseries_panel(
                "Error ratio by deployment",
                "Share of each deployment's attempts that failed (GatewayDeploymentErrors "
                "alerts above 10%).",
                [
                    Query(
                        ratio_by(sum_(rate(failed), "deployment"), sum_(rate(calls), "deployment")),
                        "{{deployment}}",
                    )
                ],
                "percentunit",
            ),
            timeseries_panel(
                "Interrupted streams and client cancellations/s",
                "interrupted: a stream the provider broke after the client got part of "
                "it; cancelled: the client left before the end.",
                [
                    Query(
                        sum_(
                            rate(series(f"{PROVIDER_REQUEST_DURATION}_count", *ON, CUT_SHORT)),
                            "deployment, outcome",
                        ),
                        "{{deployment}} {{outcome}}",
                    )
                ],
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
                "Inter-token latency p50 / p95 by deployment",
                "Streams that ended well: the mean time between two output tokens "
                "(1 / the output tokens per second one stream gets).",
                [
                    Query(
                        quantile(q, PROVIDER_ITL, ON, "deployment"),
                        f"p{round(q * 100)} {{{{deployment}}}}",
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
            ),
            timeseries_panel(
                "Retries, failovers, fallbacks, panics",
                "Across all models: attempts after the first, to another deployment, to "
                "a fallback group, through an open breaker (nothing else could take "
                "them); requests that ran out of attempts.",
                [
                    Query(sum_(rate(series(f"{routing_counter(name)}_total", ROUTER))), name)
                    for name in ROUTING
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
