"""LLM gateway / Policy: admission (limits and quotas) and accounting."""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row
from gateway_cli.dashboards.panels import Query, timeseries_panel
from gateway_cli.dashboards.promql import rate, series, sum_
from gateway_cli.dashboards.tier import (
    INSTANCE,
    instance_variable,
    job,
    load_row,
    process_row,
    redis_row,
)
from policy.cache.metrics import REQUESTS as CACHE_REQUESTS
from policy.cache.metrics import STORED_BYTES as CACHE_STORED_BYTES
from policy.metrics import REJECTIONS, TOKENS, UNMETERED

TIER = "policy"


def board() -> Board:
    on = (job(TIER), INSTANCE)
    return Board(
        uid="gateway-policy",
        title="LLM gateway / Policy",
        description="Admission and accounting: two Redis scripts per request. Scale on "
        "in-flight requests and CPU; watch Redis latency.",
        variables=[instance_variable(TIER)],
        rows=[
            load_row(TIER),
            process_row(TIER),
            Row(
                "Admission",
                [
                    timeseries_panel(
                        "Rejections/s by reason",
                        "Requests refused by key limits, or because Redis could not be "
                        "asked (fail-closed).",
                        [
                            Query(
                                sum_(rate(series(f"{REJECTIONS}_total", *on)), "reason"),
                                "{{reason}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "Unmetered requests/s",
                        "Admitted without a limit check: Redis down and "
                        "POLICY_REDIS_FAILURE_MODE=open.",
                        [Query(sum_(rate(series(f"{UNMETERED}_total", *on))), "unmetered")],
                        "reqps",
                    ),
                    timeseries_panel(
                        "Tokens settled/s",
                        "Tokens charged per second (input and output).",
                        [
                            Query(
                                sum_(rate(series(f"{TOKENS}_total", *on)), "token_type"),
                                "{{token_type}}",
                            )
                        ],
                        "short",
                        stacked=True,
                    ),
                ],
            ),
            Row(
                "Response cache",
                [
                    timeseries_panel(
                        "Cache requests/s by outcome",
                        "Requests of keys whose plan has a response cache: hit (answered "
                        "by policy, no provider), miss, bypass (the caller sent no-store).",
                        [
                            Query(
                                sum_(rate(series(f"{CACHE_REQUESTS}_total", *on)), "outcome"),
                                "{{outcome}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "Cache bytes stored/s by model",
                        "Answers written to the cache Redis (allkeys-lru: what it holds is "
                        "bounded by its memory cap, not by this rate).",
                        [
                            Query(
                                sum_(rate(series(f"{CACHE_STORED_BYTES}_total", *on)), "model"),
                                "{{model}}",
                            )
                        ],
                        "Bps",
                    ),
                ],
            ),
            redis_row(TIER),
        ],
    )
