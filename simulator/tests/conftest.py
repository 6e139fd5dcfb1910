"""Fixtures: a real simulator process (``python -m simulator``) and clients for it.

Servers run as subprocesses on a free loopback port; each is ready once ``/healthz``
answers (bounded wait) and is stopped by its PID. Every test that uses ``admin`` or
``client`` starts from ``POST /admin/reset`` with no request in flight.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from gateway_cli.ports import free_port

READY_TIMEOUT = 20.0
# OpenAI's OpenAPI description, copied into the repository (schemas/README.md).
OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openai" / "openapi.yaml"


@dataclass
class SimProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_simulator(log: Path, env: dict[str, str] | None = None) -> SimProcess:
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIM_")}
    full_env.update(env or {})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    sim = SimProcess(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited with {proc.returncode}:\n{sim.log_text()}")
        try:
            if httpx.get(f"{sim.url}/healthz", timeout=1.0).status_code == 200:
                return sim
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_simulator(sim)
            raise RuntimeError(f"simulator not ready in {READY_TIMEOUT}s:\n{sim.log_text()}")
        time.sleep(0.05)


def stop_simulator(sim: SimProcess) -> None:
    if sim.proc.poll() is None:
        sim.proc.terminate()
        try:
            sim.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.proc.kill()
            sim.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def simulator_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[dict[str, str]], SimProcess]]:
    """Starts extra simulators with a given SIM_* environment; all stop at session end."""
    started: list[SimProcess] = []

    def start(env: dict[str, str]) -> SimProcess:
        server = start_simulator(tmp_path_factory.mktemp("sim") / "simulator.log", env)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_simulator(server)


@pytest.fixture(scope="session")
def sim(simulator_factory: Callable[[dict[str, str]], SimProcess]) -> SimProcess:
    """The shared simulator with default settings (tests reset it through ``admin``)."""
    return simulator_factory({})


async def wait_for[T](
    probe: Callable[[], Awaitable[T]],
    predicate: Callable[[T], bool],
    timeout: float = 5.0,
) -> T:
    """Poll ``probe`` until ``predicate`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.02)


class Admin:
    """The simulator's admin API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def configure(self, **fields: Any) -> dict[str, Any]:
        resp = await self.http.put("/admin/config", json=fields)
        assert resp.status_code == 200, resp.text
        config: dict[str, Any] = resp.json()
        return config

    async def stats(self) -> dict[str, int]:
        resp = await self.http.get("/admin/stats")
        assert resp.status_code == 200, resp.text
        stats: dict[str, int] = resp.json()
        return stats

    async def wait_stats(
        self, predicate: Callable[[dict[str, int]], bool], timeout: float = 5.0
    ) -> dict[str, int]:
        return await wait_for(self.stats, predicate, timeout)


@pytest.fixture
async def admin(sim: SimProcess) -> AsyncIterator[Admin]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10.0) as http:
        result = Admin(http)
        await result.wait_stats(lambda s: s["in_flight"] == 0)
        resp = await http.post("/admin/reset")
        assert resp.status_code == 200
        yield result


@pytest.fixture
async def client(sim: SimProcess, admin: Admin) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{sim.url}/v1",
        api_key="unused",  # pragma: allowlist secret
        max_retries=0,
        timeout=10.0,
    ) as oai:
        yield oai


# --- a small checker for OpenAI's OpenAPI component schemas (jsonschema is not installed)


class OpenAPISchemas:
    """Checks a JSON value against a component of OpenAI's OpenAPI description.

    Covers what these response shapes use: ``$ref``, ``type`` (with ``nullable``),
    ``enum``, ``required``, ``properties``, ``items``, ``anyOf``/``oneOf``/``allOf``.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document["components"]["schemas"]

    def errors(self, value: Any, component: str) -> list[str]:
        found: list[str] = []
        self._check(value, self.components[component], component, found)
        return found

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _type_ok(self, value: Any, kind: str) -> bool:
        checks: dict[str, Callable[[Any], bool]] = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        return checks[kind](value)

    def _check(self, value: Any, schema: dict[str, Any], path: str, found: list[str]) -> None:
        if value is None and schema.get("nullable"):  # also a sibling of "$ref"
            return
        schema = self._resolve(schema)
        if value is None and schema.get("nullable"):
            return
        for key in ("anyOf", "oneOf"):
            if key in schema:
                if not any(not self.errors_of(value, sub, path) for sub in schema[key]):
                    found.append(f"{path}: matches none of {key}")
                return
        for sub in schema.get("allOf", []):
            self._check(value, sub, path, found)
        kind = schema.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            if not any(self._type_ok(value, k) for k in kinds):
                found.append(f"{path}: {value!r} is not {kind}")
                return
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{path}: {value!r} not in {schema['enum']}")
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name not in value:
                    found.append(f"{path}: missing required '{name}'")
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    self._check(value[name], sub, f"{path}.{name}", found)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self._check(item, schema["items"], f"{path}[{i}]", found)

    def errors_of(self, value: Any, schema: dict[str, Any], path: str) -> list[str]:
        found: list[str] = []
        self._check(value, schema, path, found)
        return found


@pytest.fixture(scope="session")
def openapi() -> OpenAPISchemas:
    with OPENAPI.open("rb") as f:
        document = yaml.load(f, Loader=yaml.CSafeLoader)
    return OpenAPISchemas(document)
