"""Where each prefix lives: one home per prefix key, spread evenly over an alias's engines.

Hashing alone spreads a few prefixes unevenly: a dozen tenants over four engines by
rendezvous hash often put five or more on one engine, more than its KV cache holds
and more traffic than it serves, while another holds one. So a prefix's home is chosen
once, when the router first sees it: the first deployment in the key's rendezvous
order (a hash of the key and the deployment's name) that is home to fewer than its
share of the prefixes seen in the last ``affinity_window_seconds`` (the ceiling of
their count times its weight over the group's). Homes then stay put - a move costs the
prefix's prefill again - and a prefix unseen for the window is forgotten, which frees
its share.

Every router computes the same rendezvous order and, fed the same prefixes in the same
order, the same homes; two routers can place a prefix differently when their counts
differ at that moment (one has seen a prefix the other has not), and each then keeps
its own home for it (docs/decisions.md). While a home cannot take requests (breaker open,
at its cap, tried already) its prefix goes where it would be placed now, without moving
its home: back home once it is available, its cache likely still warm.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Sequence

from router.routing.deployment import DeploymentState

_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit number from a key and a name."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _MASK
    return value ^ (value >> 31)


def rank(key: int, deployment: DeploymentState) -> int:
    """The deployment's place in the key's rendezvous order (highest first)."""
    return _mix(key ^ deployment.ring_key)


class Placement:
    """The homes of one alias's prefix keys, least recently seen first."""

    def __init__(self, window: float) -> None:
        # Set again by the alias's balancer when a reload keeps this placement.
        self.window = window
        self._homes: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._homes)

    def home(self, key: int, candidates: Sequence[DeploymentState], now: float) -> int:
        """The index in ``candidates`` of ``key``'s home, placing it on first sight; when
        its home is not among them, of where it would be placed now."""
        self._forget(now)
        entry = self._homes.get(key)
        if entry is not None:
            name = entry[0]
            self._homes[key] = (name, now)
            self._homes.move_to_end(key)
            for i, d in enumerate(candidates):
                if d.name == name:
                    return i
            return self._place(key, candidates)
        index = self._place(key, candidates)
        name = candidates[index].name
        self._homes[key] = (name, now)
        self._counts[name] += 1
        return index

    def _place(self, key: int, candidates: Sequence[DeploymentState]) -> int:
        order = sorted(range(len(candidates)), key=lambda i: rank(key, candidates[i]), reverse=True)
        placed = sum(self._counts[d.name] for d in candidates) + 1
        total = sum(d.weight for d in candidates)
        for i in order:
            d = candidates[i]
            if self._counts[d.name] < math.ceil(placed * d.weight / total):
                return i
        return order[0]  # unreachable: the shares' ceilings add up to at least `placed`

    def _forget(self, now: float) -> None:
        homes = self._homes
        while homes:
            key, (name, seen) = next(iter(homes.items()))
            if now - seen <= self.window:
                return
            del homes[key]
            self._counts[name] -= 1
