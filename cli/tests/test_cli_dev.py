"""`gateway dev` brings the whole stack up, its printed example works, Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    raise AssertionError("gateway dev did not get ready:\n" + "".join(out))


@pytest.mark.parametrize("redis", [(), ("--redis-cluster",)], ids=["redis", "redis-cluster"])
def test_dev_stack_runs_the_printed_example_and_stops_cleanly(
    tmp_path: Path, redis: tuple[str, ...]
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway_cli.main",
            "dev",
            "--workdir",
            str(tmp_path),
            "--port",
            "0",
            *redis,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        banner = _read_until(proc, "Press Ctrl-C", timeout=60)
        base_url = re.search(r"Gateway running: (\S+)", banner)
        assert base_url
        # The printed Python example, run as printed.
        example = re.search(r"^  from openai import OpenAI\n(?:  .*\n)+", banner, re.MULTILINE)
        assert example, banner
        code = "\n".join(line[2:] for line in example.group(0).splitlines())
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip()
        assert "sk-gw-" in banner
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
    # Every tier is gone: nothing answers on the edge port any more.
    try:
        httpx.get(base_url.group(1).removesuffix("/v1") + "/healthz", timeout=1)
        raise AssertionError("edge still answers after Ctrl-C")
    except httpx.ConnectError:
        pass
