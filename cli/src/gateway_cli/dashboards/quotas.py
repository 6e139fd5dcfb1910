"""LLM gateway / Keys and quotas: per key, token usage, quota saturation and refusals;
spend by model, requests of unknown cost, and when the usage counters started."""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import Query, stat_panel, table_panel, timeseries_panel
from gateway_cli.dashboards.promql import increase, max_, rate, series, sum_
from gateway_cli.dashboards.tier import job
from policy.metrics import COST, COUNTERS_STARTED, QUOTA_USED, REJECTIONS, TOKENS, UNPRICED

POLICY = job("policy")
KEY = 'key_name=~"$key_name"'


def board() -> Board:
    tokens = series(f"{TOKENS}_total", POLICY, KEY)
    quota = max_(series(QUOTA_USED, POLICY, KEY), "key_name, period")
    return Board(
        uid="gateway-quotas",
        title="LLM gateway / Keys and quotas",
        description="Per key: token usage, quota saturation and rejections by reason; "
        "spend by model. Key names come from the key registry.",
        variables=[Variable("key_name", "Key", series(f"{TOKENS}_total", POLICY))],
        rows=[
            Row(
                "Quotas",
                [
                    table_panel(
                        "Quota used",
                        "Share of each key's daily / monthly token quota used (charged plus "
                        "reserved), as of its last request.",
                        quota,
                        "percentunit",
                    ),
                    timeseries_panel(
                        "Quota used over time",
                        "Alert at 90% (GatewayQuotaSaturation).",
                        [Query(quota, "{{key_name}} {{period}}")],
                        "percentunit",
                    ),
                ],
            ),
            Row(
                "Usage",
                [
                    timeseries_panel(
                        "Tokens/s by key",
                        "Input and output tokens charged per second.",
                        [
                            Query(
                                sum_(rate(tokens), "key_name, token_type"),
                                "{{key_name}} {{token_type}}",
                            )
                        ],
                        "short",
                        stacked=True,
                    ),
                    table_panel(
                        "Top keys by tokens (dashboard range)",
                        "Tokens charged over the dashboard's time range.",
                        f"topk(10, {sum_(increase(tokens, '$__range'), 'key_name')})",
                        "short",
                    ),
                    timeseries_panel(
                        "Tokens/s by key and model",
                        "Which keys use which models.",
                        [Query(sum_(rate(tokens), "key_name, model"), "{{key_name}} {{model}}")],
                        "short",
                    ),
                ],
            ),
            Row(
                "Spend",
                [
                    _hourly_by_model(
                        "Spend by model (USD per hour)",
                        "USD charged over the past hour, by model alias (docs/policy.md, "
                        '"Prices and cost"). Requests of unknown cost are not in it.',
                        COST,
                        "currencyUSD",
                    ),
                    _hourly_by_model(
                        "Unpriced requests by model (per hour)",
                        "Requests of unknown cost over the past hour: their deployments have "
                        "no prices in the catalog, so no spend above counts them.",
                        UNPRICED,
                        "short",
                    ),
                    stat_panel(
                        "Usage counters started",
                        "When the usage, quota and budget counters in Redis started: Redis "
                        "is ephemeral, so a start inside today or this month means that "
                        "period's counters restarted from zero (GatewayUsageCountersReset).",
                        # Grafana's date units read milliseconds.
                        f"{max_(series(COUNTERS_STARTED, POLICY), '')} * 1000",
                        "dateTimeFromNow",
                    ),
                ],
            ),
            Row(
                "Rejections",
                [
                    timeseries_panel(
                        "Rejections/s by key and reason",
                        "429s (and limiter_unavailable 503s) per key.",
                        [
                            Query(
                                sum_(
                                    rate(series(f"{REJECTIONS}_total", POLICY, KEY)),
                                    "key_name, reason",
                                ),
                                "{{key_name}} {{reason}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                    timeseries_panel(
                        "Rejections/s by reason",
                        "All keys.",
                        [
                            Query(
                                sum_(rate(series(f"{REJECTIONS}_total", POLICY)), "reason"),
                                "{{reason}}",
                            )
                        ],
                        "reqps",
                        stacked=True,
                    ),
                ],
            ),
        ],
    )


def _hourly_by_model(title: str, description: str, counter: str, unit: str) -> timeseries.Panel:
    """A policy counter's increase over the past hour, stacked by model alias."""
    query = sum_(increase(series(f"{counter}_total", POLICY), "1h"), "model")
    return timeseries_panel(title, description, [Query(query, "{{model}}")], unit, stacked=True)
