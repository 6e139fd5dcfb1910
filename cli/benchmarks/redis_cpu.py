"""Redis CPU per admitted request (admission plus settlement), on one server and on a
3-primary Redis Cluster: the figure that says how many requests a Redis layout carries.

Runs policy's own ``Limiter`` in-process against a throwaway server, then a throwaway
cluster (``LocalCluster``: 3 primaries, 1 replica each), over many keys with every limit
set, and reads each node's own CPU counters (``INFO cpu``) before and after. A 2-core
machine cannot show the cluster scaling by itself (its nodes share the cores): what it
shows is the CPU each request costs the layout, from which docs/benchmarks.md
extrapolates the rate per layout.

    uv run python cli/benchmarks/redis_cpu.py [--requests 20000] [--keys 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

import redis

from gateway_cli.redis_cluster import LocalCluster
from gateway_cli.redis_server import RedisServer
from gateway_shared.plans import Plan
from gateway_shared.redis_client import connect, discover
from policy.limits.limiter import Limiter, Settlement
from policy.usage import utcnow

FULL = Plan(rpm=10**7, tpm=10**9, max_concurrent=1000, daily_tokens=10**12, monthly_tokens=10**12)
CONCURRENCY = 32


def _cpu_seconds(port: int) -> float:
    info = redis.Redis(port=port).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _load(url: str, requests: int, keys: list[str]) -> None:
    client = connect(url, timeout_seconds=5.0)
    await discover(client)
    limiter = Limiter(client, 60, 900)
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            key, rid = keys[i % len(keys)], "req_" + uuid.uuid4().hex
            decision = await limiter.admit(key, FULL, rid, 30)
            assert decision.admitted
            await limiter.settle(Settlement(key, rid, "m", 30, 10, 10, utcnow()))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    await client.aclose()


def _measure(url: str, primaries: list[int], replicas: list[int], args: argparse.Namespace) -> str:
    keys = ["key_" + uuid.uuid4().hex[:12] for _ in range(args.keys)]
    asyncio.run(_load(url, 2000, keys))  # warm: scripts loaded, keys created
    before = {p: _cpu_seconds(p) for p in primaries + replicas}
    asyncio.run(_load(url, args.requests, keys))
    used = {p: _cpu_seconds(p) - before[p] for p in before}
    per_primary = [used[p] * 1e6 / args.requests for p in primaries]
    replica_us = sum(used[p] for p in replicas) * 1e6 / args.requests
    busiest = max(per_primary)
    return (
        f"{sum(per_primary):.1f} µs of primary CPU per request in all "
        f"({', '.join(f'{u:.1f}' for u in per_primary)} per primary), "
        f"{replica_us:.1f} µs on replicas; busiest primary saturates at "
        f"~{1e6 / busiest:,.0f} requests/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "one")
        server.start()
        try:
            print("one server:", _measure(server.url, [server.port], [], args), flush=True)
        finally:
            server.stop()
        cluster = LocalCluster(Path(tmp) / "cluster")
        cluster.start()
        try:
            ports = [n.port for n in cluster.nodes]
            half = cluster.primaries
            print("3-primary cluster:", _measure(cluster.url, ports[:half], ports[half:], args))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
