"""A tier's life as a process: it refuses to start without its secrets, naming them and
never showing a value; on SIGTERM it stops accepting connections, lets the streams in
flight finish, then exits (what a Kubernetes rollout or scale-in does to a pod).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway_cli.ports import free_port
from gateway_cli.stack import Stack
from tests.deploy.tiers import required_env, secret_env
from tests.support.waiting import wait_until

TIERS = ("edge", "policy", "router")
TOKENS = 40  # at 50 ms apart: a stream of ~2 s
SIGTERM_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained


def content_of(event: str) -> str:
    choices = json.loads(event.removeprefix("data: ")).get("choices") or [{}]
    content: str = choices[0].get("delta", {}).get("content") or ""
    return content


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False
    except OSError:
        return True


def stack_answers(stack: Stack, api_key: str) -> bool:
    try:
        response = httpx.post(
            stack.base_url + "/chat/completions",
            json={
                "model": "sim-chat",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 1,
            },
            headers={"authorization": f"Bearer {api_key}"},
            timeout=5,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@pytest.mark.parametrize("tier", TIERS)
def test_sigterm_mid_stream_lets_the_stream_finish(
    stack: Stack, api_key: str, simulator: httpx.Client, tier: str
) -> None:
    service = stack.services[tier]
    simulator.put("/admin/config", json={"itl_ms": 50, "output_tokens": TOKENS}).raise_for_status()
    body = {
        "model": "sim-chat",
        "messages": [{"role": "user", "content": "a long answer please"}],
        "max_tokens": TOKENS,
        "stream": True,
    }
    chunks: list[str] = []
    done = False

    def take(line: str) -> None:
        nonlocal done
        if line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            chunks.append(line)

    try:
        with httpx.stream(
            "POST",
            stack.base_url + "/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {api_key}"},
            timeout=30,
        ) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            for line in lines:
                take(line)
                if len(chunks) >= 3:
                    break
            assert service.process is not None
            service.process.send_signal(signal.SIGTERM)
            # It stops accepting new work at once ...
            wait_until(
                lambda: refuses_connections(service.port),
                timeout=2,
                interval=0.02,
                what=f"{tier} to stop accepting connections",
            )
            # ... while the stream in flight goes on.
            assert service.process.poll() is None, f"{tier} exited with a stream in flight"
            assert not done
            for line in lines:
                take(line)
        exit_code = service.process.wait(timeout=15)
    finally:
        service.restart()
        simulator.post("/admin/reset").raise_for_status()
        wait_until(lambda: stack_answers(stack, api_key), timeout=15, what="the stack to answer")
    assert done, "the stream did not end with data: [DONE]"
    assert not [c for c in chunks if '"error"' in c], "the stream ended in an error"
    contents = [text for c in chunks if (text := content_of(c))]
    assert len(contents) == TOKENS, f"{len(contents)} of {TOKENS} tokens arrived"
    assert exit_code in SIGTERM_EXIT


# ---- missing secrets ---------------------------------------------------------------


def _value(name: str) -> str:
    return f"value-of-{name.lower()}-that-must-never-be-printed"


def start_env(tier: str, tmp_path: Path) -> dict[str, str]:
    """Everything the tier needs, secrets with recognisable values."""
    ours = ("EDGE_", "POLICY_", "ROUTER_", "SIM_", "GATEWAY_", "REDIS_URL", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "models:\n  - alias: m\n    deployments:\n"
        "      - {name: d, provider: openai, base_url: 'http://127.0.0.1:9/v1', model: m,"
        " api_key_env: OPENAI_API_KEY}\n"
    )
    env |= {name: _value(name) for name in secret_env(tier, catalog)}
    env |= {f"{tier.upper()}_PORT": str(free_port()), f"{tier.upper()}_HOST": "127.0.0.1"}
    if "REDIS_URL" in env:
        env["REDIS_URL"] = f"redis://:{_value('REDIS_PASSWORD')}@127.0.0.1:9/0"
    if tier == "router":
        env["ROUTER_CATALOG_PATH"] = str(catalog)
    return env


def start(tier: str, env: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", tier],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def assert_no_secret_shown(output: str) -> None:
    assert "value-of-" not in output, output


CASES = [(tier, name) for tier in TIERS for name in sorted(required_env(tier))]


def test_the_secrets_are_required() -> None:
    # A secret that gained a default would no longer fail fast: pin the expected set.
    assert {"GATEWAY_INTERNAL_SECRET", "GATEWAY_KEY_PEPPER", "REDIS_URL"} <= required_env("edge")
    assert {"GATEWAY_INTERNAL_SECRET", "REDIS_URL"} <= required_env("policy")
    assert {"GATEWAY_INTERNAL_SECRET", "ROUTER_CATALOG_PATH"} <= required_env("router")


@pytest.mark.parametrize(("tier", "missing"), CASES)
def test_a_missing_setting_stops_startup_naming_it(tier: str, missing: str, tmp_path: Path) -> None:
    env = start_env(tier, tmp_path)
    env.pop(missing)
    code, output, took = start(tier, env)
    assert code != 0
    assert f"{missing} is not set" in output, output
    assert "secrets come from Doppler" in output
    assert "Traceback" not in output, "a clear message, not a stack trace"
    assert_no_secret_shown(output)
    assert took < 15


@pytest.mark.parametrize("tier", TIERS)
def test_every_missing_setting_is_named_at_once(tier: str, tmp_path: Path) -> None:
    env = start_env(tier, tmp_path)
    for name in required_env(tier):
        env.pop(name)
    code, output, _ = start(tier, env)
    assert code != 0
    for name in required_env(tier):
        assert f"{name} is not set" in output, output


def test_an_invalid_secret_is_named_not_shown(tmp_path: Path) -> None:
    env = start_env("policy", tmp_path)
    # Shorter than the 16 required:
    env["GATEWAY_INTERNAL_SECRET"] = "value-of-short"  # pragma: allowlist secret
    code, output, _ = start("policy", env)
    assert code != 0
    assert "GATEWAY_INTERNAL_SECRET is invalid" in output, output
    assert_no_secret_shown(output)


def test_router_refuses_a_catalog_whose_provider_key_is_missing(tmp_path: Path) -> None:
    env = start_env("router", tmp_path)
    env.pop("OPENAI_API_KEY")
    code, output, took = start("router", env)
    assert code != 0
    assert "needs OPENAI_API_KEY, which is not set" in output, output
    assert_no_secret_shown(output)
    assert took < 15


def test_edge_refuses_to_start_without_a_key_registry(tmp_path: Path) -> None:
    env = start_env("edge", tmp_path)
    env.pop("GATEWAY_KEY_REGISTRY")
    code, output, _ = start("edge", env)
    assert code != 0
    assert "GATEWAY_KEY_REGISTRY" in output, output
    assert_no_secret_shown(output)
