"""What packing Redis commands with hiredis saves policy, side by side in one run.

Policy's admission is one EVALSHA with 8 keys and 11 arguments. Measured here, with
redis-py's own asyncio connection and with ``gateway_shared.redis.connect`` (hiredis
packing), interleaved in rounds so machine noise hits both alike:

- packing alone: microseconds per ``pack_command`` call;
- the whole call: client CPU per sequential EVALSHA against a throwaway Redis.

Prints the median of the rounds for each.

    uv run python cli/benchmarks/redis_packing.py [--calls 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from gateway_cli.redis_server import RedisServer
from gateway_shared.redis_client import connect

KEYS = [f"gw:{{key_0123456789}}:{name}" for name in ("rpm", "tpm", "tpm:n", "tpm:sum")] + [
    f"gw:{{key_0123456789}}:{name}"
    for name in ("inflight", "usage:d:20261127", "usage:m:202611", "inflight:n")
]
ARGS = ["req_" + "0" * 32, 60000, 600, 100000, 4, 1000000, 30000000, 512, 900000, 172800, 2764800]
SCRIPT = "return #KEYS + #ARGV"


def pack_us(pack: Callable[..., list[bytes]], calls: int) -> float:
    command = ("EVALSHA", "0" * 40, len(KEYS), *KEYS, *ARGS)
    started = time.process_time()
    for _ in range(calls):
        pack(*command)
    return (time.process_time() - started) / calls * 1e6


async def call_us(redis: Redis, calls: int) -> float:
    script = redis.register_script(SCRIPT)
    await script(keys=KEYS, args=ARGS)  # loads it
    started = time.process_time()
    for _ in range(calls):
        await script(keys=KEYS, args=ARGS)
    return (time.process_time() - started) / calls * 1e6


async def main(calls: int, rounds: int) -> None:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="redis-packing-")))
    server.start()
    plain = Redis.from_url(server.url)
    ours = connect(server.url)
    results: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            for name, pack in (
                ("pack, redis-py", Connection().pack_command),
                ("pack, hiredis", ours.connection_pool.make_connection().pack_command),
            ):
                results.setdefault(name, []).append(pack_us(pack, calls))
            for name, client in (("EVALSHA, redis-py", plain), ("EVALSHA, hiredis", ours)):
                results.setdefault(name, []).append(await call_us(client, calls))
    finally:
        await plain.aclose()
        await ours.aclose()
        server.stop()
    print(f"client CPU per call, median of {rounds} rounds of {calls} calls")
    for name, values in results.items():
        print(f"  {name:20} {statistics.median(values):8.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
