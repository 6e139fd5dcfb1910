"""A tier's start as a process: once it listens, one line saying so (version, address,
and for the router its catalog's size); a missing or invalid setting, or an invalid
catalog, stops it with one readable line naming what to change, never a traceback, and
never showing a secret's value.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway_cli.ports import free_port
from tests.deploy.tiers import required_env, secret_env
from tests.support.waiting import wait_until

TIERS = ("edge", "policy", "router")
CATALOG = """\
models:
  - alias: m
    deployments:
      - name: d
        provider: openai
        base_url: https://127.0.0.1:9/v1
        model: m
        api_key_env: OPENAI_API_KEY
"""


def _value(name: str) -> str:
    return f"value-of-{name.lower()}-that-must-never-be-printed"


def start_env(tier: str, tmp_path: Path) -> dict[str, str]:
    """Everything the tier needs, secrets with recognisable values."""
    ours = ("EDGE_", "POLICY_", "ROUTER_", "SIM_", "GATEWAY_", "REDIS_URL", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    env |= {name: _value(name) for name in secret_env(tier, catalog)}
    env |= {f"{tier.upper()}_PORT": str(free_port()), f"{tier.upper()}_HOST": "127.0.0.1"}
    if "REDIS_URL" in env:
        env["REDIS_URL"] = f"redis://:{_value('REDIS_PASSWORD')}@127.0.0.1:9/0"
    if tier == "router":
        env["ROUTER_CATALOG_PATH"] = str(catalog)
    return env


def start(tier: str, env: dict[str, str]) -> tuple[int, str]:
    """Start a tier that is expected to stop by itself (within the timeout, not hanging on
    what it lacks): its exit code and output."""
    done = subprocess.run(
        [sys.executable, "-m", tier],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def assert_no_secret_shown(output: str) -> None:
    assert "value-of-" not in output, output


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


# ---- ready ---------------------------------------------------------------------------


def ready_line(tier: str, env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """Start the tier, wait for its ready line, stop it; the line, parsed."""
    log = tmp_path / f"{tier}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", tier], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:

        def announced() -> dict[str, Any] | None:
            assert process.poll() is None, log.read_text()
            lines = [d for d in log_lines(log.read_text()) if d["logger"] == "gateway.lifecycle"]
            return lines[0] if lines else None

        line = wait_until(announced, timeout=30, interval=0.1, what=f"{tier}'s ready line")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()
    return line


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_says_once_that_it_is_ready(tier: str, tmp_path: Path) -> None:
    env = start_env(tier, tmp_path)
    if tier == "edge":
        env["GATEWAY_KEY_REGISTRY"] = '{"keys": []}'
    port = int(env[f"{tier.upper()}_PORT"])
    line = ready_line(tier, env, tmp_path)
    assert line["level"] == "info"  # shown at the default level, warning, all the same
    assert line["service"] == tier
    assert line["message"].startswith(f"{tier} 0.1.0 ready on http://127.0.0.1:{port}")
    assert (line["version"], line["port"]) == ("0.1.0", port)
    if tier == "router":
        assert line["message"].endswith(": 1 model, 1 deployment"), line["message"]
        assert str(tmp_path / "catalog.yaml") in line["message"]


def test_a_port_already_taken_is_one_line_and_no_ready_line(tmp_path: Path) -> None:
    env = start_env("policy", tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env["POLICY_PORT"] = str(taken.getsockname()[1])
        code, output = start("policy", env)
    assert code != 0
    lines = log_lines(output)
    # Its last error says why (the price watcher, meeting no Redis, may warn after it).
    errors = [line for line in lines if line["level"] == "error"]
    assert errors[-1]["message"].endswith("address already in use"), lines
    assert not any(" ready on " in line["message"] for line in lines), lines
    assert "Traceback" not in output


# ---- a missing or invalid setting ----------------------------------------------------

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
    code, output = start(tier, env)
    assert code != 0
    assert f"{missing} is not set" in output, output
    assert "secrets come from Doppler" in output
    assert "Traceback" not in output, "a clear message, not a stack trace"
    assert_no_secret_shown(output)


@pytest.mark.parametrize("tier", TIERS)
def test_every_missing_setting_is_named_at_once(tier: str, tmp_path: Path) -> None:
    env = start_env(tier, tmp_path)
    for name in required_env(tier):
        env.pop(name)
    code, output = start(tier, env)
    assert code != 0
    for name in required_env(tier):
        assert f"{name} is not set" in output, output


def test_a_short_secret_is_named_with_its_rule_in_one_line(tmp_path: Path) -> None:
    env = start_env("policy", tmp_path)
    env["GATEWAY_INTERNAL_SECRET"] = "x"  # pragma: allowlist secret
    code, output = start("policy", env)
    assert code != 0
    assert output.strip() == (
        "PolicySettings: GATEWAY_INTERNAL_SECRET must be at least 16 characters"
        " (secrets come from Doppler)"
    )


def test_an_invalid_secret_is_named_not_shown(tmp_path: Path) -> None:
    env = start_env("policy", tmp_path)
    # Shorter than the 16 required:
    env["GATEWAY_INTERNAL_SECRET"] = "value-of-short"  # pragma: allowlist secret
    code, output = start("policy", env)
    assert code != 0
    assert "GATEWAY_INTERNAL_SECRET must be" in output, output
    assert_no_secret_shown(output)


def test_edge_refuses_to_start_without_a_key_registry(tmp_path: Path) -> None:
    env = start_env("edge", tmp_path)
    env.pop("GATEWAY_KEY_REGISTRY")
    code, output = start("edge", env)
    assert code != 0
    assert "GATEWAY_KEY_REGISTRY" in output, output
    assert "Traceback" not in output, output
    assert_no_secret_shown(output)


@pytest.mark.parametrize(
    ("registry", "why"),
    [
        ("value-of-not-json", "not valid JSON (unexpected character"),
        ('{"keys": [{"name": "value-of-a-name"}]}', "keys.0.id: Field required"),
    ],
)
def test_an_invalid_key_registry_is_one_line_without_its_content(
    tmp_path: Path, registry: str, why: str
) -> None:
    env = start_env("edge", tmp_path)
    env["GATEWAY_KEY_REGISTRY"] = registry
    code, output = start("edge", env)
    assert code != 0
    last = log_lines(output)[-1]["message"]
    assert last.startswith(f"the key registry (GATEWAY_KEY_REGISTRY) cannot be used: {why}")
    assert "Traceback" not in output, output
    assert_no_secret_shown(output)


# ---- an invalid catalog --------------------------------------------------------------


def test_router_refuses_a_catalog_whose_provider_key_is_missing(tmp_path: Path) -> None:
    env = start_env("router", tmp_path)
    env.pop("OPENAI_API_KEY")
    code, output = start("router", env)
    assert code != 0
    assert "needs OPENAI_API_KEY, which is not set" in output, output
    assert "Traceback" not in output, output
    assert_no_secret_shown(output)


def test_a_typo_in_the_catalog_is_one_line_naming_the_field(tmp_path: Path) -> None:
    env = start_env("router", tmp_path)
    (tmp_path / "catalog.yaml").write_text(CATALOG + "        wieght: 2\n")
    code, output = start("router", env)
    assert code != 0
    lines = log_lines(output)
    assert [line["message"] for line in lines[:-1]] == ["Application startup failed. Exiting."]
    # The sentence that says what to change, alone and last (what `gateway dev` shows of
    # a tier that stopped): no traceback, and not the deployments list's "at least 1
    # item" that pydantic adds for the same typo.
    assert lines[-1]["message"] == (
        f"invalid model catalog {tmp_path / 'catalog.yaml'}: "
        "models.0.deployments.0.wieght: unknown field (docs/router.md lists the fields)"
    )
    assert "Traceback" not in output, output
    assert "item" not in output, output
