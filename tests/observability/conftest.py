"""The observability system tests' stack: every tier exporting spans to an in-test OTLP
receiver, scraped by a real Prometheus, with one mix of traffic driven through it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway_cli.stack import Ports, Stack, write_simulator_catalog
from tests.conftest import create_key
from tests.observability.otlp import OTLPServer
from tests.observability.prometheus import Prometheus
from tests.observability.traffic import PRICED, Traffic, drive
from tests.support.waiting import wait_until

TIERS = ("edge", "policy", "router")


@dataclass
class ObservedStack:
    stack: Stack
    otlp: OTLPServer
    keys: dict[str, str]

    def url(self, tier: str) -> str:
        return self.stack.services[tier].url

    def metrics(self, tier: str, *, openmetrics: bool = False) -> str:
        accept = "application/openmetrics-text; version=1.0.0" if openmetrics else "text/plain"
        response = httpx.get(self.url(tier) + "/metrics", headers={"accept": accept}, timeout=10)
        response.raise_for_status()
        return response.text


@pytest.fixture(scope="session")
def otlp() -> Iterator[OTLPServer]:
    server = OTLPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _catalog(workdir: Path, simulator_port: int) -> Path:
    """The simulator's catalog, and a priced alias: the quotas dashboard's spend has data
    (the others have no prices, its unpriced panel's)."""
    path = workdir / "catalog.yaml"
    write_simulator_catalog(path, simulator_port)
    with path.open("a") as catalog:
        catalog.write(
            f"  - alias: {PRICED}\n"
            "    deployments:\n"
            f"      - {{name: sim-priced-1, provider: vllm, model: sim-model,\n"
            f"          base_url: 'http://127.0.0.1:{simulator_port}/v1',\n"
            "          prices: {input: 2.0, output: 8.0}}\n"
        )
    return path


@pytest.fixture(scope="session")
def observed(tmp_path_factory: pytest.TempPathFactory, otlp: OTLPServer) -> Iterator[ObservedStack]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "",
    }
    workdir = tmp_path_factory.mktemp("observed")
    ports = Ports()
    stack = Stack(
        workdir, ports=ports, catalog_path=_catalog(workdir, ports.simulator), extra_env=env
    )
    try:
        stack.start()
        keys = {
            "plain": create_key(stack, "obs-plain"),
            "rpm": create_key(stack, "obs-rpm", "--rpm", "2"),
            "quota": create_key(stack, "obs-quota", "--daily-tokens", "120"),
            "cached": create_key(stack, "obs-cached", "--cache-ttl-s", "60"),
        }
        yield ObservedStack(stack, otlp, keys)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, observed: ObservedStack
) -> Iterator[Prometheus]:
    targets = {
        f"gateway-{tier}": f"127.0.0.1:{observed.stack.services[tier].port}" for tier in TIERS
    }
    targets["simulator"] = f"127.0.0.1:{observed.stack.services['simulator'].port}"
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), targets)
    server.start()
    try:
        wait_until(server.ready, timeout=30, what="prometheus to be ready")
        wait_until(server.targets_up, timeout=30, what="every target to be up")
        yield server
    finally:
        server.stop()


# The availability SLO as the rules and the overview's burn-rate panel say it.
HEALTHY_SLO = ("gateway:slo_errors:ratio_rate5m", "gateway:slo_errors:ratio_rate1h / 0.005")


def _slo_of_a_healthy_gateway(
    prometheus: Prometheus, succeed: Callable[[], None]
) -> dict[str, float]:
    """The SLO before any 5xx was served, once Prometheus has one: an SLO that stays
    empty until the first failure never gets one, and fails the traffic here. Requests
    keep succeeding meanwhile, so that the request counters grow between scrapes."""

    def values() -> dict[str, float]:
        succeed()
        found = {}
        for expr in HEALTHY_SLO:
            result = prometheus.query(expr)
            # NaN until Prometheus has seen the request counters grow.
            if result and not math.isnan(value := float(result[0]["value"][1])):
                found[expr] = value
        return found if len(found) == len(HEALTHY_SLO) else {}

    return wait_until(values, timeout=60, interval=0.5, what="the SLO of a healthy gateway")


@pytest.fixture(scope="session")
def traffic(observed: ObservedStack, prometheus: Prometheus) -> Traffic:
    """One mix of traffic, driven once Prometheus scrapes every tier."""
    return drive(
        observed.stack,
        observed.keys,
        before_failures=lambda succeed: _slo_of_a_healthy_gateway(prometheus, succeed),
    )
