"""What the router holds while it runs: the catalog and one adapter per deployment."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from router.catalog import Catalog, load_catalog
from router.providers.base import Provider
from router.providers.registry import ADAPTERS


@dataclass
class RouterState:
    catalog: Catalog
    providers: dict[str, Provider]
    client: httpx.AsyncClient
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(cls, catalog_path: Path, client: httpx.AsyncClient) -> RouterState:
        catalog = load_catalog(catalog_path, set(ADAPTERS))
        providers = {d.name: ADAPTERS[d.provider](d, client) for d in catalog.deployments()}
        return cls(catalog=catalog, providers=providers, client=client)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        await self.client.aclose()
