"""The engine model behind the HTTP API: cached tokens, queueing seen on /metrics, and
vLLM's refusal of a priority it does not schedule by."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

ENGINE = {"model_name": "sim-model", "engine": "0"}


def _prompt(tokens: int) -> str:
    seed = f"{uuid.uuid4()} shared system prompt. "
    return (seed * (4 * tokens // len(seed) + 1))[: 4 * tokens]


async def _gauge(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == ENGINE:
                return float(sample.value)
    raise AssertionError(f"{name} not on /metrics")


async def _until(probe: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def engine_sim(simulator_factory: Callable[[dict[str, str]], Any]) -> Any:
    # One sequence at a time, each step ten times slower than the profile's: a second
    # request visibly waits.
    return simulator_factory(
        {
            "SIM_ENGINE": "true",
            "SIM_ENGINE_SLOWDOWN": "10",
            "SIM_ENGINE_MAX_NUM_SEQS": "1",
            "SIM_SCHEDULING_POLICY": "priority",
            "SIM_OUTPUT_TOKENS": "8",
        }
    )


async def test_instant_mode_reports_a_repeated_prefix_as_cached(sim: Any) -> None:
    client = openai.AsyncOpenAI(
        base_url=f"{sim.url}/v1",
        api_key="unused",  # pragma: allowlist secret
    )
    messages = [{"role": "system", "content": _prompt(300)}, {"role": "user", "content": "hi"}]
    first = await client.chat.completions.create(model="sim-model", messages=messages)
    again = await client.chat.completions.create(model="sim-model", messages=messages)
    assert first.usage is not None
    assert again.usage is not None
    assert first.usage.prompt_tokens_details is None
    assert again.usage.prompt_tokens_details is not None
    assert again.usage.prompt_tokens_details.cached_tokens == 288  # 18 full blocks of 16
    await client.close()


async def test_a_priority_is_refused_without_priority_scheduling(sim: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        resp = await http.post(
            "/v1/chat/completions",
            json={
                "model": "sim-model",
                "messages": [{"role": "user", "content": "x"}],
                "priority": 1,
            },
        )
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "Got priority 1 but Priority scheduling is not enabled."
    )


async def test_the_engine_queues_streams_and_caches(engine_sim: Any) -> None:
    client = openai.AsyncOpenAI(
        base_url=f"{engine_sim.url}/v1",
        api_key="unused",  # pragma: allowlist secret
    )
    messages = [{"role": "user", "content": _prompt(2000)}]

    async def streamed(priority: int = 0) -> tuple[list[str], Any]:
        stream = await client.chat.completions.create(
            model="sim-model",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"priority": priority},
        )
        text, usage = [], None
        async for chunk in stream:
            text.extend(c.delta.content or "" for c in chunk.choices)
            usage = chunk.usage or usage
        return text, usage

    async with httpx.AsyncClient(base_url=engine_sim.url) as http:
        first = asyncio.create_task(streamed())
        await _until(lambda: _gauge(http, "vllm:num_requests_running"))
        second = asyncio.create_task(streamed(priority=5))
        await _until(lambda: _gauge(http, "vllm:num_requests_waiting"))
        assert await _gauge(http, "vllm:kv_cache_usage_perc") > 0
        assert await _gauge(http, "vllm:gpu_cache_usage_perc") > 0
        (text, cold), (_, warm) = await asyncio.gather(first, second)
        assert len([t for t in text if t]) == 8
        assert cold.prompt_tokens_details is None
        assert warm.prompt_tokens_details.cached_tokens == 1984
        assert await _gauge(http, "vllm:prefix_cache_hits_total") >= 1984
        assert await _gauge(http, "vllm:prefix_cache_queries_total") >= 4000
        await _until(lambda: _is_zero(http, "vllm:num_requests_running"))
        assert await _gauge(http, "vllm:num_requests_waiting") == 0
        whole = await client.chat.completions.create(model="sim-model", messages=messages)
        assert whole.choices[0].message.content
        assert whole.usage is not None
        assert whole.usage.completion_tokens == 8
    await client.close()


async def _is_zero(http: httpx.AsyncClient, name: str) -> bool:
    return await _gauge(http, name) == 0


async def test_the_kv_caches_size_is_on_metrics_as_vllm_reports_it(
    simulator_factory: Callable[[dict[str, str]], Any],
) -> None:
    sim = simulator_factory({"SIM_ENGINE": "true", "SIM_ENGINE_KV_BLOCKS": "450"})
    async with httpx.AsyncClient(base_url=sim.url) as http:
        text = (await http.get("/metrics")).text
    (info,) = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "vllm:cache_config_info"
    ]
    assert info.value == 1
    assert info.labels["num_gpu_blocks"] == "450"
    assert info.labels["block_size"] == "16"
