"""GitHub Actions: every workflow is actionlint-clean, pins its actions to commits, asks
for the least permissions, and covers what the issue lists (lint, tests with Redis,
deploy files, k6 smoke, an image per service with a layer cache, GHCR publishing).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tiers import build_args
from tests.deploy.tools import FIXTURES, REPO, SERVICES, run, tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    # YAML 1.1 reads the key `on` as True; take it back.
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="module")
def ci() -> dict[Any, Any]:
    return load(REPO / ".github" / "workflows" / "ci.yml")


def actionlint(path: Path) -> Any:
    return run([tool("actionlint"), "-no-color", str(path)])


def test_there_are_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_clean(path: Path) -> None:
    done = actionlint(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout.strip(), done.stdout


def test_actionlint_flags_a_broken_workflow() -> None:
    done = actionlint(FIXTURES / "broken" / "workflow.yml")
    assert done.returncode != 0
    assert 'needs job "lint" which does not exist' in done.stdout, done.stdout
    assert '"nonexistent_field" is not defined' in done.stdout, done.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step and not step["uses"].startswith("./"):
                assert PINNED.match(step["uses"]), step["uses"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        assert permissions != "write-all", name
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= ({"packages"} if name == "images" else set()), name
    for step in (s for job in workflow["jobs"].values() for s in job.get("steps", [])):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_triggers(ci: dict[Any, Any]) -> None:
    assert ci["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "pull_request" in ci["on"]


def test_lint_job(ci: dict[Any, Any]) -> None:
    commands = [s.get("run", "") for s in ci["jobs"]["lint"]["steps"]]
    for expected in ("uv run ruff format --check .", "uv run ruff check .", "uv run mypy"):
        assert expected in commands


def test_tests_have_a_redis_service(ci: dict[Any, Any]) -> None:
    tests = ci["jobs"]["tests"]
    assert tests["services"]["redis"]["image"].startswith("redis:")
    assert any("uv run pytest" in s.get("run", "") for s in tests["steps"])


def test_deploy_files_and_k6_smoke(ci: dict[Any, Any]) -> None:
    deploy = " ".join(s.get("run", "") for s in ci["jobs"]["deploy-files"]["steps"])
    assert "uv run pytest tests/deploy" in deploy
    assert "kubectl kustomize" in deploy
    smoke = " ".join(s.get("run", "") for s in ci["jobs"]["k6-smoke"]["steps"])
    assert "k6 run" in smoke
    assert "k6/smoke.js" in smoke
    assert (REPO / "k6" / "smoke.js").exists()


def test_an_image_for_every_service_with_cache_published_on_main_and_tags(
    ci: dict[Any, Any],
) -> None:
    images = ci["jobs"]["images"]
    entries = images["strategy"]["matrix"]["include"]
    assert sorted(e["service"] for e in entries) == sorted(SERVICES)
    assert set(images["needs"]) >= {"lint", "tests", "deploy-files"}
    steps = {s["uses"].split("@")[0]: s for s in images["steps"] if "uses" in s}
    assert "docker/setup-buildx-action" in steps
    build = steps["docker/build-push-action"]["with"]
    assert build["file"] == "docker/Dockerfile"
    assert build["context"] == "."
    for entry in entries:  # each image gets its service's build arguments
        rendered = build["build-args"]
        for key, value in entry.items():
            rendered = rendered.replace(f"${{{{ matrix.{key} }}}}", value)
        assert "${{" not in rendered, rendered
        pairs = dict(line.split("=", 1) for line in rendered.split())
        assert pairs == build_args(entry["service"])
    assert build["cache-from"].startswith("type=gha")
    assert "mode=max" in build["cache-to"]
    assert build["push"] == "${{ env.PUBLISH == 'true' }}"
    publish = images["env"]["PUBLISH"]
    assert "github.event_name == 'push'" in publish
    assert "refs/heads/main" in publish
    assert "refs/tags/v" in publish
    login = steps["docker/login-action"]
    assert login["if"] == "env.PUBLISH == 'true'"
    assert login["with"]["registry"] == "ghcr.io"
    meta = steps["docker/metadata-action"]["with"]
    assert meta["images"].startswith("ghcr.io/")
    assert "type=semver" in meta["tags"]
