"""Every Chaos Mesh experiment validates against its CRD schema (strictly: no field the
schema does not declare) and selects pods that the Kubernetes manifests really label (as
kustomize renders them: the tiers' labels come from k8s/components/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.tools import OVERLAYS, SCHEMAS, render

ROOT = Path(__file__).resolve().parents[2]
CHAOS = ROOT / "chaos-mesh"
CRDS = SCHEMAS / "chaos-mesh"
EXPERIMENTS = sorted(CHAOS.glob("*.yaml"))


def _crd_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        version = next(v for v in crd["spec"]["versions"] if v.get("served"))
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def _unknown_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Fields present in ``value`` that ``schema`` does not declare (kubectl's strict mode)."""
    if isinstance(value, dict) and "properties" in schema:
        problems = []
        for name, item in value.items():
            if name not in schema["properties"]:
                if not schema.get("additionalProperties") and not schema.get(
                    "x-kubernetes-preserve-unknown-fields"
                ):
                    problems.append(f"{where}.{name}")
                continue
            problems += _unknown_fields(item, schema["properties"][name], f"{where}.{name}")
        return problems
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            p
            for i, item in enumerate(value)
            for p in _unknown_fields(item, schema["items"], f"{where}[{i}]")
        ]
    return []


def _violations(document: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> list[str]:
    schema = schemas[document["kind"]]
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(document)]
    return errors + [f"unknown field {f}" for f in _unknown_fields(document, schema)]


def _pod_labels() -> list[tuple[str, dict[str, str]]]:
    """(namespace, labels) of every pod template the overlays render."""
    return [
        (doc["metadata"]["namespace"], doc["spec"]["template"]["metadata"]["labels"])
        for overlay in OVERLAYS
        for doc in render(overlay)
        if doc["kind"] in ("Deployment", "StatefulSet")
    ]


def _selectors(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["selector"]] if isinstance(node.get("selector"), dict) else []
        return found + [s for v in node.values() for s in _selectors(v)]
    if isinstance(node, list):
        return [s for v in node for s in _selectors(v)]
    return []


def _matching_pods(selector: dict[str, Any]) -> list[dict[str, str]]:
    wanted = selector.get("labelSelectors", {})
    namespaces = selector.get("namespaces", [])
    return [
        labels
        for ns, labels in _pod_labels()
        if (not namespaces or ns in namespaces)
        and all(labels.get(k) == v for k, v in wanted.items())
    ]


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    found = _crd_schemas()
    assert found, f"no Chaos Mesh CRD in {CRDS}"
    return found


def test_every_kind_the_issue_asks_for_is_here() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in EXPERIMENTS}
    assert kinds >= {
        "PodChaos", "NetworkChaos", "HTTPChaos", "DNSChaos", "StressChaos", "Schedule", "Workflow"
    }  # fmt: skip


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_validates_and_states_its_hypothesis(
    path: Path, schemas: dict[str, dict[str, Any]]
) -> None:
    text = path.read_text()
    for header in ("# Hypothesis:", "# Steady state:", "# Abort:"):
        assert header in text, f"{path.name} lacks {header}"
    document = yaml.safe_load(text)
    assert _violations(document, schemas) == []


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_selects_pods_the_manifests_label(path: Path) -> None:
    selectors = _selectors(yaml.safe_load(path.read_text())["spec"])
    assert selectors, f"{path.name} selects nothing"
    for selector in selectors:
        assert _matching_pods(selector), f"{path.name}: {selector} matches no pod in k8s/"


def test_a_broken_experiment_is_caught(schemas: dict[str, dict[str, Any]]) -> None:
    document = yaml.safe_load((CHAOS / "podchaos-router-kill.yaml").read_text())
    document["spec"]["action"] = "pod-explode"
    document["spec"]["selectr"] = document["spec"].pop("selector")
    problems = _violations(document, schemas)
    assert any("pod-explode" in p for p in problems)
    assert any("selectr" in p for p in problems)
    typo = {"namespaces": ["llm-gateway"], "labelSelectors": {"app.kubernetes.io/name": "routr"}}
    assert _matching_pods(typo) == []
    wrong_namespace = {
        "namespaces": ["default"],
        "labelSelectors": {"app.kubernetes.io/name": "router"},
    }
    assert _matching_pods(wrong_namespace) == []
