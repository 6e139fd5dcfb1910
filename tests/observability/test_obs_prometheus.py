"""A real Prometheus scrapes every tier while traffic runs; then every PromQL expression
of every dashboard panel and alerting/recording rule is evaluated through its HTTP API:
each must parse, and each panel must return data."""

from __future__ import annotations

import re
import time

from tests.observability.conftest import HEALTHY_SLO, ObservedStack
from tests.observability.exprs import panel_exprs, rule_exprs
from tests.observability.prometheus import Prometheus
from tests.observability.traffic import Traffic
from tests.support.waiting import wait_until

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def _scraped_after_traffic(prometheus: Prometheus) -> bool:
    """The traffic's last effects are in Prometheus, and the rules have run on them."""
    probes = (
        'gateway_ratelimit_rejections_total{reason="daily_quota"}',
        'gateway_provider_request_duration_seconds_count{outcome="unavailable"}',
        'gateway_provider_request_duration_seconds_count{outcome="cancelled"}',
        'gateway_provider_request_duration_seconds_count{outcome="interrupted"}',
        'gateway_http_errors_total{job="gateway-edge",code="invalid_api_key"}',
        "gateway:slo_errors:ratio_rate5m",
        "gateway:slo_overhead_slow:ratio_rate5m",
    )
    return all(prometheus.query(probe) for probe in probes)


def test_every_panel_and_rule_evaluates(
    observed: ObservedStack, prometheus: Prometheus, traffic: Traffic
) -> None:
    assert traffic.count(429) >= 3
    assert traffic.count(502) == 1
    # Before its first 5xx the gateway's SLO and burn rate were 0, not empty.
    assert traffic.healthy_slo == dict.fromkeys(HEALTHY_SLO, 0.0)
    wait_until(lambda: _scraped_after_traffic(prometheus), timeout=30, what="traffic in Prometheus")

    problems = []
    checked = 0
    for expr, _ in panel_exprs():
        checked += 1
        try:
            result = prometheus.query(expr.expr)
        except AssertionError as exc:
            problems.append(f"{expr.where}: does not evaluate: {exc}")
            continue
        if not result:
            problems.append(f"{expr.where}: no data for {expr.expr}")
    for expr in rule_exprs():
        checked += 1
        try:
            result = prometheus.query(expr.expr)
        except AssertionError as exc:
            problems.append(f"{expr.where}: does not evaluate: {exc}")
            continue
        # A recording rule has a value whatever happened (an alert's is empty until it fires).
        if ":" in expr.where.rsplit("/", 1)[1] and not result:
            problems.append(f"{expr.where}: no data for {expr.expr}")
    assert not problems, "\n".join(problems)
    assert checked > 90

    # Prometheus itself loaded every rule and evaluates them without error.
    groups = prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(rule_exprs())
    assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]


def test_latency_histograms_carry_trace_exemplars(
    observed: ObservedStack, prometheus: Prometheus, traffic: Traffic
) -> None:
    def exemplars() -> list[dict[str, str]]:
        now = time.time()
        found = []
        for metric in (
            'gateway_http_request_duration_seconds_bucket{job="gateway-edge"}',
            'gateway_provider_request_duration_seconds_bucket{job="gateway-router"}',
            'gateway_overhead_seconds_bucket{job="gateway-edge"}',
        ):
            data = prometheus.api("query_exemplars", query=metric, start=now - 600, end=now)
            found.extend(e["labels"] for series in data for e in series["exemplars"])
        return found

    found = wait_until(exemplars, timeout=30, what="exemplars in Prometheus")
    assert all(TRACE_ID.match(labels["trace_id"]) for labels in found)
    # They point at traces that were really exported.
    exported = {span.trace_id for span in observed.otlp.receiver.spans}
    assert {labels["trace_id"] for labels in found} & exported
