"""The router's routing state as Prometheus metrics, read at scrape time.

Nothing here runs per request: a collector reads the routing table in force (each
deployment's health, circuit breaker and requests in flight) and the dispatcher's
cumulative counters (retries, failovers, fallbacks...) when Prometheus scrapes. Label
values are catalog names (deployment, provider type, model alias; a discovered
replica's name adds its address): bounded by the catalog and the replicas found,
whatever clients send. Per-call metrics are recorded at the adapter boundary
(:mod:`router.observability.observed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway_shared.plans import Priority
from router.routing.breaker import BreakerState
from router.routing.deployment import Health
from router.state import RouterState

_DEPLOYMENT = ["deployment", "provider", "model"]

HEALTH_STATE = "gateway_provider_health_state"
BREAKER_STATE = "gateway_circuit_breaker_state"
BREAKER_OPENED = "gateway_circuit_breaker_opened"
DEPLOYMENT_IN_FLIGHT = "gateway_deployment_in_flight"
HEALTH_CHECKS = "gateway_provider_health_checks"
CATALOG_INFO = "gateway_router_catalog_info"
SHED_REQUESTS = "gateway_router_shed_requests"
DISCOVERED_REPLICAS = "gateway_router_discovered_replicas"
DISCOVERY_FAILURES = "gateway_router_discovery_failures"

# The dispatcher's counters (router.routing.dispatcher.RoutingCounters), as metric help.
ROUTING_COUNTERS = {
    "requests": "Requests the dispatcher handled.",
    "retries": "Attempts after a request's first one.",
    "failovers": "Attempts sent to another deployment than the request's previous attempt.",
    "fallbacks": "Attempts sent to a lower-priority (fallback) group than the request's "
    "first attempt.",
    "exhausted": "Requests that failed after all their attempts.",
    "unavailable": "Requests refused before any attempt: no deployment could take them.",
    "panics": "Attempts sent despite an open circuit breaker, nothing else being able to "
    "take them.",
}


def routing_counter(name: str) -> str:
    """The metric name of one of :data:`ROUTING_COUNTERS`."""
    if name not in ROUTING_COUNTERS:
        raise KeyError(name)
    return f"gateway_router_{name}"


class RouterCollector(Collector):
    def __init__(self, state: Callable[[], RouterState | None]) -> None:
        self._state = state

    def describe(self) -> Iterator[Metric]:
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        return self._families(self._state())

    def _families(self, state: RouterState | None) -> Iterator[Metric]:
        health = GaugeMetricFamily(
            HEALTH_STATE,
            "Active health check result per deployment: 1 for its current state "
            "(healthy, unhealthy, unknown), 0 for the others.",
            labels=[*_DEPLOYMENT, "state"],
        )
        breaker = GaugeMetricFamily(
            BREAKER_STATE,
            "Circuit breaker per deployment: 1 for its current state (closed, open, "
            "half_open), 0 for the others.",
            labels=[*_DEPLOYMENT, "state"],
        )
        opened = CounterMetricFamily(
            BREAKER_OPENED,
            "Times a deployment's circuit breaker opened.",
            labels=_DEPLOYMENT,
        )
        in_flight = GaugeMetricFamily(
            DEPLOYMENT_IN_FLIGHT,
            "Requests in flight per deployment.",
            labels=_DEPLOYMENT,
        )
        checks = CounterMetricFamily(
            HEALTH_CHECKS,
            "Active health checks per deployment, by result (ok, failed).",
            labels=[*_DEPLOYMENT, "result"],
        )
        catalog = GaugeMetricFamily(
            CATALOG_INFO,
            "Always 1: the model catalog in force (sha256 prefix), to spot replicas that disagree.",
            labels=["sha256"],
        )
        routing = {
            name: CounterMetricFamily(routing_counter(name), help_text)
            for name, help_text in ROUTING_COUNTERS.items()
        }
        shed = CounterMetricFamily(
            SHED_REQUESTS,
            "Requests refused by the saturation guard (every engine of the model queueing), "
            "by the key's plan priority.",
            labels=["model", "priority"],
        )
        # Labelled by the catalog's deployment name (its replicas are named after it).
        discovered = GaugeMetricFamily(
            DISCOVERED_REPLICAS,
            "Addresses a discovered deployment's host last resolved to (discovery: dns).",
            labels=["deployment"],
        )
        discovery_failures = CounterMetricFamily(
            DISCOVERY_FAILURES,
            "Failed resolutions of a discovered deployment's host (its last addresses stay).",
            labels=["deployment"],
        )
        if state is not None:
            for name, resolved in state.discovery.known.items():
                discovered.add_metric([name], len(resolved.addresses))
            for name, count in state.discovery.failures.items():
                discovery_failures.add_metric([name], count)
            catalog.add_metric([state.table.source.sha256[:12]], 1)
            for name, deployment in state.table.states.items():
                labels = [name, deployment.deployment.provider, deployment.alias]
                for health_state in Health:
                    current = deployment.health is health_state
                    health.add_metric([*labels, health_state.value], int(current))
                for breaker_state in BreakerState:
                    current = deployment.breaker.state is breaker_state
                    breaker.add_metric([*labels, breaker_state.value], int(current))
                opened.add_metric(labels, deployment.breaker.opened)
                in_flight.add_metric(labels, deployment.in_flight)
                counters = deployment.counters
                failed = counters.health_failures
                checks.add_metric([*labels, "ok"], counters.health_checks - failed)
                checks.add_metric([*labels, "failed"], failed)
            values = dataclasses.asdict(state.dispatcher.counters)
            for name, family in routing.items():
                family.add_metric([], values.get(name, 0))
            # Every model and priority, from 0: "none shed" reads 0, not "no data".
            counts = state.dispatcher.counters.shed
            for alias in state.table.routes.keys() | counts.keys():
                for priority in Priority:
                    shed.add_metric([alias, priority], counts.get(alias, {}).get(priority, 0))
        yield from (health, breaker, opened, in_flight, checks, catalog)
        yield from routing.values()
        yield from (shed, discovered, discovery_failures)
