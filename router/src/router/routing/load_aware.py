"""The ``load_aware`` balancing strategy: engines' queues and KV caches, and prefix affinity.

Each candidate's load is what its engine last reported (requests running and waiting,
KV cache in use; ``routing/load.py``) plus what this router sent it since. Then:

- a request with a prefix key (``routing/affinity.py``) goes to its home
  (``routing/placement.py``), whose cache holds the prefix, while the home's backlog
  stays within ``affinity_bound`` times the average, or at most ``affinity_floor``
  (consistent hashing with bounded loads). The backlog is what the engine cannot start
  (``DeploymentState.backlog``): requests it is running do not count, since continuous
  batching takes a newcomer into the next step and a few more sequences slow a step far
  less than a prefill costs, nor do the few that wait for the next step on an engine
  with room; what a newcomer waits behind is the queue that forms once the KV cache is
  full;
- a request whose home is over the bound goes to the next engine in the key's
  rendezvous order that is within it and whose KV cache has room for the prefix or
  holds it already (``routing/residency.py``): once replicas diverge, queueing behind
  a busy engine costs more than the prefill a cache miss costs on one with room.
  Spills follow the key's order rather than the least load so that a prefix spills to
  one engine, which then holds it too: spills scattered over the fleet would each pay
  a whole prefill;
- where no engine within the bound has room, a spill would evict prefixes that
  engine's own requests reuse, and each of those then pays a prefill in turn: the
  request stays home until the home's backlog passes ``evicting_spill_backlog``, and
  then goes to the first engine within the bound all the same (the bound is relative
  to the fleet's average, so some engine always is);
- a request without a prefix key goes where the load is least;
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
from router.routing.affinity import Prefix
from router.routing.deployment import DeploymentState
from router.routing.placement import Placement, rank


def least_in_flight(candidates: Sequence[DeploymentState], rng: random.Random) -> DeploymentState:
    costs = [d.in_flight / d.weight for d in candidates]
    low = min(costs)
    return rng.choice([d for d, c in zip(candidates, costs, strict=True) if c == low])


def choose(
    candidates: Sequence[DeploymentState],
    affinity: Prefix | None,
    now: float,
    *,
    policy: LoadPolicy,
    placement: Placement,
    rng: random.Random,
) -> DeploymentState:
    loads: list[EngineLoad] = []
    for d in candidates:
        load = d.fresh_load(now, policy.stale_seconds)
        if load is None:
            return least_in_flight(candidates, rng)
        loads.append(load)
    if affinity is None:
        costs = [
            (d.queue(load) / d.weight, load.kv_usage)
            for d, load in zip(candidates, loads, strict=True)
        ]
        low = min(costs)
        return rng.choice([d for d, c in zip(candidates, costs, strict=True) if c == low])
    i = _by_prefix(candidates, loads, affinity, now, policy=policy, placement=placement)
    candidates[i].resident.sent(affinity, loads[i].cache_tokens)
    return candidates[i]


def _by_prefix(
    candidates: Sequence[DeploymentState],
    loads: list[EngineLoad],
    affinity: Prefix,
    now: float,
    *,
    policy: LoadPolicy,
    placement: Placement,
) -> int:
    home = placement.home(affinity.key, candidates, now)
    backlogs = [d.backlog(load) for d, load in zip(candidates, loads, strict=True)]
    share = (sum(backlogs) + 1) / sum(d.weight for d in candidates)

    def within_bound(i: int) -> bool:
        fair = share * candidates[i].weight
        return backlogs[i] + 1 <= max(
            math.ceil(policy.affinity_bound * fair), policy.affinity_floor
        )

    if within_bound(home):
        return home
    # Some engine is always within the bound: were every backlog at least its
    # ceil(bound x fair), they would add up to more than their own sum (bound >= 1).
    order = sorted(range(len(candidates)), key=lambda i: -rank(affinity.key, candidates[i]))
    spills = [i for i in order if i != home and within_bound(i)]
    for i in spills:
        if candidates[i].resident.has_room(affinity, loads[i].cache_tokens):
            return i
    return home if backlogs[home] + 1 <= policy.evicting_spill_backlog else spills[0]
