"""No secret escapes: after a scenario that exercises auth failures, provider errors with
the provider key in play, a misconfigured provider key and a Redis outage, no gateway
key, provider key, internal secret, pepper or Redis password appears in any log line,
response (body or header), metric or span attribute."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key, gateway_cli
from tests.observability.otlp import OTLPServer
from tests.support.waiting import wait_until

PROVIDER_KEY = "sk-provider-" + secrets.token_urlsafe(24)
WRONG_PROVIDER_KEY = "sk-provider-" + secrets.token_urlsafe(24)
REDIS_PASSWORD = "redis-" + secrets.token_urlsafe(24)  # pragma: allowlist secret
ATTEMPTED_KEYS = ["sk-gw-" + secrets.token_urlsafe(32), "hunter2-" + secrets.token_urlsafe(16)]


def _catalog(path: Path, simulator_url: str) -> Path:
    path.write_text(
        "models:\n"
        "  - alias: sim-chat\n    deployments:\n"
        f"      - {{name: sim-1, provider: vllm, base_url: '{simulator_url}', model: sim-model,"
        " api_key_env: SIM_PROVIDER_KEY}\n"
        "  - alias: misconfigured-chat\n    deployments:\n"
        f"      - {{name: bad-1, provider: vllm, base_url: '{simulator_url}', model: sim-model,"
        " api_key_env: WRONG_PROVIDER_KEY}\n"
    )
    return path


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, OTLPServer]]:
    otlp = OTLPServer()
    otlp.start()
    workdir = tmp_path_factory.mktemp("hygiene")
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "SIM_API_KEY": PROVIDER_KEY,
        "SIM_PROVIDER_KEY": PROVIDER_KEY,
        "WRONG_PROVIDER_KEY": WRONG_PROVIDER_KEY,
        "EDGE_LOG_LEVEL": "info",
        "POLICY_LOG_LEVEL": "info",
        "ROUTER_LOG_LEVEL": "info",
    }
    catalog = workdir / "catalog.yaml"
    stack = Stack(workdir, catalog_path=catalog, extra_env=env, redis_password=REDIS_PASSWORD)
    _catalog(catalog, stack.services["simulator"].url + "/v1")
    try:
        stack.start()
        yield stack, otlp
    finally:
        stack.stop()
        otlp.stop()


def _secrets(stack: Stack, keys: list[str]) -> dict[str, str]:
    found = {
        "provider key": PROVIDER_KEY,
        "wrong provider key": WRONG_PROVIDER_KEY,
        "Redis password": REDIS_PASSWORD,
        "internal secret": stack.secrets.internal_secret,
        "key pepper": stack.secrets.key_pepper,
    }
    found |= {f"gateway key {i}": key for i, key in enumerate(keys + ATTEMPTED_KEYS)}
    return found


def test_no_secret_in_logs_responses_metrics_or_spans(scene: tuple[Stack, OTLPServer]) -> None:
    stack, otlp = scene
    good = create_key(stack, "hygiene", "--rpm", "1000")  # limits: Redis in every request
    revoked = create_key(stack, "hygiene-revoked")
    gateway_cli(stack, "keys", "revoke", "hygiene-revoked")
    seen: list[str] = []
    chat = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    sim = httpx.Client(base_url=stack.services["simulator"].url, timeout=5)

    def record(response: httpx.Response) -> httpx.Response:
        seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    with httpx.Client(base_url=stack.base_url, timeout=15) as client:
        auth = {"authorization": f"Bearer {good}"}
        assert record(client.post("/chat/completions", json=chat, headers=auth)).status_code == 200
        record(client.post("/chat/completions", json=chat | {"stream": True}, headers=auth))
        for bad in ATTEMPTED_KEYS:
            record(
                client.post(
                    "/chat/completions", json=chat, headers={"authorization": f"Bearer {bad}"}
                )
            )
            record(client.get("/models", headers={"x-api-key": bad}))
        wait_until(
            lambda: (
                record(
                    client.post(
                        "/chat/completions",
                        json=chat,
                        headers={"authorization": f"Bearer {revoked}"},
                    )
                ).status_code
                == 401
            ),
            timeout=10,
            what="the revoked key refused",
        )
        misconfigured = record(
            client.post(
                "/chat/completions", json=chat | {"model": "misconfigured-chat"}, headers=auth
            )
        )
        assert misconfigured.status_code == 502
        sim.put("/admin/config", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
        assert record(client.post("/chat/completions", json=chat, headers=auth)).status_code >= 500
        sim.post("/admin/reset").raise_for_status()
        assert stack.redis is not None
        stack.redis.stop()
        assert record(client.post("/chat/completions", json=chat, headers=auth)).status_code == 503
        stack.redis.start()
        wait_until(
            lambda: (
                record(client.post("/chat/completions", json=chat, headers=auth)).status_code == 200
            ),
            timeout=15,
            what="recovery after Redis restarted",
        )
    for tier in ("edge", "policy", "router", "simulator"):
        record(httpx.get(stack.services[tier].url + "/metrics", timeout=5))
        record(httpx.get(stack.services[tier].url + "/readyz", timeout=5))
    record(httpx.get(stack.services["router"].url + "/status", timeout=5))
    # A last traced request: once its spans arrive from every tier, so have all before it
    # (each tier exports its spans in the order they ended).
    last = os.urandom(16).hex()
    with httpx.Client(base_url=stack.base_url, timeout=15) as client:
        traced = {
            "authorization": f"Bearer {good}",
            "traceparent": f"00-{last}-b7ad6b7169203331-01",
        }
        assert (
            record(client.post("/chat/completions", json=chat, headers=traced)).status_code == 200
        )
    wait_until(
        lambda: {s.service for s in otlp.receiver.trace(last)} >= {"edge", "policy", "router"},
        timeout=10,
        what="the last request's spans from every tier",
    )
    spans = json.dumps([s.attributes | {"name": s.name} for s in otlp.receiver.spans])
    logs = "\n".join(p.read_text(errors="replace") for p in (stack.workdir / "logs").glob("*.log"))
    assert "hygiene" in logs  # the request logs are there, and name the key

    for what, value in _secrets(stack, [good, revoked]).items():
        for place, text in (("a log", logs), ("a response", "\n".join(seen)), ("a span", spans)):
            assert value not in text, f"the {what} appears in {place}"
