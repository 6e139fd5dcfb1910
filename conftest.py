"""Fixtures every test folder may use: a throwaway Redis server per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway_cli.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
