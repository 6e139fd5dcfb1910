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
