"""The load-aware policy's own cost: CPU per routing decision, in-process.

A decision is what the router adds per request for ``load_aware``: the prompt's prefix
key (``routing/affinity.py``) and the choice among the replicas (``routing/load_aware``),
with every replica's reading fresh.
"""

from __future__ import annotations

import random
import time

import httpx

from router.catalog import BreakerPolicy, Deployment, LoadPolicy, Strategy
from router.providers.base import EngineLoad
from router.providers.openai_compatible import VLLM
from router.routing.affinity import prefix_key
from router.routing.balancer import Balancer
from router.routing.deployment import DeploymentState


def decision_us(replicas: int, prompt_tokens: int, decisions: int = 20_000) -> float:
    """Mean CPU microseconds per decision over ``decisions`` of them."""
    client = httpx.AsyncClient()
    states = []
    for i in range(replicas):
        deployment = Deployment(
            name=f"vllm-{i}", provider="vllm", base_url=f"http://vllm-{i}:8000/v1", model="m"
        )
        state = DeploymentState(
            "chat", deployment, VLLM(deployment, client), BreakerPolicy(), time.monotonic
        )
        state.observe_load(EngineLoad(running=10 + i, waiting=i % 3, kv_usage=0.5), 0.0)
        states.append(state)
    rng = random.Random(0)  # noqa: S311 - ties between replicas, not security
    balancer = Balancer(Strategy.LOAD_AWARE, rng, LoadPolicy(stale_seconds=1e9))
    bodies = [
        {
            "model": "chat",
            "messages": [
                {"role": "system", "content": f"tenant {t} " + "x" * (4 * prompt_tokens)},
                {"role": "user", "content": "hello"},
            ],
        }
        for t in range(16)
    ]
    started = time.process_time()
    for n in range(decisions):
        balancer.choose(states, prefix_key(bodies[n % len(bodies)]), 1.0)
    return (time.process_time() - started) / decisions * 1e6
