"""Every service's Dockerfile is hadolint-clean and says what the issue asks: multi-stage
uv build, slim Python 3.13 runtime, non-root, a health check, no secrets, small image.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, context_files, parse
from tests.deploy.tiers import default_port, env_prefix
from tests.deploy.tools import FIXTURES, REPO, SERVICES, hadolint

SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PEPPER|REGISTRY|CREDENTIAL)", re.I)


def dockerfile(service: str) -> Path:
    return REPO / service / "Dockerfile"


def stages(service: str) -> list[Stage]:
    return parse(dockerfile(service)).evaluate()


def test_every_service_has_a_dockerfile() -> None:
    found = sorted(p.parent.name for p in REPO.glob("*/Dockerfile"))
    assert found == sorted(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_hadolint_clean(service: str) -> None:
    done = hadolint(dockerfile(service))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout.strip(), done.stdout


def test_hadolint_flags_a_broken_dockerfile() -> None:
    done = hadolint(FIXTURES / "broken" / "Dockerfile")
    assert done.returncode != 0
    # `latest`, unpinned apt, a secret in ENV, shell-form CMD
    for rule in ("DL3007", "DL3008", "DL3064", "DL3025"):
        assert rule in done.stdout, done.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_multi_stage_uv_build_on_slim_python(service: str) -> None:
    builder, *_, runtime = stages(service)
    assert builder.name == "builder"
    assert runtime.name == "runtime"
    for stage in (builder, runtime):
        assert re.fullmatch(r"python:3\.13(\.\d+)?-slim(-\w+)?", stage.base), stage.base
    uv_image = builder.all("COPY")[0].flag("from")
    assert uv_image is not None
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv_image)
    syncs = [i.rest for i in builder.all("RUN")]
    assert syncs, "the builder runs uv sync"
    for command in syncs:
        assert command.startswith("uv sync --frozen ")
        assert f"--package {service}" in command
        assert "--no-dev" in command
    assert "--no-install-workspace" in syncs[0], "dependencies first, in their own layer"
    assert "--no-editable" in syncs[-1], "the venv must work without the source tree"


@pytest.mark.parametrize("service", SERVICES)
def test_runtime_is_small_non_root_and_healthchecked(service: str) -> None:
    runtime = stages(service)[-1]
    user = runtime.last("USER")
    assert user is not None
    uid = user.rest.split(":")[0]
    assert uid.isdigit(), "a numeric uid: runAsNonRoot can only check a number"
    assert int(uid) != 0
    # Only the venv from the builder and the health check script: no sources, no uv.
    copies = [(c.flag("from"), c.rest) for c in runtime.all("COPY")]
    assert copies == [
        ("builder", "/app/.venv /app/.venv"),
        (None, "docker/healthcheck.py /app/healthcheck.py"),
    ]
    healthcheck = runtime.last("HEALTHCHECK")
    assert healthcheck is not None
    # The port and variable names the tier itself uses (its settings class).
    prefix, port = env_prefix(service).rstrip("_"), default_port(service)
    assert healthcheck.exec_form() == ["python", "/app/healthcheck.py", f"{prefix}_PORT", str(port)]
    cmd = runtime.last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["python", "-m", service]
    assert runtime.last("ENTRYPOINT") is None
    env = {k: v for i in runtime.all("ENV") for k, v in i.env_pairs().items()}
    assert env[f"{prefix}_HOST"] == "0.0.0.0", "in a container the tier listens on all interfaces"
    assert env[f"{prefix}_PORT"] == str(port)
    expose = runtime.last("EXPOSE")
    assert expose is not None
    assert expose.rest == str(port)


def baked_secrets(path: Path) -> list[str]:
    """ENV or ARG names in any stage that look like secrets."""
    found = []
    for stage in parse(path).evaluate():
        for instruction in stage.all("ENV") + stage.all("ARG"):
            if instruction.keyword == "ENV":
                names = list(instruction.env_pairs())
            else:
                names = [instruction.rest.split("=")[0]]
            found += [name for name in names if SECRET_NAME.search(name)]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_is_baked_in(service: str) -> None:
    assert baked_secrets(dockerfile(service)) == []


def test_a_baked_secret_is_noticed() -> None:
    assert baked_secrets(FIXTURES / "broken" / "Dockerfile") == ["OPENAI_API_KEY"]


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    sent = context_files(REPO)
    assert sent, "the build context is not empty"
    for path in sent:
        parts = path.split("/")
        assert not any(p == ".env" or p.startswith(".env.") for p in parts), path
        assert not {".git", ".venv", "tests", "__pycache__", ".gateway"} & set(parts), path
        assert parts[0] != "schemas", path  # test data, not image content
        assert not path.endswith(".pyc"), path
    # and everything the Dockerfiles copy is there
    for service in SERVICES:
        for stage in stages(service):
            for copy in stage.all("COPY"):
                if copy.flag("from") is None:
                    source = copy.rest.split()[0]
                    assert any(p == source or p.startswith(source + "/") for p in sent), source


def test_dockerignore_sees_a_local_secret_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text((REPO / ".dockerignore").read_text())
    for name in ("edge/src/edge/app.py", "edge/.env", ".env", "edge/tests/test_x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert context_files(tmp_path) == ["edge/src/edge/app.py"]
