"""What the benchmark measures, started on loopback and pinned: the simulator alone,
the floor (three bare hops), one bare hop per HTTP client, and the gateway.

The gateway is the ``Stack`` of ``gateway dev`` with a zero-latency simulator and a key
whose plan has (very high) limits, so every request pays policy's Redis admission and
settlement like a real one does; "cached" is the same gateway with a key whose plan has a
response cache, every request after the first a hit. Every process is ours and is
stopped by its PID.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from gateway_cli.bench.baseline import Baseline
from gateway_cli.bench.pinning import Layout, pin
from gateway_cli.ports import free_port
from gateway_cli.stack import Ports, Service, Stack
from gateway_shared.keys import Registry
from gateway_shared.plans import CachePlan, Plan

TIERS = ("edge", "policy", "router")
# High enough never to reject, real enough that policy runs its Redis scripts.
BENCH_PLAN = Plan(rpm=1_000_000_000, tpm=1_000_000_000_000)
# The same with a response cache: k6 sends one request over and over, so all its
# requests after the first are hits.
CACHED_PLAN = BENCH_PLAN.model_copy(update={"cache": CachePlan(ttl_s=3600)})
SIMULATOR_ENV = {"SIM_TTFT_MS": "0", "SIM_ITL_MS": "0", "SIM_OUTPUT_TOKENS": "16"}


@dataclass(frozen=True)
class Target:
    """One system k6 can be pointed at."""

    name: str
    title: str
    base_url: str  # OpenAI base URL, /v1 included
    model: str
    api_key: str = ""
    # The processes measured with it (the system under test, the simulator), by name.
    pids: dict[str, int] = field(default_factory=dict)


class Systems:
    """Starts everything once; ``targets`` maps a name to what k6 calls."""

    def __init__(
        self,
        workdir: Path,
        layout: Layout,
        *,
        floor: bool = True,
        hop_clients: tuple[str, ...] = (),
        tier_env: dict[str, str] | None = None,
        tier_module: str | None = None,
        baseline: Baseline | None = None,
    ) -> None:
        self.workdir = workdir
        self.layout = layout
        # Each run's logs only: the tiers log a line per request (~70 MB per full run).
        for logs in (workdir / "stack" / "logs", workdir / "logs"):
            shutil.rmtree(logs, ignore_errors=True)
        self.stack = Stack(workdir / "stack", extra_env=SIMULATOR_ENV)
        for tier in TIERS:
            service = self.stack.services[tier]
            service.env = service.env | (tier_env or {}) | {"BENCH_PROFILE_TIER": tier}
            if tier_module:  # a wrapper that runs the tier's module (profiling)
                service.module = tier_module
        self.stack.registry_path.unlink(missing_ok=True)
        self._keys = {
            "gateway": _bench_key(self.stack, "bench", BENCH_PLAN),
            "cached": _bench_key(self.stack, "bench-cached", CACHED_PLAN),
        }
        # The same gateway at another commit (``--compare``), with a stack of its own.
        self.baseline = baseline
        self.baseline_stack = None
        if baseline is not None:
            ports = Ports()
            self.baseline_stack = Stack(
                workdir / "baseline-stack",
                ports=ports,
                catalog_path=_baseline_catalog(workdir / "baseline-stack", ports.simulator),
                extra_env=SIMULATOR_ENV,
                python=baseline.python,
            )
            self.baseline_stack.registry_path.unlink(missing_ok=True)
            self._keys["baseline"] = _bench_key(
                self.baseline_stack, "bench", BENCH_PLAN, minimal=True
            )
        self._floor = floor
        self._hop_clients = hop_clients
        self.hops: dict[str, Service] = {}
        self.targets: dict[str, Target] = {}

    def _hop(self, name: str, upstream: str, client: str) -> Service:
        port = free_port()
        env = {
            **self.stack.services["simulator"].env,
            "BENCH_HOP_PORT": str(port),
            "BENCH_HOP_UPSTREAM": upstream,
            "BENCH_HOP_CLIENT": client,
        }
        service = Service(name, "gateway_cli.bench.floor", env, port, self.workdir / "logs")
        self.hops[name] = service
        service.start()
        return service

    @staticmethod
    def _pid(service: Service) -> int:
        assert service.process is not None
        return service.process.pid

    def _gateway(self, name: str, title: str, stack: Stack) -> Target:
        """A stack's target, its processes pinned: tiers and Redis on the cores under
        test, its simulator on the load cores."""
        sim_pid = self._pid(stack.services["simulator"])
        sut = {tier: self._pid(stack.services[tier]) for tier in TIERS}
        if stack.redis is not None and stack.redis.process is not None:
            sut["redis"] = stack.redis.process.pid
        if stack.cache_redis is not None and stack.cache_redis.process is not None:
            sut["cache-redis"] = stack.cache_redis.process.pid
        for pid in sut.values():
            pin(pid, self.layout.sut)
        pin(sim_pid, self.layout.load)
        return Target(
            name,
            title,
            stack.base_url,
            "sim-chat",
            api_key=self._keys[name],
            pids=sut | {"simulator": sim_pid},
        )

    def start(self) -> None:
        self.stack.start()
        if self.baseline_stack is not None:
            self.baseline_stack.start()
        simulator = self.stack.services["simulator"]
        sim_pid = self._pid(simulator)
        if self._floor:
            upstream = simulator.url
            # Hop 1 is the one k6 calls; hop 3 calls the simulator with the router
            # adapters' client, hops 1 and 2 the next hop with the tiers' hop client.
            for n, client in ((3, "httpx-aiohttp"), (2, "aiohttp"), (1, "aiohttp")):
                upstream = self._hop(f"hop{n}", upstream, client).url
        for client in self._hop_clients:
            self._hop(f"hop-{client}", simulator.url, client)
        for service in self.hops.values():
            service.wait_ready(30)

        for hop in self.hops.values():
            pin(self._pid(hop), self.layout.sut)

        sim_url = simulator.url + "/v1"
        self.targets["simulator"] = Target(
            "simulator", "simulator (direct)", sim_url, "sim-model", pids={"simulator": sim_pid}
        )
        if self._floor:
            pids = {f"hop{n}": self._pid(self.hops[f"hop{n}"]) for n in (1, 2, 3)}
            self.targets["floor"] = Target(
                "floor",
                "floor (3 bare hops)",
                self.hops["hop1"].url + "/v1",
                "sim-model",
                pids=pids | {"simulator": sim_pid},
            )
        for client in self._hop_clients:
            hop = self.hops[f"hop-{client}"]
            self.targets[f"hop-{client}"] = Target(
                f"hop-{client}",
                f"1 bare hop, {client}",
                hop.url + "/v1",
                "sim-model",
                pids={"hop": self._pid(hop), "simulator": sim_pid},
            )
        self.targets["gateway"] = self._gateway(
            "gateway", "gateway (edge→policy→router)", self.stack
        )
        self.targets["cached"] = self._gateway(
            "cached", "gateway, every request a cache hit", self.stack
        )
        if self.baseline is not None and self.baseline_stack is not None:
            self.targets["baseline"] = self._gateway(
                "baseline", f"gateway at {self.baseline.commit}", self.baseline_stack
            )

    def pids(self) -> dict[str, int]:
        """Every process we started, by name."""
        out = {name: self._pid(service) for name, service in self.stack.services.items()}
        if self.stack.redis is not None and self.stack.redis.process is not None:
            out["redis"] = self.stack.redis.process.pid
        return out | {name: self._pid(service) for name, service in self.hops.items()}

    def stop(self) -> None:
        for service in self.hops.values():
            service.stop()
        self.stack.stop()
        if self.baseline_stack is not None:
            self.baseline_stack.stop()

    def __enter__(self) -> Systems:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bench_key(stack: Stack, name: str, plan: Plan, *, minimal: bool = False) -> str:
    # Each run has fresh secrets (the registry is emptied first): keys from an earlier
    # run could not be verified anyway.
    registry = Registry.load(stack.registry_path)
    key, _ = registry.add(name, plan, stack.secrets.key_pepper.encode())
    registry.save(stack.registry_path)
    if minimal:
        # Fields at their defaults left out: an older edge refuses fields it lacks.
        dumped = registry.model_dump(mode="json", exclude_defaults=True)
        stack.registry_path.write_bytes(orjson.dumps(dumped, option=orjson.OPT_INDENT_2))
    return key


def _baseline_catalog(workdir: Path, simulator_port: int) -> Path:
    """Only ``sim-chat``, in the fields every commit's catalog accepts: the current
    simulator catalog may use fields an older router refuses."""
    path = workdir / "catalog.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{simulator_port}/v1"
    path.write_text(
        "models:\n"
        "  - alias: sim-chat\n"
        "    deployments:\n"
        f"      - {{name: sim-chat-1, provider: vllm, base_url: '{base}', model: sim-model}}\n"
    )
    return path
