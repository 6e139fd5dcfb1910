"""Helpers for the routing system tests: a stack with three simulators ("a" serves
``sim-model``, "b" ``sim-model-b``, "c" ``sim-model-c``, so an answer's ``model`` names
the deployment that served it), a catalog with one alias per scenario, and the router's
status page."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from gateway_cli.stack import Stack

MODEL_A = "sim-model"
MODEL_B = "sim-model-b"
MODEL_C = "sim-model-c"
# Small budgets so that the tests are quick: every value here is what the tests assert.
FIRST_TOKEN_SECONDS = 0.5
COOLDOWN_SECONDS = 1.0
CONSECUTIVE_FAILURES = 3
# The hung replica's budget in the hung-chat alias (the figures).
HUNG_FIRST_TOKEN_SECONDS = 1.0


def _deployment(name: str, url: str, model: str, extra: str = "") -> str:
    return f"      - {{name: {name}, provider: vllm, base_url: '{url}', model: {model}{extra}}}\n"


def _pair(prefix: str, a: str, b: str, extra_a: str = "", extra_b: str = "") -> str:
    return _deployment(f"{prefix}-a", a, MODEL_A, extra_a) + _deployment(
        f"{prefix}-b", b, MODEL_B, extra_b
    )


def catalog_text(a: str, b: str, c: str, *, reload_chat: str | None = None) -> str:
    """The routing stack's catalog; ``reload_chat`` replaces the reload-chat deployments."""
    ttft = f", timeouts: {{first_token: {FIRST_TOKEN_SECONDS}, connect: 0.5}}"
    fast_health = ", health_interval: 0.2"
    reload_deployments = reload_chat or (
        f"      - {{name: rl-a, provider: vllm, base_url: '{a}', model: {MODEL_A}}}\n"
    )
    return (
        "routing:\n"
        "  retry: {max_attempts: 3, budget_seconds: 10, backoff_initial_seconds: 0.05,"
        " backoff_max_seconds: 0.2}\n"
        f"  breaker: {{consecutive_failures: {CONSECUTIVE_FAILURES},"
        f" cooldown_seconds: {COOLDOWN_SECONDS}}}\n"
        "  health: {timeout_seconds: 0.5, unhealthy_after: 2}\n"
        "models:\n"
        "  - alias: fo-chat\n    strategy: round_robin\n    deployments:\n"
        + _pair("fo", a, b)
        + "  - alias: ttft-chat\n    deployments:\n"
        + _pair("ttft", a, b, ttft, ttft + ", priority: 1")
        + "  - alias: cut-chat\n    deployments:\n"
        + _pair("cut", a, b)
        + "  - alias: bad-chat\n    deployments:\n"
        + _pair("bad", a, b)
        + "  - alias: weighted-chat\n    strategy: weighted\n    deployments:\n"
        + _pair("w", a, b, ", weight: 3", ", weight: 1")
        + "  - alias: rr-chat\n    strategy: round_robin\n    deployments:\n"
        + _pair("rr", a, b, ", weight: 3", ", weight: 1")
        + "  - alias: lif-chat\n    strategy: least_in_flight\n    deployments:\n"
        + _pair("lif", a, b)
        + "  - alias: health-chat\n    strategy: round_robin\n    deployments:\n"
        + _pair("hc", a, b, fast_health, fast_health)
        + "  - alias: reload-chat\n    deployments:\n"
        + reload_deployments
        + "  - alias: hung-chat\n    strategy: round_robin\n    deployments:\n"
        + _deployment("hung-a", a, MODEL_A)
        + _deployment(
            "hung-b",
            b,
            MODEL_B,
            f", timeouts: {{first_token: {HUNG_FIRST_TOKEN_SECONDS}, total: 30}}",
        )
        + _deployment("hung-c", c, MODEL_C)
        # The runbook tests' (tests/observability/test_obs_runbooks.py): c is theirs to break.
        + "  - alias: rb-chat\n    strategy: round_robin\n    deployments:\n"
        + _deployment("rb-a", a, MODEL_A, fast_health)
        + _deployment("rb-c", c, MODEL_C, fast_health)
        + "  - alias: solo-chat\n    deployments:\n"
        + _deployment("solo-c", c, MODEL_C, fast_health)
        + "  - alias: slow-chat\n    deployments:\n"
        + _deployment("slow-c", c, MODEL_C, ttft)
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class RoutingStack:
    stack: Stack
    client: openai.OpenAI
    api_key: str
    a: httpx.Client
    b: httpx.Client
    catalog_path: Path

    @property
    def urls(self) -> tuple[str, str, str]:
        return (
            self.stack.services["simulator"].url + "/v1",
            self.stack.services["sim-b"].url + "/v1",
            self.stack.services["sim-c"].url + "/v1",
        )

    def status(self) -> dict[str, Any]:
        response = httpx.get(self.stack.services["router"].url + "/status", timeout=5)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def deployment(self, name: str) -> dict[str, Any]:
        deployment: dict[str, Any] = self.status()["deployments"][name]
        return deployment

    def write_catalog(self, text: str) -> str:
        """Replace the catalog atomically (as a deployment tool should); its sha256."""
        tmp = self.catalog_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.catalog_path)
        return sha256(text)

    def router_log(self) -> str:
        return self.stack.services["router"].log_path.read_text(errors="replace")

    def chat(self, model: str, **kw: Any) -> str:
        """One short chat completion; the upstream model that answered it."""
        reply = self.client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=2, **kw
        )
        return reply.model


def sim_stats(admin: httpx.Client) -> dict[str, int]:
    stats: dict[str, int] = admin.get("/admin/stats").json()
    return stats
