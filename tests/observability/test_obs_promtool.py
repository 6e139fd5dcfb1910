"""promtool: the rules are valid and pass their unit tests; every tier's /metrics passes
``promtool check metrics`` (names, types, suffixes, base units)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.observability.conftest import TIERS, ObservedStack
from tests.observability.prometheus import REPO, RULES, require_binary
from tests.observability.traffic import Traffic

UNIT_TESTS = Path(__file__).parent / "rules"


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rules_are_valid() -> None:
    files = sorted(str(path) for path in RULES.glob("*.yml"))
    assert files
    done = _promtool("check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_pass_their_unit_tests() -> None:
    files = sorted(str(path) for path in UNIT_TESTS.glob("*.yml"))
    assert files
    done = _promtool("test", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_tier_exports_metrics_promtool_accepts(
    observed: ObservedStack, traffic: Traffic
) -> None:
    for tier in TIERS:
        exposition = observed.metrics(tier)
        assert "gateway_http_request_duration_seconds_bucket" in exposition
        done = _promtool("check", "metrics", stdin=exposition)
        assert done.returncode == 0, f"{tier}: {done.stdout}{done.stderr}"


def test_promtool_check_metrics_can_fail() -> None:
    bad = "# HELP x_milliseconds X.\n# TYPE x_milliseconds counter\nx_milliseconds 1\n"
    assert _promtool("check", "metrics", stdin=bad).returncode != 0


def test_kubernetes_carries_the_same_rules() -> None:
    compose = yaml.safe_load((RULES / "gateway.rules.yml").read_text())
    kubernetes = yaml.safe_load((REPO / "k8s/base/monitoring/prometheusrule.yaml").read_text())
    assert kubernetes["kind"] == "PrometheusRule"
    assert kubernetes["spec"]["groups"] == compose["groups"]
