"""The ``load_aware`` balancing strategy: engines' queues and KV caches, and prefix affinity.

Each candidate's load is what its engine last reported (requests running and waiting,
KV cache in use; ``routing/load.py``) plus what this router sent it since. Then:

- a request with a prefix key (``routing/affinity.py``) goes to its home: the first
  candidate in the key's rendezvous-hash order, while the home's load stays within
  ``affinity_bound`` times the average, or at most ``affinity_floor`` requests
  (consistent hashing with bounded loads). The same prefix reaches the same engine,
  whose cache holds it, and the home depends only on the key and the deployment names,
  so every router replica agrees on it;
- a request whose home is over the bound goes where the load is least, like one
  without a prefix key: once replicas diverge, queueing behind a busy engine costs
  more than the prefill a cache miss costs on an idle one. Ties go by the key's
  rendezvous order, so a prefix spills to the same engine while loads are even;
- when any candidate's reading is missing or stale, the whole choice is made by
  in-flight counts alone (``least_in_flight``): readings from some engines and guesses
  for others do not compare.

The caller passes only available deployments (breaker, cap, Retry-After checked), so a
dead engine is never chosen for its stale, flattering numbers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from router.catalog import LoadPolicy
from router.providers.base import EngineLoad
from router.routing.deployment import DeploymentState

_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit number from a key and a name."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _MASK
    return value ^ (value >> 31)


def least_in_flight(candidates: Sequence[DeploymentState], rng: random.Random) -> DeploymentState:
    costs = [d.in_flight / d.weight for d in candidates]
    low = min(costs)
    return rng.choice([d for d, c in zip(candidates, costs, strict=True) if c == low])


def choose(
    candidates: Sequence[DeploymentState],
    affinity: int | None,
    now: float,
    policy: LoadPolicy,
    rng: random.Random,
) -> DeploymentState:
    loads: list[EngineLoad] = []
    for d in candidates:
        load = d.fresh_load(now, policy.stale_seconds)
        if load is None:
            return least_in_flight(candidates, rng)
        loads.append(load)
    queues = [d.queue(load) for d, load in zip(candidates, loads, strict=True)]
    costs = [
        (q / d.weight, load.kv_usage) for d, q, load in zip(candidates, queues, loads, strict=True)
    ]
    if affinity is None:
        low = min(costs)
        return rng.choice([d for d, c in zip(candidates, costs, strict=True) if c == low])
    ranks = [_mix(affinity ^ d.ring_key) for d in candidates]
    home = max(range(len(candidates)), key=ranks.__getitem__)
    fair = (sum(queues) + 1) / sum(d.weight for d in candidates) * candidates[home].weight
    bound = max(math.ceil(policy.affinity_bound * fair), policy.affinity_floor)
    if queues[home] + 1 <= bound:
        return candidates[home]
    return candidates[min(range(len(candidates)), key=lambda i: (costs[i], -ranks[i]))]
