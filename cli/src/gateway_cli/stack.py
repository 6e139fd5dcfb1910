"""The whole gateway as local processes: Redis, simulator, router, policy, edge.

Used by ``gateway dev`` and by the system tests, so what developers run is what is
tested. Every process is ours, started on loopback and stopped by its PID.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway_cli import redis_server
from gateway_cli.ports import free_port
from gateway_cli.redis_cluster import LocalCluster
from gateway_cli.redis_server import RedisServer
from gateway_shared.keys import Registry

REGISTRY_FILE = "keys.json"


class StackError(RuntimeError):
    """A tier that would not start or stopped on its own; the message is one line."""


@dataclass
class Ports:
    edge: int = field(default_factory=free_port)
    policy: int = field(default_factory=free_port)
    router: int = field(default_factory=free_port)
    simulator: int = field(default_factory=free_port)


@dataclass
class StackSecrets:
    internal_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    key_pepper: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def write_simulator_catalog(path: Path, simulator_port: int) -> None:
    """A catalog serving the simulator's chat and embedding models. ``sim-native`` is the
    chat model on a deployment that serves the Responses and Messages APIs itself (as
    recent vLLM does); on ``sim-chat`` the router translates them to chat completions."""
    base = f"http://127.0.0.1:{simulator_port}/v1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "models:\n"
        "  - alias: sim-chat\n"
        "    deployments:\n"
        f"      - {{name: sim-chat-1, provider: vllm, base_url: '{base}', model: sim-model}}\n"
        "  - alias: sim-native\n"
        "    deployments:\n"
        f"      - {{name: sim-native-1, provider: vllm, base_url: '{base}', model: sim-model,\n"
        "          native_apis: [responses, messages]}\n"
        "  - alias: sim-embed\n"
        "    deployments:\n"
        f"      - {{name: sim-embed-1, provider: vllm, base_url: '{base}', model: sim-embed}}\n"
    )


class Service:
    """One tier's process; ``python``: the interpreter (of another checkout's venv, when
    the benchmark compares two commits); ``host``: the loopback address it listens on
    (its env says so to the process)."""

    def __init__(
        self,
        name: str,
        module: str,
        env: dict[str, str],
        port: int,
        logdir: Path,
        *,
        python: str = sys.executable,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.module = module
        self.host = host
        self.env = env
        self.port = port
        self.logdir = logdir
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.logdir / f"{self.name}.log"

    def start(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [self.python, "-m", self.module],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: a terminal's Ctrl-C reaches only the command that
            # started it, which stops the stack in order.
            process_group=0,
        )

    def exit_report(self) -> str | None:
        """None while running; once exited, one line saying how, with its log's last line."""
        code = None if self.process is None else self.process.poll()
        if code is None:
            return None
        if code < 0:
            return f"{self.name} was killed by {signal.Signals(-code).name} (log: {self.log_path})"
        # A tier that stops on its own says why in its last error (a port in use, a bad
        # setting); a background task may still log a warning after it.
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        errors = [line for line in lines if '"level":"error"' in line.replace(" ", "")]
        why = errors or lines
        last = f": {why[-1][:300]}" if why else ""
        return f"{self.name} exited ({code}){last} (log: {self.log_path})"

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None:
                raise StackError(f"{self.name} was not started")
            if (report := self.exit_report()) is not None:
                raise StackError(report)
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise StackError(f"{self.name} did not become healthy in {timeout}s; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start()
        self.wait_ready(timeout)


class Stack:
    def __init__(
        self,
        workdir: Path,
        *,
        catalog_path: Path | None = None,
        redis_url: str | None = None,
        cache_redis_url: str | None = None,
        ports: Ports | None = None,
        stack_secrets: StackSecrets | None = None,
        extra_env: dict[str, str] | None = None,
        redis_password: str | None = None,
        extra_simulators: Mapping[str, Mapping[str, str]] | None = None,
        python: str = sys.executable,
        redis_cluster: bool = False,
    ) -> None:
        """``redis_cluster``: a Redis Cluster of its own (:class:`LocalCluster`) rather
        than one server, unless ``redis_url`` names one. ``extra_simulators``: more
        simulator processes, name -> their ``SIM_*`` env (each on a free port,
        ``services[name]``), for catalogs with several deployments; they start before
        the router, like the first simulator.
        ``python``: the interpreter every service runs with."""
        self.workdir = workdir
        self.ports = ports or Ports()
        self.secrets = stack_secrets or StackSecrets()
        self.registry_path = workdir / REGISTRY_FILE
        if catalog_path is None:
            catalog_path = workdir / "catalog.yaml"
            write_simulator_catalog(catalog_path, self.ports.simulator)
        own = redis_url is None
        self.cluster = LocalCluster(workdir / "redis-cluster") if own and redis_cluster else None
        self.redis: RedisServer | None = (
            RedisServer(workdir / "redis", password=redis_password)
            if own and self.cluster is None
            else None
        )
        self.redis_url = redis_url or (self.cluster or self.redis).url  # type: ignore[union-attr]
        self.cache_redis: RedisServer | None = (
            None
            if cache_redis_url
            else RedisServer(
                workdir / "cache-redis", password=redis_password, role=redis_server.CACHE
            )
        )
        self.cache_redis_url = cache_redis_url or self.cache_redis.url  # type: ignore[union-attr]
        base = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("EDGE_", "POLICY_", "ROUTER_", "SIM_"))
            },
            "GATEWAY_INTERNAL_SECRET": self.secrets.internal_secret,
            "REDIS_URL": self.redis_url,
            "CACHE_REDIS_URL": self.cache_redis_url,
            **(extra_env or {}),
        }
        p = self.ports
        logs = workdir / "logs"
        self.services = {
            "simulator": Service(
                "simulator",
                "simulator",
                base | {"SIM_PORT": str(p.simulator)},
                p.simulator,
                logs,
                python=python,
            ),
        }
        for name, sim_env in (extra_simulators or {}).items():
            port = free_port()
            env = base | {"SIM_PORT": str(port), **sim_env}
            self.services[name] = Service(name, "simulator", env, port, logs, python=python)
        self.services |= {
            "router": Service(
                "router",
                "router",
                base | {"ROUTER_PORT": str(p.router), "ROUTER_CATALOG_PATH": str(catalog_path)},
                p.router,
                logs,
                python=python,
            ),
            "policy": Service(
                "policy",
                "policy",
                base
                | {
                    "POLICY_PORT": str(p.policy),
                    "POLICY_ROUTER_URL": f"http://127.0.0.1:{p.router}",
                },
                p.policy,
                logs,
                python=python,
            ),
            "edge": Service(
                "edge",
                "edge",
                base
                | {
                    "EDGE_PORT": str(p.edge),
                    "EDGE_POLICY_URL": f"http://127.0.0.1:{p.policy}",
                    "GATEWAY_KEY_PEPPER": self.secrets.key_pepper,
                    "GATEWAY_KEY_REGISTRY_FILE": str(self.registry_path),
                },
                p.edge,
                logs,
                python=python,
            ),
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.edge}/v1"

    def start(self, timeout: float = 60.0) -> None:
        """Start every process and wait until each is healthy; a stack's first start
        also starts its (empty) key registry, which ``gateway keys`` then expects."""
        if not self.registry_path.exists():
            Registry().save(self.registry_path)
        for server in (self.redis, self.cluster, self.cache_redis):
            if server is not None:
                try:
                    server.start()
                except RuntimeError as exc:
                    raise StackError(str(exc)) from None
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready(timeout)

    def exit_report(self) -> str | None:
        """One line on the first process that has exited on its own, if any."""
        if self.redis and (code := self.redis.exit_code()) is not None:
            return f"Redis exited ({code})"
        if self.cache_redis and (code := self.cache_redis.exit_code()) is not None:
            return f"the cache Redis exited ({code})"
        reports = (service.exit_report() for service in self.services.values())
        return next((report for report in reports if report is not None), None)

    def stop(self) -> None:
        for service in reversed(self.services.values()):
            service.stop()
        if self.redis:
            self.redis.stop()
        if self.cluster:
            self.cluster.stop()
        if self.cache_redis:
            self.cache_redis.stop()
