"""Choosing a deployment for a request among those of a model alias."""

from __future__ import annotations

import random

from router.catalog import Deployment, ModelEntry


def pick(model: ModelEntry, rng: random.Random) -> Deployment:
    """Weighted random choice within the highest-priority (lowest number) group."""
    top = min(d.priority for d in model.deployments)
    group = [d for d in model.deployments if d.priority == top]
    if len(group) == 1:
        return group[0]
    return rng.choices(group, weights=[d.weight for d in group])[0]
