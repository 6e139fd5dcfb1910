"""System-test fixtures: the whole stack as processes on loopback, one per session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest

from gateway_cli.stack import Stack
from tests.support.routing import MODEL_B, MODEL_C, RoutingStack, catalog_text


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def gateway_cli(stack: Stack, *args: str) -> str:
    """Run the ``gateway`` CLI against the stack's registry and Redis; returns stdout."""
    env = os.environ | {
        "GATEWAY_KEY_PEPPER": stack.secrets.key_pepper,
        "GATEWAY_KEY_REGISTRY_FILE": str(stack.registry_path),
        "REDIS_URL": stack.redis_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway_cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def create_key(stack: Stack, name: str, *limits: str) -> str:
    out = gateway_cli(stack, "keys", "create", name, *limits)
    match = re.search(r"^(sk-gw-\S+)$", out, re.MULTILINE)
    assert match, out
    return match.group(1)


@pytest.fixture(scope="session")
def api_key(stack: Stack) -> str:
    return create_key(stack, "tests")


@pytest.fixture
def client(stack: Stack, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=api_key, max_retries=0, timeout=30)


@pytest.fixture
def simulator(stack: Stack) -> Iterator[httpx.Client]:
    """The simulator's admin API; its run-time config is reset after each test."""
    with httpx.Client(base_url=stack.services["simulator"].url, timeout=5) as admin:
        yield admin
        admin.post("/admin/reset").raise_for_status()


@pytest.fixture(scope="session")
def routing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoutingStack]:
    """Three simulators behind one gateway, a catalog alias per scenario
    (tests/support/routing.py); shared by the routing and runbook tests."""
    workdir = tmp_path_factory.mktemp("routing")
    catalog = workdir / "catalog.yaml"
    stack = Stack(
        workdir,
        catalog_path=catalog,
        extra_simulators={
            "sim-b": {"SIM_MODELS": f"{MODEL_B},sim-embed"},
            "sim-c": {"SIM_MODELS": MODEL_C},
        },
        extra_env={"ROUTER_CATALOG_POLL_SECONDS": "0.1", "ROUTER_LOG_LEVEL": "info"},
    )
    urls = [stack.services[s].url + "/v1" for s in ("simulator", "sim-b", "sim-c")]
    catalog.write_text(catalog_text(*urls))
    try:
        stack.start()
        key = create_key(stack, "routing")
        with (
            httpx.Client(base_url=stack.services["simulator"].url, timeout=5) as a,
            httpx.Client(base_url=stack.services["sim-b"].url, timeout=5) as b,
        ):
            client = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=30)
            yield RoutingStack(stack, client, key, a, b, catalog)
    finally:
        stack.stop()
