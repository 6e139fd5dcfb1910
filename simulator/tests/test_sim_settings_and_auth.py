"""SIM_* settings end to end, API-key enforcement, and the /metrics exposition."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

KEY = "sim-secret-key"


@pytest.fixture(scope="module")
def custom_sim(simulator_factory: Callable[[dict[str, str]], Any]) -> Any:
    """A simulator started with a non-default SIM_* environment."""
    return simulator_factory(
        {
            "SIM_API_KEY": KEY,
            "SIM_MODELS": "alpha, beta/large",
            "SIM_OUTPUT_TOKENS": "4",
            "SIM_EMBEDDING_DIM": "8",
            "SIM_ERROR_RETRY_AFTER": "3",
        }
    )


@pytest.fixture
async def keyed_client(custom_sim: Any) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{custom_sim.url}/v1", api_key=KEY, max_retries=0, timeout=10.0
    ) as oai:
        yield oai


async def test_environment_settings_apply(
    keyed_client: openai.AsyncOpenAI, custom_sim: Any
) -> None:
    models = await keyed_client.models.list()
    assert [m.id for m in models.data] == ["alpha", "beta/large"]
    assert (await keyed_client.models.retrieve("beta/large")).id == "beta/large"

    completion = await keyed_client.chat.completions.create(
        model="beta/large", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4

    result = await keyed_client.embeddings.create(model="alpha", input="x")
    assert len(result.data[0].embedding) == 8

    async with httpx.AsyncClient(base_url=custom_sim.url) as http:
        config = (await http.get("/admin/config")).json()
    assert config["output_tokens"] == 4
    assert config["error_retry_after"] == 3.0


async def test_api_key_is_required_on_v1(custom_sim: Any, openapi: Any) -> None:
    async with httpx.AsyncClient(base_url=custom_sim.url) as http:
        rejected_before = (await http.get("/admin/stats")).json()["rejected"]
    async with openai.AsyncOpenAI(
        base_url=f"{custom_sim.url}/v1",
        api_key="wrong",  # pragma: allowlist secret
        max_retries=0,
    ) as wrong:
        with pytest.raises(openai.AuthenticationError) as err:
            await wrong.chat.completions.create(
                model="alpha", messages=[{"role": "user", "content": "hi"}]
            )
        assert err.value.code == "invalid_api_key"
        assert openapi.errors(err.value.response.json(), "ErrorResponse") == []
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()
        with pytest.raises(openai.AuthenticationError):
            await wrong.embeddings.create(model="alpha", input="x")

    async with httpx.AsyncClient(base_url=custom_sim.url) as http:
        no_header = await http.post("/v1/completions", json={"model": "alpha", "prompt": "hi"})
        assert no_header.status_code == 401
        # Health, metrics and admin stay open.
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
        # The three inference requests count as rejected; /v1/models is not counted.
        assert (await http.get("/admin/stats")).json()["rejected"] == rejected_before + 3


async def test_api_key_not_required_by_default(client: openai.AsyncOpenAI) -> None:
    # `client` sends a key the default simulator ignores: no SIM_API_KEY, no check.
    assert (await client.models.list()).data


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_vllm_metrics(client: openai.AsyncOpenAI, sim: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        before = _samples((await http.get("/metrics")).text)
        await client.chat.completions.create(
            model="sim-model", messages=[{"role": "user", "content": "12345678"}], max_tokens=5
        )
        resp = await http.get("/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    after = _samples(resp.text)
    model = frozenset({("model_name", "sim-model"), ("engine", "0")})

    def delta(name: str, labels: frozenset[tuple[str, str]] = model) -> float:
        return after[(name, labels)] - before.get((name, labels), 0.0)

    assert delta("vllm:prompt_tokens_total") == 2
    assert delta("vllm:generation_tokens_total") == 5
    assert delta("vllm:request_success_total", model | {("finished_reason", "length")}) == 1
    assert delta("vllm:time_to_first_token_seconds_count") == 1
    assert after[("vllm:num_requests_running", model)] == 0
    embed = frozenset({("model_name", "sim-embed"), ("engine", "0")})
    assert ("vllm:num_requests_running", embed) in after
