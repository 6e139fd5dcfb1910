"""Latency, fault injection and the request counters the gateway's tests rely on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import orjson
import pytest

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
CHAT = {"model": "sim-model", "messages": MESSAGES}


async def test_admin_config_merges_validates_and_resets(admin: Any) -> None:
    start = (await admin.http.get("/admin/config")).json()
    assert start["error_rate"] == 0.0
    assert start["disconnect_after_tokens"] is None

    merged = await admin.configure(ttft_ms=5, disconnect_after_tokens=2)
    assert merged == start | {"ttft_ms": 5.0, "disconnect_after_tokens": 2}
    assert (await admin.http.get("/admin/config")).json() == merged
    cleared = await admin.configure(disconnect_after_tokens=None)
    assert cleared["disconnect_after_tokens"] is None
    assert cleared["ttft_ms"] == 5.0

    for bad in ({"error_rate": 1.5}, {"no_such_knob": 1}, {"hang": "yes"}, {"itl_ms": -1}):
        resp = await admin.http.put("/admin/config", json=bad)
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["param"] == next(iter(bad))
    assert (await admin.http.put("/admin/config", json=[1])).status_code == 400

    reset = await admin.http.post("/admin/reset")
    assert reset.json()["config"] == start
    assert (await admin.http.get("/admin/config")).json() == start


async def test_output_tokens_setting_changes_answer_length(
    client: openai.AsyncOpenAI, admin: Any
) -> None:
    await admin.configure(output_tokens=3)
    completion = await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    assert completion.choices[0].finish_reason == "stop"
    capped = await client.chat.completions.create(
        model="sim-model", messages=MESSAGES, max_tokens=50
    )
    assert capped.usage is not None
    assert capped.usage.completion_tokens == 3


async def test_injected_error_status_and_retry_after(
    client: openai.AsyncOpenAI, admin: Any
) -> None:
    await admin.configure(error_rate=1.0, error_retry_after=7)
    with pytest.raises(openai.InternalServerError) as err:
        await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert err.value.status_code == 503
    assert err.value.response.headers["retry-after"] == "7"
    assert err.value.type == "server_error"

    await admin.configure(error_status=429, error_retry_after=None)
    with pytest.raises(openai.RateLimitError) as rate:
        await client.embeddings.create(model="sim-embed", input="x")
    assert "retry-after" not in rate.value.response.headers

    stats = await admin.stats()
    assert stats["errors_injected"] == 2
    assert stats["completed"] == 0

    await admin.configure(error_rate=0.0)
    await client.chat.completions.create(model="sim-model", messages=MESSAGES)


async def test_error_rate_is_a_share_of_requests(admin: Any) -> None:
    await admin.configure(error_rate=0.5)
    statuses = [
        (await admin.http.post("/v1/chat/completions", json=CHAT)).status_code for _ in range(200)
    ]
    failed = statuses.count(503)
    assert statuses.count(200) + failed == 200
    # Binomial(200, 0.5): outside 60..140 has probability < 1e-8.
    assert 60 <= failed <= 140


async def test_ttft_and_itl_pace_the_stream(client: openai.AsyncOpenAI, admin: Any) -> None:
    ttft, itl, n = 0.3, 0.06, 6
    await admin.configure(ttft_ms=ttft * 1000, itl_ms=itl * 1000, output_tokens=n)
    start = time.monotonic()
    stream = await client.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True)
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - start)
    assert len(arrivals) == n
    assert arrivals[0] >= ttft * 0.9
    assert arrivals[-1] - arrivals[0] >= itl * (n - 1) * 0.8
    assert arrivals[-1] < ttft + itl * (n - 1) + 5.0  # generous: loaded CI machines


async def test_zero_latency_is_fast_and_delays_apply_to_whole_answers(
    client: openai.AsyncOpenAI, admin: Any
) -> None:
    start = time.monotonic()
    await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert time.monotonic() - start < 1.0

    await admin.configure(ttft_ms=200, itl_ms=50, output_tokens=4)
    start = time.monotonic()
    completion = await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert time.monotonic() - start >= (0.2 + 0.05 * 3) * 0.9
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4


async def test_client_disconnect_mid_stream_counts_as_cancelled(
    client: openai.AsyncOpenAI, admin: Any
) -> None:
    await admin.configure(itl_ms=50, output_tokens=1000)  # a 50 s stream
    stream = await client.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True)
    received = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
            if received == 2:
                break
    assert (await admin.stats())["in_flight"] == 1
    await stream.close()
    stats = await admin.wait_stats(lambda s: s["cancelled"] == 1 and s["in_flight"] == 0)
    assert stats["completed"] == 0
    assert stats["requests"] == 1


async def test_client_timeout_during_delay_counts_as_cancelled(sim: Any, admin: Any) -> None:
    await admin.configure(ttft_ms=30_000)
    async with httpx.AsyncClient(base_url=sim.url, timeout=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/chat/completions", json=CHAT)
    stats = await admin.wait_stats(lambda s: s["cancelled"] == 1 and s["in_flight"] == 0)
    assert stats["completed"] == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_hang_sends_nothing_until_the_client_leaves(
    sim: Any, admin: Any, stream: bool
) -> None:
    await admin.configure(hang=True)
    async with httpx.AsyncClient(base_url=sim.url, timeout=30.0) as http:
        request = asyncio.create_task(
            http.post("/v1/chat/completions", json=CHAT | {"stream": stream})
        )
        await admin.wait_stats(lambda s: s["in_flight"] == 1)
        # Hung: still no answer (not even headers) a while later.
        done, _ = await asyncio.wait({request}, timeout=0.3)
        assert not done
        request.cancel()  # closes the connection
        with pytest.raises(asyncio.CancelledError):
            await request
    stats = await admin.wait_stats(lambda s: s["cancelled"] == 1 and s["in_flight"] == 0)
    assert stats["completed"] == 0


async def test_disconnect_after_tokens_cuts_the_stream(
    client: openai.AsyncOpenAI, admin: Any, sim: Any
) -> None:
    await admin.configure(disconnect_after_tokens=3)
    contents: list[str] = []

    async def consume_sdk_stream() -> None:
        stream = await client.chat.completions.create(
            model="sim-model", messages=MESSAGES, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                contents.append(chunk.choices[0].delta.content)

    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        await consume_sdk_stream()
    assert len(contents) == 3

    # On the wire: the events so far, then the connection drops - no [DONE].
    raw = bytearray()

    async def read_raw(http: httpx.AsyncClient) -> None:
        async with http.stream("POST", "/v1/chat/completions", json=CHAT | {"stream": True}) as r:
            async for part in r.aiter_raw():
                raw.extend(part)

    async with httpx.AsyncClient(base_url=sim.url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await read_raw(http)
    assert b"[DONE]" not in raw
    assert raw.count(b'"content":" ') == 3

    stats = await admin.wait_stats(lambda s: s["in_flight"] == 0)
    assert stats["errors_injected"] == 2
    assert stats["completed"] == 0
    # An injected cut is on purpose: the simulator does not log it as an error.
    assert "Traceback" not in sim.log_text()
    assert "without completing" not in sim.log_text()


async def test_disconnect_after_tokens_cuts_a_whole_body(
    client: openai.AsyncOpenAI, admin: Any
) -> None:
    await admin.configure(disconnect_after_tokens=0)
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    stats = await admin.wait_stats(lambda s: s["in_flight"] == 0)
    assert stats["errors_injected"] == 1


async def test_malformed_stream_has_a_non_json_event(sim: Any, admin: Any) -> None:
    await admin.configure(malformed_stream=True, output_tokens=4)
    async with (
        httpx.AsyncClient(base_url=sim.url) as http,
        http.stream("POST", "/v1/chat/completions", json=CHAT | {"stream": True}) as resp,
    ):
        events = [line.removeprefix("data: ") async for line in resp.aiter_lines() if line]
    assert events[-1] == "[DONE]"
    broken = []
    for event in events[:-1]:
        try:
            orjson.loads(event)
        except orjson.JSONDecodeError:
            broken.append(event)
    assert len(broken) == 1
    # It sits mid-stream: content chunks on both sides.
    position = events.index(broken[0])
    assert '"content":" ' in events[position - 1]
    assert '"content":" ' in events[position + 1]


async def test_stats_count_each_outcome(client: openai.AsyncOpenAI, admin: Any) -> None:
    await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    stream = await client.completions.create(model="sim-model", prompt="x", stream=True)
    _ = [chunk async for chunk in stream]
    await client.embeddings.create(model="sim-embed", input="x")
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="nope", messages=MESSAGES)
    assert await admin.stats() == {
        "requests": 4,
        "in_flight": 0,
        "completed": 3,
        "cancelled": 0,
        "errors_injected": 0,
        "rejected": 1,
    }
    await admin.http.post("/admin/reset")
    assert (await admin.stats())["requests"] == 0
