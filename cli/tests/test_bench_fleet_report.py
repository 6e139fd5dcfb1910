"""``gateway bench --fleet``'s pure parts: the engines' readings and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway_cli.bench.fleet import report
from gateway_cli.bench.fleet.engines import EngineStats, Reading
from gateway_cli.bench.fleet.fleet import POLICIES
from router.providers.base import EngineLoad


def _load(running: int, waiting: int) -> EngineLoad:
    return EngineLoad(running=running, waiting=waiting, kv_usage=0.5)


def test_engine_stats_count_saturated_and_idle_readings() -> None:
    readings = [
        Reading(0.0, (_load(4, 2), _load(4, 3))),  # every replica past the depth
        Reading(0.25, (_load(4, 2), _load(0, 0))),  # one idle
        Reading(0.5, (_load(1, 0), _load(2, 1))),  # neither
        Reading(0.75, (_load(4, 2), None)),  # a replica did not answer: not counted
    ]
    stats = EngineStats.of(readings, depth=2)
    assert stats == EngineStats(saturated=1 / 3, some_idle=1 / 3)
    assert EngineStats.of([Reading(0.0, (None, _load(1, 0)))], depth=2) is None


def _run(policy: str, load: float, ttft_p99: float, shed: dict[str, int]) -> dict[str, Any]:
    return {
        "policy": policy,
        "load": load,
        "rate": 4.0 * load,
        "ttft_p50": ttft_p99 / 2,
        "ttft_p99": ttft_p99,
        "e2e_p99": ttft_p99 + 1,
        "tokens_per_s": 50.0,
        "hit_rate": 0.9 if policy == "load_aware" else 0.3,
        "shed": shed,
        "shed_p99_ms": 12.0 if any(shed.values()) else None,
        "shed_gateway_p99_ms": 8.0 if any(shed.values()) else None,
        "shed_without_retry_after": 0,
        "failed": 0,
        "timed_out": 0,
        "gateway_cpu": 10.0,
        "machine_busy": 12.0,
        "saturated": 0.0 if policy == "load_aware" else 0.25,
        "some_idle": 0.5 if policy == "load_aware" else 0.0,
    }


def _results(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "command": "uv run gateway bench --fleet",
        "started": "2026-12-02 17:00 UTC",
        "policy_cost_us": 10.0,
        "settings": {
            "replicas": 4,
            "slowdown": 10,
            "duration": 15,
            "warmup": 5,
            "rounds": 3,
            "shed_queue_depth": 2,
        },
        "cells": cells,
    }


def _cell(name: str, shared: bool, runs: list[dict[str, Any]]) -> dict[str, Any]:
    shape = {"tenants": 12, "system_tokens": 2000, "shared": shared}
    return {"name": name, "kv_blocks": 450, "shape": shape, "capacity": 4.0, "runs": runs}


def test_report_gives_the_overload_ratios_per_round_and_the_engines_shares(
    tmp_path: Path,
) -> None:
    none = {"low": 0, "normal": 0, "high": 0}
    runs = []
    for over, target in ((0.6, 0.2), (0.9, 0.3), (3.0, 0.5)):  # ratios 3, 3, 6
        runs += [_run("load_aware", 0.8, target, none), _run("load_aware", 1.5, over, none)]
    for _ in range(3):
        runs += [
            _run("round_robin", 0.8, 1.0, none),
            _run("round_robin", 1.5, 4.0, {"low": 5, "normal": 2, "high": 1}),
        ]
    control = _cell("control", False, [_run(p, 0.8, 1.0, none) for p in POLICIES])
    output = tmp_path / "fleet.md"
    report.write(_results([_cell("shared", True, runs), control]), output)
    text = output.read_text()
    assert (
        "- load_aware: TTFT p99 3.00x 80%'s (3.00-6.00 over 3 rounds); 0 timed out; "
        "shed 0/0/0 (no high shed), p99 -, 0 without Retry-After; "
        "engines: every replica >= 2 waiting 0%, some idle 50%"
    ) in text
    assert "- round_robin: TTFT p99 4.00x 80%'s" in text
    assert "shed 15/6/3 (high shed last)" in text
    # The control runs at 80% alone: it has no overload section, not an empty one.
    assert text.count("At 150% load") == 1
    assert (tmp_path / "fleet-1.png").stat().st_size > 0
