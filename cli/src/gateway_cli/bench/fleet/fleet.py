"""The fleet under test: N engine-model simulators (or real vLLM servers) behind the
whole gateway, one alias per balancing policy over the same replicas.

Every alias has the same saturation guard, so runs differ by the balancing policy only;
``fleet-capacity`` (round-robin, no guard) is what the capacity is measured through.
Between runs each simulator is reset: every run starts with cold caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway_cli.stack import Service, Stack
from gateway_shared.keys import Registry
from gateway_shared.plans import Plan, Priority

POLICIES = ("round_robin", "least_in_flight", "load_aware")
CAPACITY_ALIAS = "fleet-capacity"
SCRAPE_SECONDS = 1.0
# Generous: seven processes start at once, or four restart, on a machine that may be busy.
START_SECONDS = 180


@dataclass(frozen=True)
class Engine:
    """The simulated GPU: the profile's physics made ``slowdown`` times slower, with
    ``kv_blocks`` blocks of KV cache (simulator/src/simulator/engine/profile.py)."""

    slowdown: float
    kv_blocks: int

    def env(self, model: str) -> dict[str, str]:
        return {
            "SIM_ENGINE": "true",
            "SIM_ENGINE_SLOWDOWN": f"{self.slowdown:g}",
            "SIM_ENGINE_KV_BLOCKS": str(self.kv_blocks),
            "SIM_SCHEDULING_POLICY": "priority",
            "SIM_OUTPUT_TOKENS": "4096",
            "SIM_MODELS": model,
        }


def alias(policy: str) -> str:
    return f"fleet-{policy}"


def catalog(urls: list[str], models: list[str], shed_queue_depth: int) -> str:
    timeouts = "timeouts: {connect: 2, first_token: 60, idle: 60, total: 120}"
    lines = [
        "routing:",
        f"  load: {{scrape_seconds: {SCRAPE_SECONDS}, stale_seconds: 5}}",
        # A busy benchmark machine answers health checks late: that is no dead replica.
        "  health: {timeout_seconds: 5, unhealthy_after: 3}",
        "models:",
    ]
    entries = [(alias(p), p, f"    shed_queue_depth: {shed_queue_depth}") for p in POLICIES]
    entries.append((CAPACITY_ALIAS, "round_robin", ""))
    for name, strategy, guard in entries:
        lines += [f"  - alias: {name}", f"    strategy: {strategy}"]
        if guard:
            lines.append(guard)
        lines.append("    deployments:")
        for i, (url, model) in enumerate(zip(urls, models, strict=True)):
            lines.append(
                f"      - {{name: {name}-{i}, provider: vllm, base_url: '{url}', model: {model},"
                f" priority_scheduling: true, {timeouts}}}"
            )
    return "\n".join(lines) + "\n"


class Fleet:
    def __init__(
        self,
        workdir: Path,
        replicas: int,
        engine: Engine | None,
        shed_queue_depth: int,
        vllm: tuple[list[str], str] | None = None,
    ) -> None:
        """``vllm``: real servers' base URLs and their served model, instead of simulators."""
        self.engine = engine
        catalog_path = workdir / "catalog.yaml"
        names = [f"replica-{i}" for i in range(replicas)]
        self.replicas = names if vllm is None else []
        simulated = engine is not None and vllm is None
        sims = {n: engine.env(n) for n in names[1:]} if engine and simulated else {}
        first = engine.env(names[0]) if engine and simulated else {}
        self.stack = Stack(
            workdir / "stack", catalog_path=catalog_path, extra_env=first, extra_simulators=sims
        )
        if vllm is None:
            urls = [self._service(n).url + "/v1" for n in names]
            models = names
        else:
            urls, model = vllm
            models = [model] * len(urls)
        # Each replica's base URL and served model, for reading its load (engines.py).
        self.engines = list(zip(urls, models, strict=True))
        catalog_path.parent.mkdir(parents=True, exist_ok=True)
        catalog_path.write_text(catalog(urls, models, shed_queue_depth))
        self.keys = self._keys()

    def _service(self, replica: str) -> Service:
        # The stack's own simulator is the first replica.
        return self.stack.services["simulator" if replica == "replica-0" else replica]

    def _keys(self) -> dict[str, str]:
        self.stack.registry_path.parent.mkdir(parents=True, exist_ok=True)
        self.stack.registry_path.unlink(missing_ok=True)
        registry = Registry.load(self.stack.registry_path)
        keys = {}
        for priority in Priority:
            plan = Plan(rpm=1_000_000_000, tpm=1_000_000_000_000, priority=priority)
            key, _ = registry.add(f"fleet-{priority}", plan, self.stack.secrets.key_pepper.encode())
            keys[priority.value] = key
        registry.save(self.stack.registry_path)
        return keys

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def gateway_pids(self) -> dict[str, int]:
        services = self.stack.services
        return {
            n: services[n].process.pid  # type: ignore[union-attr]  # started
            for n in ("edge", "policy", "router")
        }

    def start(self) -> None:
        self.stack.start(timeout=START_SECONDS)

    def stop(self) -> None:
        self.stack.stop()

    def resize(self, engine: Engine) -> None:
        """Restart the simulators with another engine (a KV cache of another size)."""
        self.engine = engine
        for name in self.replicas:
            service = self._service(name)
            service.env |= engine.env(name)
            service.restart(timeout=START_SECONDS)

    def reset(self) -> None:
        """Cold caches and empty engines on every simulator."""
        for name in self.replicas:
            url = self._service(name).url
            httpx.post(f"{url}/admin/reset", timeout=10).raise_for_status()
