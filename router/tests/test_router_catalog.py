"""Catalog validation: the example loads; every mistake is refused with where and why."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from router.catalog import CatalogError, Strategy, load_catalog, parse_catalog
from router.providers.registry import ADAPTERS
from router.routing.table import CatalogSource, RoutingTable

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "catalog.example.yaml"
KNOWN = set(ADAPTERS)


def parse(text: str) -> object:
    return parse_catalog(text.encode(), Path("catalog.yaml"), KNOWN)


def refused(text: str) -> str:
    with pytest.raises(CatalogError) as caught:
        parse(text)
    message = str(caught.value)
    assert "catalog.yaml" in message
    return message


def test_example_catalog_loads_and_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    catalog = load_catalog(EXAMPLE, KNOWN)
    chat = catalog.get("chat")
    assert chat is not None
    assert chat.strategy is Strategy.LEAST_IN_FLIGHT
    assert [d.priority for d in chat.deployments] == [0, 0, 1]
    assert {d.provider for d in catalog.deployments()} == {"vllm", "openai", "anthropic"}
    table, _ = RoutingTable.build(
        catalog, CatalogSource(EXAMPLE, "x"), httpx.AsyncClient(), ADAPTERS
    )
    assert set(table.routes) == {"chat", "chat-fast", "claude", "embed"}


def test_defaults() -> None:
    catalog = parse(
        "models: [{alias: a, deployments: [{name: d, provider: vllm, "
        "base_url: 'http://x:1/v1', model: m}]}]"
    )
    deployment = catalog.deployments()[0]  # type: ignore[attr-defined]
    assert deployment.weight == 1.0
    assert deployment.priority == 0
    assert deployment.max_concurrency is None
    assert deployment.health_interval is None
    assert catalog.routing.retry.max_attempts == 3  # type: ignore[attr-defined]
    assert catalog.routing.breaker.panic_routing is True  # type: ignore[attr-defined]


D = "{name: d1, provider: vllm, base_url: 'http://x:1/v1', model: m}"
ONE = f"models: [{{alias: a, deployments: [{D}]}}]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [", "not valid YAML"),
        ("models: []", "models"),
        ("{}", "models"),
        ("models: [{alias: a, deployments: []}]", "models.0.deployments"),
        (f"models: [{{alias: a, deployments: [{D}]}}, {{alias: a, deployments: [{D}]}}]", "['a']"),
        (
            f"models: [{{alias: a, deployments: [{D}]}}, {{alias: b, deployments: [{D}]}}]",
            "['d1']",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'https://u:p@x/v1', model: m}]}]",
            "credentials in a URL",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'https://x/v1?key=abc', model: m}]}]",
            "query string",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'ftp://x/v1', model: m}]}]",
            "base_url",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'http://x/v1', model: m, timeouts: {first_token: 90, total: 60}}]}]",
            "first_token must not exceed total",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'http://x/v1', model: m, wieght: 2}]}]",
            "wieght",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'http://x/v1', model: m, weight: 0}]}]",
            "weight",
        ),
        (
            "models: [{alias: a, deployments: [{name: d, provider: vllm, "
            "base_url: 'http://x/v1', model: m, max_concurrency: 0}]}]",
            "max_concurrency",
        ),
        (f"models: [{{alias: a, strategy: fastest, deployments: [{D}]}}]", "strategy"),
        (
            "models: [{alias: a, deployments: [{name: d, provider: bedrock, "
            "base_url: 'http://x/v1', model: m}]}]",
            "unknown provider 'bedrock'",
        ),
        (
            "routing: {retry: {max_attempts: 0}}\n" + ONE,
            "max_attempts",
        ),
        ("routing: {breaker: {failure_ratio: 2}}\n" + ONE, "failure_ratio"),
    ],
)
def test_mistakes_are_refused_with_where_and_why(text: str, expected: str) -> None:
    assert expected in refused(text)


def test_a_typo_is_an_unknown_field_and_nothing_else() -> None:
    # pydantic also reports the deployments list as one item short (the item with the
    # typo failed): a consequence, not news, so it is left out.
    message = refused(
        "models: [{alias: a, deployments: [{name: d, provider: vllm, "
        "base_url: 'http://x/v1', model: m, wieght: 2}]}]"
    )
    assert message == (
        "invalid model catalog catalog.yaml: models.0.deployments.0.wieght: "
        "unknown field (docs/router.md lists the fields)"
    )


def test_missing_secret_is_named_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_TEST_ABSENT_KEY", raising=False)
    message = refused(
        "models: [{alias: a, deployments: [{name: d, provider: openai, "
        "base_url: 'https://api.openai.com/v1', model: m, api_key_env: ROUTER_TEST_ABSENT_KEY}]}]"
    )
    assert "ROUTER_TEST_ABSENT_KEY" in message
    assert "Doppler" in message


def test_adapter_refusal_refuses_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_TEST_KEY", "k")
    catalog = parse_catalog(
        b"models: [{alias: a, deployments: [{name: d, provider: openai, "
        b"base_url: 'http://api.openai.com/v1', model: m, api_key_env: ROUTER_TEST_KEY}]}]",
        Path("catalog.yaml"),
        KNOWN,
    )
    with pytest.raises(CatalogError, match="HTTPS only"):
        RoutingTable.build(
            catalog, CatalogSource(Path("catalog.yaml"), "x"), httpx.AsyncClient(), ADAPTERS
        )


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml", KNOWN)
