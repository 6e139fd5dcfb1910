"""Choosing one deployment among the available ones of a priority group.

Strategies (``strategy`` of a model alias in the catalog):

- ``weighted``: random, in proportion to ``weight``.
- ``round_robin``: smooth weighted round-robin (nginx's): each deployment gets its share
  of ``weight`` exactly over a cycle, interleaved rather than in bursts.
- ``least_in_flight``: the fewest requests in flight per unit of ``weight``; ties are
  broken at random.
- ``latency``: the lowest expected wait, EWMA of time to first token x (in flight + 1)
  / weight (the "peak EWMA" cost: a fast deployment stops looking fast once it queues).
  A deployment without a measurement yet goes first, and 1 request in
  ``LATENCY_EXPLORE`` picks at random by weight, so a deployment that was slow once is
  measured again rather than left out forever.
- ``load_aware``: the engines' own queues and KV caches, and prefix affinity
  (:mod:`router.routing.load_aware`).

The caller passes only deployments that may take a request now (breaker, concurrency
cap and Retry-After already checked).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from router.catalog import LoadPolicy, Strategy
from router.routing import load_aware
from router.routing.affinity import Prefix
from router.routing.deployment import DeploymentState
from router.routing.placement import Placement

LATENCY_EXPLORE = 20


class Balancer:
    """The balancing state of one model alias (round-robin positions live here)."""

    def __init__(
        self,
        strategy: Strategy,
        rng: random.Random,
        load: LoadPolicy | None = None,
        placement: Placement | None = None,
    ) -> None:
        """``placement``: the prefixes' homes the alias had before a reload, kept so
        that a reload moves no prefix."""
        self.strategy = strategy
        self._rng = rng
        self._load = load or LoadPolicy()
        self._current: dict[str, float] = {}
        window = self._load.affinity_window_seconds
        self.placement = placement or Placement(window)
        self.placement.window = window

    def choose(
        self,
        candidates: Sequence[DeploymentState],
        affinity: Prefix | None = None,
        now: float = 0.0,
    ) -> DeploymentState:
        """One of ``candidates``; ``affinity`` (the request's prefix) and ``now``
        (the dispatcher's clock) matter to ``load_aware`` only."""
        if len(candidates) == 1:
            return candidates[0]
        match self.strategy:
            case Strategy.WEIGHTED:
                return self._weighted(candidates)
            case Strategy.ROUND_ROBIN:
                return self._round_robin(candidates)
            case Strategy.LEAST_IN_FLIGHT:
                return load_aware.least_in_flight(candidates, self._rng)
            case Strategy.LATENCY:
                return self._latency(candidates)
            case Strategy.LOAD_AWARE:
                return load_aware.choose(
                    candidates,
                    affinity,
                    now,
                    policy=self._load,
                    placement=self.placement,
                    rng=self._rng,
                )

    def _weighted(self, candidates: Sequence[DeploymentState]) -> DeploymentState:
        return self._rng.choices(candidates, weights=[d.weight for d in candidates])[0]

    def _round_robin(self, candidates: Sequence[DeploymentState]) -> DeploymentState:
        total = 0.0
        best: DeploymentState | None = None
        for d in candidates:
            self._current[d.name] = self._current.get(d.name, 0.0) + d.weight
            total += d.weight
            if best is None or self._current[d.name] > self._current[best.name]:
                best = d
        assert best is not None
        self._current[best.name] -= total
        return best

    def _lowest(
        self, candidates: Sequence[DeploymentState], cost: Callable[[DeploymentState], float]
    ) -> DeploymentState:
        costs = [cost(d) for d in candidates]
        low = min(costs)
        return self._rng.choice([d for d, c in zip(candidates, costs, strict=True) if c == low])

    def _latency(self, candidates: Sequence[DeploymentState]) -> DeploymentState:
        unmeasured = [d for d in candidates if d.ttft_ewma is None]
        if unmeasured:
            return self._rng.choice(unmeasured)
        if self._rng.randrange(LATENCY_EXPLORE) == 0:
            return self._weighted(candidates)
        return self._lowest(
            candidates, lambda d: (d.ttft_ewma or 0.0) * (d.in_flight + 1) / d.weight
        )
