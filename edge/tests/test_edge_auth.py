"""Edge's authenticator and its copy of the key registry, against a real Redis: who gets
in, what each failure answers, the cache's bound, the pepper being rotated, and the
registry re-loaded whenever Redis lost it or the file changed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from starlette.datastructures import Headers

from edge import keystore
from edge.auth import Authenticator, key_from_headers
from edge.metrics import EdgeMetrics
from edge.registry_sync import RegistrySync
from gateway_cli.redis_server import RedisServer
from gateway_shared.errors import GatewayError
from gateway_shared.keys import Registry, hash_key
from gateway_shared.plans import Plan
from gateway_shared.redis_client import connect

PEPPER = b"pepper-of-the-current-kind-0123"
OLD_PEPPER = b"pepper-of-the-previous-kind-456"


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    # A database of its own: the registry's revision marker is one global key.
    client = Redis.from_url(redis_server.url + "/5")
    await client.flushdb()
    yield client
    await client.aclose()


def bearer(key: str) -> Headers:
    return Headers({"authorization": f"Bearer {key}"})


def registry_file(tmp_path: Path, *names: str, pepper: bytes = PEPPER) -> tuple[Path, list[str]]:
    registry = Registry()
    keys = [registry.add(name, Plan(rpm=10), pepper)[0] for name in names]
    path = tmp_path / "keys.json"
    registry.save(path)
    return path, keys


def authenticator(
    redis: Redis, sync: RegistrySync, cache_seconds: float = 5.0, peppers: tuple[bytes, ...] = ()
) -> tuple[Authenticator, EdgeMetrics]:
    metrics = EdgeMetrics(CollectorRegistry())
    auth = Authenticator(redis, peppers or (PEPPER,), sync, cache_seconds, metrics=metrics)
    return auth, metrics


def lookups(metrics: EdgeMetrics) -> dict[str, float]:
    return {result: counter._value.get() for result, counter in metrics.key_lookups.items()}


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"authorization": "Bearer sk-gw-abc"}, "sk-gw-abc"),
        ({"authorization": "bearer  sk-gw-abc "}, "sk-gw-abc"),
        ({"x-api-key": " sk-gw-abc"}, "sk-gw-abc"),
        ({"authorization": "Basic dXNlcg==", "x-api-key": "sk-gw-abc"}, "sk-gw-abc"),
    ],
)
def test_the_key_comes_from_either_header(headers: dict[str, str], key: str) -> None:
    assert key_from_headers(Headers(headers)) == key


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({}, "You didn't provide an API key"),
        ({"authorization": "sk-gw-" + "A" * 43}, "without the 'Bearer' scheme"),
        ({"authorization": "Bearer "}, "says 'Bearer' but holds no key"),
        ({"authorization": "Basic dXNlcg=="}, "uses the scheme 'Basic'"),
    ],
)
def test_a_key_sent_in_a_form_edge_cannot_read_is_named(headers: dict[str, str], hint: str) -> None:
    with pytest.raises(GatewayError) as caught:
        key_from_headers(Headers(headers))
    assert (caught.value.status, caught.value.code) == (401, "invalid_api_key")
    assert hint in caught.value.message
    assert "sk-gw-A" not in caught.value.message  # credentials are never repeated back
    assert "dXNlcg" not in caught.value.message


async def test_a_registered_key_gets_in_and_is_cached(redis: Redis, tmp_path: Path) -> None:
    path, (key,) = registry_file(tmp_path, "app")
    sync = RegistrySync(redis, None, path)
    await sync.ensure_loaded()
    auth, metrics = authenticator(redis, sync)
    record = await auth.authenticate(bearer(key))
    assert (record.name, record.plan) == ("app", Plan(rpm=10))
    assert (await auth.authenticate(bearer(key))).id == record.id
    assert lookups(metrics) == {"cache": 1, "redis": 1, "unknown": 0, "error": 0}


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({}, "You didn't provide an API key"),
        ({"authorization": "Bearer not-a-gateway-key"}, "Incorrect API key provided"),
        ({"authorization": "Bearer sk-gw-" + "A" * 43}, "Incorrect API key provided"),
    ],
)
async def test_no_key_a_malformed_or_an_unknown_one_is_401(
    redis: Redis, tmp_path: Path, headers: dict[str, str], hint: str
) -> None:
    path, _ = registry_file(tmp_path, "app")
    auth, _ = authenticator(redis, RegistrySync(redis, None, path))
    with pytest.raises(GatewayError) as caught:
        await auth.authenticate(Headers(headers))
    assert (caught.value.status, caught.value.code) == (401, "invalid_api_key")
    assert caught.value.message.startswith(hint)


async def test_a_revoked_key_is_refused_once_its_cache_entry_expires(
    redis: Redis, tmp_path: Path
) -> None:
    path, (key,) = registry_file(tmp_path, "app")
    sync = RegistrySync(redis, None, path)
    await sync.ensure_loaded()
    auth, _ = authenticator(redis, sync, cache_seconds=0)  # the bound, at its smallest
    await auth.authenticate(bearer(key))
    registry = Registry.load(path)
    registry.revoke("app")
    registry.save(path)
    await sync.ensure_loaded()  # the periodic check (or `gateway keys revoke` with REDIS_URL)
    with pytest.raises(GatewayError) as caught:
        await auth.authenticate(bearer(key))
    assert caught.value.status == 401
    assert await redis.get(keystore.record_key(hash_key(key, PEPPER))) is None


async def test_keys_hashed_with_the_previous_pepper_work_while_it_is_set(
    redis: Redis, tmp_path: Path
) -> None:
    path, (key,) = registry_file(tmp_path, "old-app", pepper=OLD_PEPPER)
    sync = RegistrySync(redis, None, path)
    await sync.ensure_loaded()
    rotating, _ = authenticator(redis, sync, peppers=(PEPPER, OLD_PEPPER))
    assert (await rotating.authenticate(bearer(key))).name == "old-app"
    rotated, _ = authenticator(redis, sync, peppers=(PEPPER,))
    with pytest.raises(GatewayError):
        await rotated.authenticate(bearer(key))


async def test_a_lost_registry_is_reloaded_on_the_first_miss(redis: Redis, tmp_path: Path) -> None:
    path, (key,) = registry_file(tmp_path, "app")
    sync = RegistrySync(redis, None, path)
    await sync.ensure_loaded()
    await redis.flushdb()  # Redis restarted empty
    auth, _ = authenticator(redis, sync)
    assert (await auth.authenticate(bearer(key))).name == "app"
    assert await keystore.loaded_revision(redis) == Registry.load(path).revision()


async def test_redis_down_is_503_with_retry_after() -> None:
    dead = connect("redis://127.0.0.1:1", timeout_seconds=0.2)
    try:
        sync = RegistrySync(dead, Registry().dump().decode(), None)
        auth, metrics = authenticator(dead, sync)
        with pytest.raises(GatewayError) as caught:
            await auth.authenticate(bearer("sk-gw-" + "A" * 43))
    finally:
        await dead.aclose()
    assert (caught.value.status, caught.value.code) == (503, "key_store_unavailable")
    assert caught.value.headers == {"retry-after": "1"}
    assert lookups(metrics)["error"] == 1


async def test_the_sync_loads_once_per_revision_and_drops_revoked_keys(
    redis: Redis, tmp_path: Path
) -> None:
    path, (kept, dropped) = registry_file(tmp_path, "kept", "dropped")
    sync = RegistrySync(redis, None, path)
    assert await sync.ensure_loaded() is True
    assert await sync.ensure_loaded() is False  # Redis holds this revision already
    registry = Registry.load(path)
    registry.revoke("dropped")
    registry.save(path)
    assert await sync.reload_if_lost() is True  # the file changed
    assert await keystore.lookup(redis, hash_key(kept, PEPPER)) is not None
    assert await keystore.lookup(redis, hash_key(dropped, PEPPER)) is None


async def test_an_invalid_registry_file_keeps_the_loaded_one(
    redis: Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, (key,) = registry_file(tmp_path, "app")
    sync = RegistrySync(redis, None, path)
    await sync.ensure_loaded()
    path.write_text('{"keys": [{"name": "half-written"')
    with caplog.at_level(logging.ERROR, logger="edge.registry"):
        await sync.ensure_loaded()
    assert f"the key registry ({path}) is invalid, keeping the previous one" in caplog.text
    assert "not valid JSON" in caplog.text
    assert "half-written" not in caplog.text  # what is wrong, never the content
    assert await keystore.lookup(redis, hash_key(key, PEPPER)) is not None


async def test_an_inline_registry_from_doppler_is_loaded(redis: Redis) -> None:
    registry = Registry()
    key, _ = registry.add("inline", Plan(), PEPPER)
    sync = RegistrySync(redis, registry.dump().decode(), None)
    await sync.ensure_loaded()
    auth, _ = authenticator(redis, sync)
    assert (await auth.authenticate(bearer(key))).name == "inline"
