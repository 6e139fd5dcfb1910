"""What the policy tier adds per request: latency (p50/p99) and Redis round trips.

Runs the stack as processes, then sends the same requests, one client at a time, straight
to router and through policy (with a plan without limits, with every limit set, and
with every limit and USD budget set), interleaved in rounds so that machine noise hits
all of them alike. Redis round trips are
counted from Redis's own command statistics.

    uv run python cli/benchmarks/policy_overhead.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis

from gateway_cli.stack import Ports, Stack
from gateway_shared.plans import Plan
from gateway_shared.tokens import estimate_prompt_tokens
from gateway_shared.wire.identity import Api, Identity, IdentitySigner, RequestSummary

BODY = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
# What edge's checks make of BODY.
SUMMARY = RequestSummary(Api.CHAT, "sim-chat", False, estimate_prompt_tokens(BODY), 4)
FULL = Plan(rpm=10**7, tpm=10**9, max_concurrent=1000, daily_tokens=10**12, monthly_tokens=10**12)
# Every limit and every USD budget, key and group: budgets ride in the same scripts.
BUDGETED = FULL.model_copy(
    update={
        "daily_usd": 10.0**6,
        "monthly_usd": 10.0**6,
        "budget_group": "bench",
        "group_daily_usd": 10.0**6,
        "group_monthly_usd": 10.0**6,
    }
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _round_trips(client: redis.Redis) -> int:
    """Commands clients sent: Redis counts those its scripts run too, so take the script
    calls themselves and every command no script of policy's runs."""
    stats = client.info("commandstats")
    inside_scripts = {
        "zremrangebyscore", "zcard", "zrange", "zrangebyscore", "hmget", "hdel", "zrem",
        "decrby", "get", "hget", "zadd", "pexpire", "hset", "incrby", "hincrby", "expire",
        "time",
    }  # fmt: skip
    return sum(
        v["calls"]
        for k, v in stats.items()
        if k.removeprefix("cmdstat_") not in inside_scripts | {"info"}
    )


async def _run(stack: Stack, requests: int) -> None:
    signer = IdentitySigner(stack.secrets.internal_secret.encode())
    targets = {
        "router (direct)": (stack.services["router"].url, Plan()),
        "policy, no limits": (stack.services["policy"].url, Plan()),
        "policy, all limits": (stack.services["policy"].url, FULL),
        "policy, + budgets": (stack.services["policy"].url, BUDGETED),
    }
    key_id = "key_" + uuid.uuid4().hex[:12]
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    commands: dict[str, int] = dict.fromkeys(targets, 0)
    admin = redis.Redis.from_url(stack.redis_url)
    async with httpx.AsyncClient(timeout=10) as client:
        for round_ in range(requests + 100):
            for name, (url, plan) in targets.items():
                rid = f"req_{uuid.uuid4().hex}"
                token = signer.sign(Identity(key_id, "bench", plan, rid, SUMMARY))
                before = _round_trips(admin) if round_ >= 100 else 0
                started = time.perf_counter()
                response = await client.post(
                    url + "/v1/chat/completions",
                    json=BODY,
                    headers={"x-gateway-identity": token, "x-request-id": rid},
                )
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.text
                if round_ >= 100:  # the first rounds warm up pools and caches
                    latencies[name].append(elapsed * 1000)
                    commands[name] += _round_trips(admin) - before
    base = statistics.median(latencies["router (direct)"])
    print(f"{requests} sequential requests per target, simulator at zero latency\n")
    print(f"{'target':<20} {'p50 ms':>8} {'p99 ms':>8} {'added p50':>10} {'Redis trips/req':>16}")
    for name, values in latencies.items():
        p50, p99 = statistics.median(values), _pct(values, 0.99)
        added = "" if name.startswith("router") else f"{p50 - base:+.2f}"
        print(f"{name:<20} {p50:>8.2f} {p99:>8.2f} {added:>10} {commands[name] / requests:>15.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        ports = Ports()
        catalog = Path(workdir) / "catalog.yaml"
        catalog.write_text(
            "models:\n  - alias: sim-chat\n    deployments:\n"
            f"      - {{name: sim, provider: vllm, base_url: 'http://127.0.0.1:{ports.simulator}/v1',"
            " model: sim-model, prices: {input: 1.0, output: 2.0}}\n"
        )
        # Prices published once, at start. Policy still reads them every second (two
        # commands, counted against whichever request is running: about 0.01 per request).
        slow = {"ROUTER_PRICES_PUBLISH_SECONDS": "3600"}
        stack = Stack(Path(workdir), ports=ports, catalog_path=catalog, extra_env=slow)
        try:
            stack.start()
            asyncio.run(_run(stack, args.requests))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
