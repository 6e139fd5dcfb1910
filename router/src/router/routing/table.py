"""The routing table: the catalog in force, with one runtime state per deployment.

A table is immutable once built; a reload builds a new one and the router swaps the
reference. Requests already running keep the states and adapters they started with.
Building validates everything that can fail (each adapter accepting its deployment)
before it touches any state carried over from the previous table, so a refused catalog
leaves the running one exactly as it was.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from router.catalog import Catalog, CatalogError, ModelEntry
from router.providers.base import Provider
from router.routing.balancer import Balancer
from router.routing.deployment import DeploymentState
from router.routing.discovery import Resolved, replicas


@dataclass(frozen=True)
class CatalogSource:
    path: Path
    sha256: str
    loaded_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Route:
    """One model alias: its deployments (by priority, then catalog order) and balancer."""

    entry: ModelEntry
    deployments: tuple[DeploymentState, ...]
    balancer: Balancer
    panic_routing: bool = True

    @property
    def alias(self) -> str:
        return self.entry.alias


@dataclass(frozen=True)
class RoutingTable:
    catalog: Catalog
    source: CatalogSource
    routes: dict[str, Route]
    states: dict[str, DeploymentState]

    def get(self, alias: str) -> Route | None:
        return self.routes.get(alias)

    def load_read(self) -> list[DeploymentState]:
        """The deployments whose engines' load routing uses (``ModelEntry.reads_load``)."""
        return [s for r in self.routes.values() if r.entry.reads_load for s in r.deployments]

    def summary(self) -> str:
        """What is in force, for the log: the file, its fingerprint, how much it holds."""
        return (
            f"catalog {self.source.path} (sha256 {self.source.sha256[:12]}): "
            f"{_count(len(self.routes), 'model')}, {_count(len(self.states), 'deployment')}"
        )

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        source: CatalogSource,
        client: httpx.AsyncClient,
        adapters: Mapping[str, type[Provider]],
        *,
        previous: RoutingTable | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wrap: Callable[[Provider], Provider] | None = None,
        discovered: Mapping[str, Resolved] | None = None,
    ) -> tuple[RoutingTable, list[Provider]]:
        """The new table, and the adapters of the previous one it no longer uses.

        ``wrap``: what each new adapter is seen through (the router's observer).
        ``discovered``: the replicas' addresses of ``discovery`` deployments, by name.
        Raises :class:`CatalogError` if an adapter refuses its deployment.
        """
        rng = rng or random.Random()  # noqa: S311 - load balancing, not security
        kept = previous.states if previous else {}
        members = {e.alias: replicas(e.deployments, discovered or {}) for e in catalog.models}
        # 1. Everything that can fail, touching nothing.
        built: dict[str, Provider] = {}
        for deployment in (d for group in members.values() for d in group):
            old = kept.get(deployment.name)
            if old is not None and old.deployment == deployment:
                continue
            try:
                adapter = adapters[deployment.provider](deployment, client)
            except ValueError as exc:
                raise CatalogError(f"invalid model catalog {source.path}: {exc}") from None
            built[deployment.name] = wrap(adapter) if wrap is not None else adapter
        # 2. Commit: carry over what was learned about unchanged upstreams.
        policy = catalog.routing.breaker
        states: dict[str, DeploymentState] = {}
        retired: list[Provider] = []
        routes: dict[str, Route] = {}
        for entry in catalog.models:
            for deployment in members[entry.alias]:
                old = kept.get(deployment.name)
                provider = built.get(deployment.name)
                if old is not None and old.deployment.same_endpoint(deployment):
                    if provider is not None:
                        retired.append(old.provider)
                    old.update(deployment, provider or old.provider, policy)
                    old.alias = entry.alias
                    states[deployment.name] = old
                else:
                    if old is not None:
                        retired.append(old.provider)
                    assert provider is not None  # built in step 1: nothing to carry over
                    states[deployment.name] = DeploymentState(
                        entry.alias, deployment, provider, policy, clock
                    )
            ordered = sorted(
                (states[d.name] for d in members[entry.alias]), key=lambda s: s.priority
            )
            before = previous.routes.get(entry.alias) if previous else None
            placement = before.balancer.placement if before else None
            routes[entry.alias] = Route(
                entry,
                tuple(ordered),
                Balancer(entry.strategy, rng, catalog.routing.load, placement),
                policy.panic_routing,
            )
        retired.extend(s.provider for name, s in kept.items() if name not in states)
        return cls(catalog, source, routes, states), retired


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
