"""What every tier's dashboard shows the same way: its load, its process and its Redis
calls, each panel filtered by the tier's job and the dashboard's ``$instance``."""

from __future__ import annotations

from gateway_cli.dashboards.board import Row, Variable
from gateway_cli.dashboards.panels import (
    ALL_UP,
    Query,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from gateway_cli.dashboards.promql import count_, max_, quantile, rate, ratio, series, sum_
from gateway_shared.observability.metrics import (
    BUILD_INFO,
    HTTP_ERRORS,
    HTTP_IN_FLIGHT,
    HTTP_REQUEST_DURATION,
)
from gateway_shared.observability.redis_calls import REDIS_CALL_DURATION, REDIS_ERRORS

INSTANCE = 'instance=~"$instance"'
V1 = 'route=~"/v1/.+"'
FIVE_XX = 'status_class="5xx"'
RATIO_STEPS = ((None, "green"), (0.01, "orange"), (0.05, "red"))


def job(tier: str) -> str:
    return f'job="gateway-{tier}"'


def instance_variable(tier: str) -> Variable:
    return Variable("instance", "Instance", series("up", job(tier)))


def load_row(tier: str) -> Row:
    on = (job(tier), INSTANCE)
    requests = series(f"{HTTP_REQUEST_DURATION}_count", *on)
    failed = series(f"{HTTP_REQUEST_DURATION}_count", *on, FIVE_XX)
    in_flight = series(HTTP_IN_FLIGHT, *on)
    return Row(
        "Load",
        [
            stat_panel(
                "Replicas up (share)",
                "Share of this tier's targets Prometheus scrapes successfully: green only "
                "when all are up (the count per pod is in the panels below).",
                f"{sum_(series('up', job(tier)))} / {count_(series('up', job(tier)))}",
                "percentunit",
                ALL_UP,
            ),
            stat_panel(
                "Requests/s",
                "All requests this tier handles (probes included).",
                sum_(rate(requests)),
                "reqps",
            ),
            stat_panel(
                "In flight",
                "Requests being handled now (the HPA's custom metric, averaged per pod).",
                sum_(in_flight),
                "none",
            ),
            stat_panel(
                "5xx ratio",
                "Share of this tier's answers that were 5xx.",
                ratio(sum_(rate(failed)), sum_(rate(requests))),
                "percentunit",
                RATIO_STEPS,
            ),
            timeseries_panel(
                "In flight per pod",
                "Requests in flight per replica: what the HPA scales on (target 100 per pod).",
                [Query(in_flight, "{{instance}}")],
                "none",
            ),
            timeseries_panel(
                "Requests/s by route",
                "By route template ('unmatched': unknown paths).",
                [Query(sum_(rate(requests), "route"), "{{route}}")],
                "reqps",
                stacked=True,
            ),
            timeseries_panel(
                "Latency p50 / p95 / p99 by route and stream",
                "Time to the last byte of the response, by route template; streams "
                "(stream=true) apart, since they last until their last token.",
                [
                    Query(
                        quantile(q, HTTP_REQUEST_DURATION, (*on, V1), "route, stream"),
                        f"p{round(q * 100)} {{{{route}}}} stream={{{{stream}}}}",
                        exemplar=True,
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
                "s",
            ),
            timeseries_panel(
                "Errors/s by code",
                "Error answers of this tier by status class and error code.",
                [
                    Query(
                        sum_(rate(series(f"{HTTP_ERRORS}_total", *on)), "status_class, code"),
                        "{{status_class}} {{code}}",
                    )
                ],
                "reqps",
            ),
        ],
    )


def process_row(tier: str) -> Row:
    on = (job(tier), INSTANCE)
    return Row(
        "Process",
        [
            timeseries_panel(
                "CPU (cores)",
                "CPU time per second per replica: one uvicorn process each.",
                [Query(rate(series("process_cpu_seconds_total", *on)), "{{instance}}")],
                "none",
            ),
            timeseries_panel(
                "Resident memory",
                "Per replica.",
                [Query(series("process_resident_memory_bytes", *on), "{{instance}}")],
                "bytes",
            ),
            timeseries_panel(
                "Open file descriptors",
                "Sockets included: connections to clients, the next tier and Redis.",
                [Query(series("process_open_fds", *on), "{{instance}}")],
                "none",
            ),
            timeseries_panel(
                "Python GC collections/s",
                "Garbage collections per generation (pauses add latency).",
                [
                    Query(
                        sum_(rate(series("python_gc_collections_total", *on)), "generation"),
                        "gen {{generation}}",
                    )
                ],
                "none",
            ),
            table_panel(
                "Versions running",
                "Each replica's version of the tier (gateway_build_info): two versions "
                "at once mean a rollout in progress, or one stuck.",
                max_(series(BUILD_INFO, *on), "instance, version"),
                "none",
            ),
        ],
    )


def redis_row(tier: str) -> Row:
    on = (job(tier), INSTANCE)
    return Row(
        "Redis",
        [
            timeseries_panel(
                "Redis call latency p50 / p99",
                "By operation (a script or pipeline is one call).",
                [
                    Query(
                        quantile(q, REDIS_CALL_DURATION, on, "operation"),
                        f"p{round(q * 100)} {{{{operation}}}}",
                    )
                    for q in (0.5, 0.99)
                ],
                "s",
            ),
            timeseries_panel(
                "Redis errors/s",
                "Failed Redis calls by operation and kind (timeout, connection, other).",
                [
                    Query(
                        sum_(rate(series(f"{REDIS_ERRORS}_total", *on)), "operation, error"),
                        "{{operation}} {{error}}",
                    )
                ],
                "reqps",
            ),
        ],
    )
