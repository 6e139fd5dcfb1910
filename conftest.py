"""Fixtures every test folder may use (a throwaway Redis server, and a Redis Cluster, per
test session), the ``system`` mark: tests that start the stack, or any of its services,
as processes.

The quick tier leaves the system tests out: ``uv run pytest -m "not system"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_cli.redis_cluster import LocalCluster
from gateway_cli.redis_server import RedisServer

ROOT = Path(__file__).parent
# Under tests/, everything starts processes except the offline checks of deploy files;
# elsewhere, these do.
OFFLINE = ROOT / "tests" / "deploy"
PROCESSES = (
    ROOT / "tests" / "deploy" / "test_image_commands.py",
    ROOT / "cli" / "tests" / "test_cli_dev.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        cross_service = path.is_relative_to(ROOT / "tests") and not path.is_relative_to(OFFLINE)
        if cross_service or path in PROCESSES:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """3 primaries with 1 replica each, shared by the session: a test that kills a node
    brings it back (it rejoins as a replica) and waits for the cluster to be whole."""
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
