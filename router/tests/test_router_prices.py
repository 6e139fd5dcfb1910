"""Prices in the catalog: validated at load, each alias's highest published to Redis."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from gateway_cli.redis_server import RedisServer
from gateway_shared.prices import PRICES_KEY, Prices
from router.catalog import Catalog, CatalogError, parse_catalog
from router.prices import PricePublisher
from router.providers.registry import ADAPTERS


def _catalog(chat_prices: str, embed_prices: str = "") -> Catalog:
    text = f"""
models:
  - alias: chat
    deployments:
      - {{name: a, provider: vllm, base_url: 'http://127.0.0.1:1/v1', model: m{chat_prices}}}
      - {{name: b, provider: vllm, base_url: 'http://127.0.0.1:2/v1', model: m,
          prices: {{input: 1.0, output: 2.0}}}}
  - alias: embed
    deployments:
      - {{name: e, provider: vllm, base_url: 'http://127.0.0.1:3/v1', model: m{embed_prices}}}
"""
    return parse_catalog(text.encode(), Path("catalog.yaml"), set(ADAPTERS))


def test_an_alias_costs_its_dearest_deployment() -> None:
    catalog = _catalog(", prices: {input: 3.0, output: 1.5, reasoning: 4}")
    chat = catalog.get("chat")
    assert chat is not None
    assert chat.highest_prices() == Prices(input=3.0, cached_input=3.0, output=2.0, reasoning=4.0)


def test_one_unpriced_deployment_leaves_the_alias_unpriced() -> None:
    chat = _catalog("").get("chat")
    assert chat is not None
    assert chat.highest_prices() == Prices()


@pytest.mark.parametrize(
    ("prices", "where"),
    [
        ("{input: -1}", "models.0.deployments.0.prices.input"),
        ("{input: 1, outptu: 2}", "models.0.deployments.0.prices.outptu"),
        ("{input: cheap}", "models.0.deployments.0.prices.input"),
    ],
)
def test_a_bad_price_refuses_the_catalog_naming_the_field(prices: str, where: str) -> None:
    with pytest.raises(CatalogError) as caught:
        _catalog(f", prices: {prices}")
    assert where in str(caught.value)


async def test_the_publisher_replaces_the_hash_with_each_catalog(
    redis_server: RedisServer,
) -> None:
    redis = Redis.from_url(redis_server.url)
    current = {"catalog": _catalog(", prices: {input: 3.0, output: 1.0}", ", prices: {input: 0.1}")}
    publisher = PricePublisher(redis, lambda: current["catalog"], interval_seconds=60)
    try:
        assert await publisher.publish()
        published = {
            k.decode(): orjson.loads(v) for k, v in (await redis.hgetall(PRICES_KEY)).items()
        }
        assert published["chat"] == {
            "input": 3.0,
            "cached_input": 3.0,
            "output": 2.0,
            "reasoning": 2.0,
        }
        assert published["embed"] == {"input": 0.1, "cached_input": 0.1}
        current["catalog"] = _catalog("")  # a reload that unprices a deployment of chat
        assert await publisher.publish()
        published = {
            k.decode(): orjson.loads(v) for k, v in (await redis.hgetall(PRICES_KEY)).items()
        }
        assert published == {"chat": {}, "embed": {}}
    finally:
        await redis.delete(PRICES_KEY)
        await redis.aclose()
