"""Streams cross all three tiers unbuffered, and a client that leaves cancels upstream."""

from __future__ import annotations

import time

import httpx
import openai

from gateway_cli.stack import Stack
from tests.support.waiting import wait_until


def test_stream_is_not_buffered(client: openai.OpenAI, simulator: httpx.Client) -> None:
    simulator.put("/admin/config", json={"itl_ms": 100}).raise_for_status()
    started = time.monotonic()
    arrivals = []
    stream = client.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "go"}], max_tokens=10, stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 10
    # The provider spends ~0.9 s between the first token and the last; a buffering hop
    # would deliver them together at the end.
    assert arrivals[-1] - arrivals[0] > 0.6, arrivals


def _stats(simulator: httpx.Client) -> dict[str, int]:
    stats: dict[str, int] = simulator.get("/admin/stats").json()
    return stats


def test_client_disconnect_cancels_upstream(
    stack: Stack, api_key: str, simulator: httpx.Client
) -> None:
    simulator.put("/admin/config", json={"itl_ms": 50, "output_tokens": 400}).raise_for_status()
    before = _stats(simulator)["cancelled"]
    body = {
        "model": "sim-chat",
        "messages": [{"role": "user", "content": "a long answer please"}],
        "max_tokens": 400,
        "stream": True,
    }
    with httpx.stream(
        "POST",
        stack.base_url + "/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        received = [line for _, line in zip(range(6), lines, strict=False)]
        assert any(line.startswith("data: {") for line in received)
    # Leaving the `with` closed the connection mid-stream (~20 s of answer left).
    wait_until(
        lambda: _stats(simulator)["cancelled"] > before,
        timeout=10,
        what="the simulator to see the request cancelled",
    )
    wait_until(lambda: _stats(simulator)["in_flight"] == 0, timeout=5, what="no request in flight")
