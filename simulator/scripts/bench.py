"""Rough throughput check: N concurrent clients hammer one simulator endpoint for D seconds.

    uv run python simulator/scripts/bench.py --url http://127.0.0.1:8090 \
        --concurrency 50 --duration 5 [--stream] [--procs 1]

Uses aiohttp (cheaper per request than httpx) so the client is less of a bottleneck;
``--procs`` splits the load over several client processes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time

import aiohttp
import orjson


async def _worker(
    session: aiohttp.ClientSession, url: str, body: bytes, deadline: float, counts: list[int]
) -> None:
    headers = {"content-type": "application/json"}
    while time.perf_counter() < deadline:
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            counts[0 if resp.status == 200 else 1] += 1


async def _run(url: str, concurrency: int, duration: float, stream: bool) -> tuple[int, int]:
    body = orjson.dumps(
        {
            "model": "sim-model",
            "messages": [{"role": "user", "content": "Say something."}],
            "max_tokens": 16,
            "stream": stream,
        }
    )
    counts = [0, 0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration
        await asyncio.gather(
            *(_worker(session, url, body, deadline, counts) for _ in range(concurrency))
        )
    return counts[0], counts[1]


def _proc(args: tuple[str, int, float, bool]) -> tuple[int, int]:
    return asyncio.run(_run(*args))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8090")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--procs", type=int, default=1)
    args = parser.parse_args()
    url = args.url.rstrip("/") + "/v1/chat/completions"
    per_proc = max(1, args.concurrency // args.procs)
    job = (url, per_proc, args.duration, args.stream)
    start = time.perf_counter()
    with multiprocessing.Pool(args.procs) as pool:
        results = pool.map(_proc, [job] * args.procs)
    elapsed = time.perf_counter() - start
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    print(
        f"{'stream' if args.stream else 'non-stream'}: {ok} ok, {failed} failed in"
        f" {elapsed:.1f}s -> {ok / args.duration:.0f} req/s"
        f" ({per_proc * args.procs} concurrent, {args.procs} client process(es))"
    )


if __name__ == "__main__":
    main()
