"""LLM gateway / Router: the catalog, balancing, retries and deployments in flight."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row
from gateway_cli.dashboards.panels import Query, timeseries_panel
from gateway_cli.dashboards.promql import quantile, rate, series, sum_
from gateway_cli.dashboards.tier import INSTANCE, instance_variable, job, load_row, process_row
from gateway_shared.observability.metrics import HTTP_REQUEST_DURATION
from router.observability.collector import DEPLOYMENT_IN_FLIGHT, SHED_REQUESTS, routing_counter
from router.observability.provider_metrics import PROVIDER_TTFT

TIER = "router"
INFERENCE = 'route=~"/v1/(chat/completions|completions|embeddings)"'


def board() -> Board:
    on = (job(TIER), INSTANCE)
    routing = ("retries", "failovers", "fallbacks", "panics", "exhausted", "unavailable")
    return Board(
        uid="gateway-router",
        title="LLM gateway / Router",
        description="Catalog, balancing, retries and provider calls. Streams keep requests "
        "in flight for minutes: scale on in-flight requests.",
        variables=[instance_variable(TIER)],
        rows=[
            load_row(TIER),
            process_row(TIER),
            Row(
                "Routing",
                [
                    timeseries_panel(
                        "Requests/s by model",
                        "Inference requests by catalog alias.",
                        [
                            Query(
                                sum_(
                                    rate(series(f"{HTTP_REQUEST_DURATION}_count", *on, INFERENCE)),
                                    "model",
                                ),
                                "{{model}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "Retries, failovers, fallbacks, panics",
                        "Attempts after the first, to another deployment, to a fallback "
                        "group, through an open breaker (nothing else could take them); "
                        "requests that ran out of attempts, that no deployment could take.",
                        [
                            Query(sum_(rate(series(f"{routing_counter(name)}_total", *on))), name)
                            for name in routing
                        ],
                        "reqps",
                    ),
                    timeseries_panel(
                        "Shed requests/s by priority",
                        "Refused at once by the saturation guard (503 server_overloaded, "
                        "Retry-After) because every engine of the model had queued past its "
                        "shed_queue_depth: low priority first, high last. 0 for a model "
                        "without the guard.",
                        [
                            Query(
                                sum_(
                                    rate(series(f"{SHED_REQUESTS}_total", *on)),
                                    "model, priority",
                                ),
                                "{{model}} {{priority}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "In flight per deployment",
                        "Requests in flight per deployment (a deployment at its "
                        "max_concurrency is skipped).",
                        [
                            Query(
                                sum_(series(DEPLOYMENT_IN_FLIGHT, *on), "deployment"),
                                "{{deployment}}",
                            )
                        ],
                        "none",
                    ),
                    timeseries_panel(
                        "Provider time to first token p95",
                        "Streams: from sending to the first token, by deployment.",
                        [
                            Query(
                                quantile(0.95, PROVIDER_TTFT, on, "deployment"),
                                "{{deployment}}",
                                exemplar=True,
                            )
                        ],
                        "s",
                    ),
                ],
            ),
        ],
    )
