"""A tier's end as a process: on SIGTERM it stops accepting connections, lets the streams
in flight finish, then exits (what a Kubernetes rollout or scale-in does to a pod). How it
starts, or refuses to: tests/test_startup.py.
"""

from __future__ import annotations

import json
import signal
import socket

import httpx
import pytest

from gateway_cli.stack import Stack
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
