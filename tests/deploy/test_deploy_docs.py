"""docs/deploy.md's Kubernetes steps agree with the overlays they act on: each overlay's
namespace, Doppler config, host and catalog as its table row says; the commands create
the Doppler token and the TLS secret where the overlay looks for them; the example keys
reach a model of the overlay's catalog; the image loop names every image it sets.
"""

from __future__ import annotations

import argparse
import re
import shlex
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml

from gateway_cli import keys_cmd
from tests.deploy.tools import OVERLAYS, REPO, render

DOC = (REPO / "docs" / "deploy.md").read_text()
_START = DOC.index("## Kubernetes\n")
KUBERNETES = DOC[_START : DOC.index("### Layout\n", _START)]


def row(overlay: str) -> dict[str, str]:
    """The overlay's row of the table that opens the Kubernetes section."""
    lines = [line for line in KUBERNETES.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == f"`{overlay}`":
            return dict(zip(header, cells, strict=True))
    raise AssertionError(f"no row for {overlay}")


def code(cell: str) -> str:
    match = re.match(r"`([^`]+)`", cell)
    assert match, cell
    return match.group(1)


def aliases(objects: list[dict[str, Any]]) -> set[str]:
    (config_map,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("router-catalog")
    ]
    catalog = yaml.safe_load(config_map["data"]["catalog.yaml"])
    return {m["alias"] for m in catalog["models"]}


def models_of(cell: str) -> list[str]:
    """The model patterns of a key created with the cell's options, as the CLI reads them."""
    parser = argparse.ArgumentParser()
    keys_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["keys", "create", "probe", *shlex.split(code(cell))])
    return list(args.models)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_table_says_what_the_overlay_renders(overlay: str) -> None:
    objects = render(overlay)
    facts = row(overlay)
    (namespace,) = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert code(facts["namespace"]) == namespace
    configs = {o["spec"]["config"] for o in objects if o["kind"] == "DopplerSecret"}
    assert configs == {code(facts["Doppler config"])}
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    host = code(facts["host (placeholder)"])
    assert [r["host"] for r in ingress["spec"]["rules"]] == [host]
    tls = {"hosts": [host], "secretName": "edge-tls"}  # pragma: allowlist secret
    assert ingress["spec"]["tls"] == [tls]
    listed = set(re.findall(r"`([\w.-]+)`", facts["catalog"].split(":", 1)[1]))
    assert listed == aliases(objects)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_example_key_reaches_a_model_of_the_overlays_catalog(overlay: str) -> None:
    served = aliases(render(overlay))
    for pattern in models_of(row(overlay)["a key's `--models`"]):
        assert any(fnmatchcase(alias, pattern) for alias in served), (pattern, served)


def test_the_development_key_reaches_nothing_in_production() -> None:
    # What the docs warn of: the dev example key's models are not prod's.
    served = aliases(render("prod"))
    for pattern in models_of(row("dev")["a key's `--models`"]):
        assert not any(fnmatchcase(alias, pattern) for alias in served)


def test_the_commands_act_in_the_dev_overlays_namespace_and_config() -> None:
    facts = row("dev")
    namespace, config = code(facts["namespace"]), code(facts["Doppler config"])
    assert f"kubectl create namespace {namespace}\n" in KUBERNETES
    assert f"kubectl -n {namespace} create secret tls edge-tls " in KUBERNETES
    token = re.search(
        r"doppler configs tokens create \S+ --project llm-gateway --config (\S+) --plain \\\n"
        r"\s+\| kubectl -n (\S+) create secret generic doppler-token ",
        KUBERNETES,
    )
    assert token, "the Doppler token command"
    assert token.groups() == (config, namespace)
    # The DopplerSecrets name the token's Secret, in their own namespace.
    for secret in [o for o in render("dev") if o["kind"] == "DopplerSecret"]:
        assert secret["spec"]["tokenSecret"] == {"name": "doppler-token"}
    curl = re.search(r'"model": "([\w.-]+)"', KUBERNETES)
    assert curl
    assert curl.group(1) in aliases(render("dev"))
    assert f"https://{code(facts['host (placeholder)'])}/v1/" in KUBERNETES


def test_the_image_loop_sets_every_image_of_each_overlay() -> None:
    loop = re.search(r"for service in ([\w ]+); do\s+# prod: ([\w ]+)\n", KUBERNETES)
    assert loop, "the kustomize edit set image loop"
    for overlay, services in zip(("dev", "prod"), loop.groups(), strict=True):
        path = REPO / "k8s" / "overlays" / overlay / "kustomization.yaml"
        names = {i["name"] for i in yaml.safe_load(path.read_text())["images"]}
        assert {f"gateway-{s}" for s in services.split()} == names, overlay
