"""What the router holds while it runs: the routing table in force, the pooled HTTP
client, the dispatcher, and the background work (health checks, load readings, replica
discovery, catalog reloads).

Lifecycle: :meth:`RouterState.build` loads the catalog (a bad one stops the start),
:meth:`start` launches the background tasks, :meth:`reload` swaps in a new catalog or
refuses it, :meth:`rediscovered` rebuilds the table when a deployment's replicas change,
:meth:`aclose` stops everything and closes the adapters and the client.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway_shared.tier.tasks import cancel
from router.catalog import Catalog, CatalogError, digest, parse_catalog, read_catalog
from router.providers.base import Provider
from router.providers.registry import ADAPTERS
from router.routing.discovery import Discovery, Resolver, resolve
from router.routing.dispatcher import Dispatcher
from router.routing.health import HealthMonitor
from router.routing.load import LoadMonitor
from router.routing.reload import CatalogWatcher
from router.routing.table import CatalogSource, RoutingTable

log = logging.getLogger("router.catalog")


Wrap = Callable[[Provider], Provider]


def _read(path: Path, adapters: Mapping[str, type[Provider]]) -> tuple[Catalog, CatalogSource]:
    text = read_catalog(path)
    return parse_catalog(text, path, set(adapters)), CatalogSource(path, digest(text))


@dataclass
class RouterState:
    table: RoutingTable
    client: httpx.AsyncClient
    adapters: Mapping[str, type[Provider]] = field(default_factory=lambda: ADAPTERS)
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    monitor: HealthMonitor = field(default_factory=HealthMonitor)
    loads: LoadMonitor = field(default_factory=LoadMonitor)
    discovery: Discovery = field(default_factory=Discovery)
    rng: random.Random = field(default_factory=random.Random)
    # What every adapter is seen through (the provider observer); None in unit tests.
    wrap: Wrap | None = None
    watcher: CatalogWatcher | None = None
    # Told each time a catalog is swapped in (the price publisher).
    on_reload: Callable[[], None] | None = None
    health_checks: bool = False
    _retiring: set[asyncio.Task[None]] = field(default_factory=set)
    _retired: list[Provider] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        catalog_path: Path,
        client: httpx.AsyncClient,
        adapters: Mapping[str, type[Provider]] = ADAPTERS,
        wrap: Wrap | None = None,
        resolver: Resolver = resolve,
    ) -> RouterState:
        """``resolver``: how discovered deployments' hosts are resolved (tests inject one)."""
        rng = random.Random()  # noqa: S311 - load balancing, not security
        catalog, source = _read(catalog_path, adapters)
        table, _ = RoutingTable.build(catalog, source, client, adapters, rng=rng, wrap=wrap)
        return cls(
            table=table,
            client=client,
            adapters=adapters,
            rng=rng,
            wrap=wrap,
            discovery=Discovery(resolver),
        )

    def start(self, *, poll_seconds: float, health_checks: bool, handle_sighup: bool) -> None:
        self.health_checks = health_checks
        if health_checks:
            self.monitor.sync(self.table.states, self.table.catalog.routing.health)
        self._sync_loads()
        self._sync_discovery()
        self.discovery.start(self.rediscovered)
        self.watcher = CatalogWatcher(self.table.source.path, self.reload, poll_seconds)
        self.watcher.start(handle_sighup=handle_sighup)

    def reload(self) -> bool:
        """Load the catalog file again; keep the running one if the new one is invalid."""
        try:
            table, retired = self._build(*_read(self.table.source.path, self.adapters))
        except CatalogError as exc:
            log.error("catalog reload refused, the previous catalog stays in force: %s", exc)
            return False
        self._swap(table, retired)
        self._sync_discovery()
        if self.on_reload is not None:
            self.on_reload()
        log.info("reloaded %s", table.summary())
        return True

    def rediscovered(self) -> None:
        """Some discovered deployment's replicas changed: rebuild the table in force with
        them; the replicas that are gone retire like a reload's removed deployments."""
        try:
            table, retired = self._build(self.table.catalog, self.table.source)
        except CatalogError as exc:
            log.error("discovered replicas refused, the previous ones stay in force: %s", exc)
            return
        self._swap(table, retired)
        log.info("replicas changed: %s", table.summary())

    def _build(
        self, catalog: Catalog, source: CatalogSource
    ) -> tuple[RoutingTable, list[Provider]]:
        """The table for ``catalog`` with the replicas known, after the one in force."""
        return RoutingTable.build(
            catalog,
            source,
            self.client,
            self.adapters,
            previous=self.table,
            rng=self.rng,
            wrap=self.wrap,
            discovered=self.discovery.known,
        )

    def _swap(self, table: RoutingTable, retired: list[Provider]) -> None:
        self.table = table
        if self.health_checks:
            self.monitor.sync(table.states, table.catalog.routing.health)
        self._sync_loads()
        self._retire(retired)

    def _sync_discovery(self) -> None:
        catalog = self.table.catalog
        self.discovery.sync(catalog.deployments(), catalog.routing.discovery)

    def _sync_loads(self) -> None:
        policy = self.table.catalog.routing.load
        self.dispatcher.load_policy = policy
        self.loads.sync(self.table.load_read(), policy)

    def _retire(self, providers: Iterable[Provider]) -> None:
        """Close replaced adapters once no request can still be using them."""
        providers = list(providers)
        if not providers:
            return
        self._retired.extend(providers)
        grace = max(p.deployment.timeouts.total for p in providers)

        async def close_later() -> None:
            await asyncio.sleep(grace)
            for provider in providers:
                self._retired.remove(provider)
                await provider.aclose()

        task = asyncio.create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def aclose(self) -> None:
        if self.watcher is not None:
            await self.watcher.aclose()
        await self.monitor.aclose()
        await self.loads.aclose()
        await self.discovery.aclose()
        for task in list(self._retiring):
            await cancel(task)
        for provider in [*self._retired, *(s.provider for s in self.table.states.values())]:
            await provider.aclose()
        await self.client.aclose()
