"""The router's status page (``GET /status``): what it is doing, as JSON.

Catalog fingerprint, per-deployment state (breaker, health, in flight, latency average,
cooldown, counters) and the router's retry/failover counters. Deployment names only:
no URLs, no keys. Metrics exporters read the same objects.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from router.routing.deployment import DeploymentState
from router.routing.dispatcher import Dispatcher
from router.routing.table import RoutingTable


def _deployment(state: DeploymentState, now: float) -> dict[str, Any]:
    breaker = state.breaker
    calls, failures = breaker.window_counts()
    return {
        "alias": state.alias,
        "provider": state.deployment.provider,
        "priority": state.priority,
        "weight": state.weight,
        "in_flight": state.in_flight,
        "max_concurrency": state.deployment.max_concurrency,
        "health": state.health,
        "breaker": {
            "state": breaker.state,
            "consecutive_failures": breaker.consecutive_failures,
            "window_calls": calls,
            "window_failures": failures,
            "opened": breaker.opened,
            "retry_in_seconds": (
                round(max(0.0, breaker.retry_at - now), 3) if breaker.retry_at else None
            ),
        },
        "cooldown_seconds": round(max(0.0, state.cooldown_until - now), 3),
        # The engine's last reading (routing/load.py) and how old it is; None: never read.
        "load": (
            None
            if state.load is None
            else {
                "running": state.load.running,
                "waiting": state.load.waiting,
                "kv_usage": state.load.kv_usage,
                "age_seconds": round(now - state.load_at, 3),
                "sent_since": state.sent_since_load,
            }
        ),
        "ttft_ewma_ms": round(state.ttft_ewma * 1000, 1) if state.ttft_ewma is not None else None,
        "counters": dataclasses.asdict(state.counters),
    }


def status_body(table: RoutingTable, dispatcher: Dispatcher) -> dict[str, Any]:
    now = time.monotonic()
    return {
        "catalog": {
            "path": str(table.source.path),
            "sha256": table.source.sha256,
            "loaded_at": table.source.loaded_at,
            "models": {
                alias: {
                    "strategy": route.entry.strategy,
                    "deployments": [s.name for s in route.deployments],
                }
                for alias, route in table.routes.items()
            },
        },
        "deployments": {name: _deployment(s, now) for name, s in table.states.items()},
        "routing": dataclasses.asdict(dispatcher.counters),
    }
