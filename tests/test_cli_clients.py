"""The CLI coding agents platform teams put behind the gateway, from the npm registry at
the pinned versions (tests/clients/package-lock.json): Codex CLI over the Responses API
and Claude Code over the Messages API, each printing the simulator's answer, on the
translated alias (``sim-chat``) and on the native one (``sim-native``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gateway_cli.stack import Stack
from simulator.generation import completion_text
from tests.conftest import create_key
from tests.support.clients import client_bin

# The simulator's answer when the request sets no lower cap (its SIM_OUTPUT_TOKENS).
ANSWER = completion_text(16).strip()
MODELS = pytest.mark.parametrize("model", ["sim-chat", "sim-native"])


@pytest.fixture(scope="module")
def agent_key(stack: Stack) -> str:
    return create_key(stack, "cli-agents")


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), "TERM": "dumb", **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@MODELS
def test_codex_cli_answers_through_the_responses_api(
    stack: Stack, agent_key: str, tmp_path: Path, model: str
) -> None:
    codex = client_bin("codex")
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'model_provider = "gateway"\nmodel = "{model}"\n\n'
        "[model_providers.gateway]\n"
        'name = "LLM gateway"\n'
        f'base_url = "{stack.base_url}"\n'
        'env_key = "GATEWAY_API_KEY"\n'
        'wire_api = "responses"\n'
        # One attempt: a failure shows at once instead of after its retries.
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )
    done = _run(
        [str(codex), "exec", "--skip-git-repo-check", "say hi"],
        {"CODEX_HOME": str(home), "GATEWAY_API_KEY": agent_key},
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == ANSWER


@MODELS
def test_claude_code_answers_through_the_messages_api(
    stack: Stack, agent_key: str, tmp_path: Path, model: str
) -> None:
    claude = client_bin("claude")
    pinned = (
        "ANTHROPIC_MODEL",
        "ANTHROPIC_DEFAULT_OPUS_MODEL",
        "ANTHROPIC_DEFAULT_SONNET_MODEL",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL",
        "ANTHROPIC_SMALL_FAST_MODEL",
        "CLAUDE_CODE_SUBAGENT_MODEL",
    )
    models = dict.fromkeys(pinned, model)
    done = _run(
        [str(claude), "-p", "say hi"],
        {
            "ANTHROPIC_BASE_URL": stack.base_url.removesuffix("/v1"),
            "ANTHROPIC_API_KEY": agent_key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "0",
            **models,
        },
        tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.strip() == ANSWER
