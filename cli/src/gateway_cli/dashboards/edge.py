"""LLM gateway / Edge: the public tier, its key checks and the overhead it measures."""

from __future__ import annotations

from edge.metrics import KEY_LOOKUPS
from gateway_cli.dashboards.board import Board, Row
from gateway_cli.dashboards.panels import Query, timeseries_panel
from gateway_cli.dashboards.promql import quantile, rate, series, sum_
from gateway_cli.dashboards.tier import (
    INSTANCE,
    instance_variable,
    job,
    load_row,
    process_row,
    redis_row,
)
from gateway_shared.observability.metrics import OVERHEAD

TIER = "edge"


def board() -> Board:
    on = (job(TIER), INSTANCE)
    return Board(
        uid="gateway-edge",
        title="LLM gateway / Edge",
        description="The public tier: authentication (Redis key lookups), input checks, "
        "overhead. Scale on in-flight requests and CPU.",
        variables=[instance_variable(TIER)],
        rows=[
            load_row(TIER),
            process_row(TIER),
            Row(
                "Authentication and overhead",
                [
                    timeseries_panel(
                        "Key checks/s by result",
                        "cache: this replica's cache; redis: found in Redis; unknown: no "
                        "such key; error: Redis down.",
                        [
                            Query(
                                sum_(rate(series(f"{KEY_LOOKUPS}_total", *on)), "result"),
                                "{{result}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "Gateway overhead p50 / p99",
                        "Edge's time to first byte minus the providers' time (SLO: 99% <= 25 ms).",
                        [
                            Query(quantile(q, OVERHEAD, on), f"p{round(q * 100)}", exemplar=True)
                            for q in (0.5, 0.99)
                        ],
                        "s",
                    ),
                ],
            ),
            redis_row(TIER),
        ],
    )
