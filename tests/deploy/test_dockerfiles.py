"""The one Dockerfile, docker/Dockerfile, is hadolint-clean and, built for each service
with its build arguments, says what the issue asks: multi-stage uv build, slim Python 3.13
runtime, non-root, a health check, no secrets, small image.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, context_files, expand_word, parse
from tests.deploy.tiers import build_args, default_port, env_prefix
from tests.deploy.tools import DOCKERFILE, FIXTURES, REPO, SERVICES, hadolint

SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PEPPER|REGISTRY|CREDENTIAL)", re.I)


def stages(service: str) -> list[Stage]:
    """docker/Dockerfile's stages as Docker builds them for ``service``."""
    return parse(DOCKERFILE).evaluate(build_args(service))


def members() -> list[str]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    found: list[str] = root["tool"]["uv"]["workspace"]["members"]
    return found


def test_one_dockerfile_for_every_service() -> None:
    assert sorted(REPO.glob("*/Dockerfile")) == [DOCKERFILE], "no per-service copies"
    assert set(SERVICES) < set(members())


def test_hadolint_clean() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout.strip(), done.stdout


def test_hadolint_flags_a_broken_dockerfile() -> None:
    done = hadolint(FIXTURES / "broken" / "Dockerfile")
    assert done.returncode != 0
    # `latest`, unpinned apt, a secret in ENV, shell-form CMD
    for rule in ("DL3007", "DL3008", "DL3064", "DL3025"):
        assert rule in done.stdout, done.stdout


def test_the_manifests_stage_is_the_lockfile_and_every_members_manifest() -> None:
    manifests = stages("edge")[0]
    assert (manifests.name, manifests.base) == ("manifests", "scratch")
    assert all(i.keyword == "COPY" and not i.flag("from") for i in manifests.instructions)
    copied = set()
    for copy in manifests.instructions:
        *sources, destination = copy.rest.split()
        for source in sources:
            target = destination + Path(source).name if destination.endswith("/") else destination
            assert target == f"/{source}", "the workspace's own layout, which uv reads"
            copied.add(source)
    assert copied == {"uv.lock", "pyproject.toml"} | {f"{m}/pyproject.toml" for m in members()}


@pytest.mark.parametrize("service", SERVICES)
def test_multi_stage_uv_build_on_slim_python(service: str) -> None:
    _, builder, *_, runtime = stages(service)
    assert builder.name == "builder"
    assert runtime.name == "runtime"
    for stage in (builder, runtime):
        assert re.fullmatch(r"python:3\.13(\.\d+)?-slim(-\w+)?", stage.base), stage.base
    uv_image = builder.all("COPY")[0].flag("from")
    assert uv_image is not None
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv_image)
    # A RUN's shell substitutes the build arguments in its environment.
    syncs = [r for r in builder.all("RUN") if r.rest.startswith("uv sync")]
    assert len(syncs) == 2, "dependencies, then the service"
    for run in syncs:
        command = " ".join(shlex.quote(w) for w in shlex.split(expand_word(run.rest, run.env)))
        assert command.startswith("uv sync --frozen ")
        assert f"--package {service}" in command
        assert "--no-dev" in command
    first, last = (" ".join(r.rest.split()) for r in syncs)
    assert "--no-install-workspace" in first, "dependencies first, in their own layer"
    assert "--no-editable" in last, "the venv must work without the source tree"
    binds = [
        [(m.get("from"), m.get("source"), m["target"]) for m in r.mounts() if m["type"] == "bind"]
        for r in syncs
    ]
    # The dependency layer sees the manifests alone; the service's, its sources and
    # shared's on top of them, no other tier's.
    assert binds[0] == [("manifests", None, "/src")]
    assert binds[1] == [
        ("manifests", None, "/src"),
        (None, "shared", "/src/shared"),
        (None, service, f"/src/{service}"),
    ]
    assert builder.instructions.index(builder.all("RUN")[0]) < builder.instructions.index(
        syncs[0]
    ), "the build arguments are checked before anything is installed"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_is_small_non_root_and_healthchecked(service: str) -> None:
    runtime = stages(service)[-1]
    user = runtime.last("USER")
    assert user is not None
    uid = user.rest.split(":")[0]
    assert uid.isdigit(), "a numeric uid: runAsNonRoot can only check a number"
    assert int(uid) != 0
    # Only the venv from the builder and the image's two scripts: no sources, no uv.
    copies = [(c.flag("from"), c.rest) for c in runtime.all("COPY")]
    assert copies == [
        ("builder", "/app/.venv /app/.venv"),
        (None, "docker/healthcheck.py docker/serve.py /app/"),
    ]
    # Exec form (Docker substitutes nothing there): the scripts read the image's ENV.
    healthcheck = runtime.last("HEALTHCHECK")
    assert healthcheck is not None
    assert healthcheck.exec_form() == ["python", "/app/healthcheck.py"]
    cmd = runtime.last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["python", "/app/serve.py"]
    assert runtime.last("ENTRYPOINT") is None
    # The variables the tier itself reads (its settings class).
    prefix, port = env_prefix(service), default_port(service)
    assert runtime.env["GATEWAY_SERVICE"] == service
    assert runtime.env["GATEWAY_PORT_VARIABLE"] == f"{prefix}PORT"
    assert runtime.env[f"{prefix}HOST"] == "0.0.0.0", "in a container it listens on all interfaces"
    assert runtime.env[f"{prefix}PORT"] == str(port)
    expose = runtime.last("EXPOSE")
    assert expose is not None
    assert expose.rest == str(port)


def baked_secrets(built: list[Stage]) -> list[str]:
    """ENV or ARG names in any stage that look like secrets."""
    found = []
    for stage in built:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            if instruction.keyword == "ENV":
                names = list(instruction.env_pairs())
            else:
                names = instruction.arg_names()
            found += [name for name in names if SECRET_NAME.search(name)]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_is_baked_in(service: str) -> None:
    assert baked_secrets(stages(service)) == []


def test_a_baked_secret_is_noticed() -> None:
    broken = parse(FIXTURES / "broken" / "Dockerfile").evaluate()
    assert baked_secrets(broken) == ["OPENAI_API_KEY"]


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    sent = context_files(REPO)
    assert sent, "the build context is not empty"
    for path in sent:
        parts = path.split("/")
        assert not any(p == ".env" or p.startswith(".env.") for p in parts), path
        assert not {".git", ".venv", "tests", "__pycache__", ".gateway"} & set(parts), path
        assert parts[0] != "schemas", path  # test data, not image content
        assert not path.endswith(".pyc"), path
    # and everything the Dockerfile copies or mounts from it is there, for every service
    for service in SERVICES:
        for stage in stages(service):
            sources = [
                s for c in stage.all("COPY") if not c.flag("from") for s in c.rest.split()[:-1]
            ]
            sources += [
                m["source"]
                for r in stage.all("RUN")
                for m in r.mounts()
                if m["type"] == "bind" and "from" not in m
            ]
            for source in sources:
                assert any(p == source or p.startswith(source + "/") for p in sent), source


def test_dockerignore_sees_a_local_secret_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text((REPO / ".dockerignore").read_text())
    for name in ("edge/src/edge/app.py", "edge/.env", ".env", "edge/tests/test_x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert context_files(tmp_path) == ["edge/src/edge/app.py"]
