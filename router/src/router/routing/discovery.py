"""Finding a deployment's replicas by DNS: ``discovery: dns`` in the catalog.

A Kubernetes headless Service's name resolves to the address of each ready pod behind
it. One background task resolves every such deployment's host now and then
(``routing.discovery.interval_seconds``, through the event loop's resolver) and, when a
set of addresses changes, has the routing table rebuilt: each address is a deployment
of its own (``Deployment.at_address``), with its own breaker, health checks, in-flight
count and load readings. An address that appears is added; one that vanishes leaves the
table, and the requests still on it finish (a reload's rules, routing/table.py). A
failed or empty resolution keeps the last known set (logged, counted): a DNS hiccup
never leaves a model with nothing to route to. Until its host has resolved once, a
deployment stands as written, one deployment at its host name.

Every router replica resolves the same names to the same addresses, so the replicas'
names, and the prefix affinity that hashes them (routing/load_aware.py), agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway_shared.tier.tasks import cancel
from router.catalog import Deployment, DiscoveryPolicy

log = logging.getLogger("router.discovery")

Resolver = Callable[[str], Awaitable[Sequence[str]]]


async def resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to, by the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Resolved:
    host: str
    addresses: tuple[str, ...]


def replicas(deployments: Iterable[Deployment], known: Mapping[str, Resolved]) -> list[Deployment]:
    """The deployments to route to: each discovered one as its replicas, once known."""
    found: list[Deployment] = []
    for deployment in deployments:
        resolved = known.get(deployment.name) if deployment.discovery else None
        if resolved is None or resolved.host != deployment.host:
            found.append(deployment)
        else:
            found.extend(deployment.at_address(a) for a in resolved.addresses)
    return found


class Discovery:
    """Resolves the catalog's discovered deployments; ``known`` holds the last answers."""

    def __init__(self, resolver: Resolver = resolve) -> None:
        self._resolver = resolver
        self.known: dict[str, Resolved] = {}
        # Failed resolutions per deployment (a metric), and those failing now (logged once).
        self.failures: Counter[str] = Counter()
        self._failing: set[str] = set()
        self._hosts: dict[str, str] = {}
        self.policy = DiscoveryPolicy()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def sync(self, deployments: Iterable[Deployment], policy: DiscoveryPolicy) -> None:
        """Resolve the hosts of exactly these deployments from now on (at once if new)."""
        self.policy = policy
        self._hosts = {d.name: d.host for d in deployments if d.discovery is not None}
        for name, resolved in list(self.known.items()):
            if self._hosts.get(name) != resolved.host:
                del self.known[name]
        if self._hosts.keys() - self.known.keys():
            self._wake.set()

    async def refresh(self) -> bool:
        """Resolve every host once; True when some deployment's addresses changed."""
        hosts = list(self._hosts.items())
        answers = await asyncio.gather(*(self._resolve(name, host) for name, host in hosts))
        changed = False
        for (name, host), addresses in zip(hosts, answers, strict=True):
            if addresses is None or self._hosts.get(name) != host:
                continue  # failed (the last set stays), or a reload changed it meanwhile
            resolved = Resolved(host, addresses)
            if self.known.get(name) != resolved:
                log.info("deployment %s: %s resolves to %s", name, host, ", ".join(addresses))
                self.known[name] = resolved
                changed = True
        return changed

    async def _resolve(self, name: str, host: str) -> tuple[str, ...] | None:
        """The host's addresses, sorted; None when it did not resolve (logged, counted)."""
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                addresses = tuple(sorted(set(await self._resolver(host))))
        except TimeoutError:
            problem = f"no answer in {self.policy.timeout_seconds}s"
        except OSError as exc:  # socket.gaierror: the name is unknown, DNS unreachable
            problem = str(exc)
        else:
            if addresses:
                if name in self._failing:
                    self._failing.discard(name)
                    log.info("deployment %s: %s resolves again", name, host)
                return addresses
            problem = "no addresses"
        self.failures[name] += 1
        if name not in self._failing:
            self._failing.add(name)
            kept = len(self.known[name].addresses) if name in self.known else 0
            log.warning(
                "deployment %s: resolving %s failed (%s); keeping the %d replicas known",
                name,
                host,
                problem,
                kept,
            )
        return None

    def start(self, on_change: Callable[[], None]) -> None:
        """Resolve in the background; ``on_change`` rebuilds the routing table."""
        self._task = asyncio.create_task(self._run(on_change), name="discovery")

    async def _run(self, on_change: Callable[[], None]) -> None:
        while True:
            try:
                if await self.refresh():
                    on_change()
            except Exception:  # a bug must not end discovery: the last replicas stay
                log.exception("replica discovery failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.policy.interval_seconds):
                    await self._wake.wait()
            self._wake.clear()

    async def aclose(self) -> None:
        await cancel(self._task)
        self._task = None
