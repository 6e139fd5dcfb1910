"""k8s/: each overlay renders with a real kustomize, every rendered object validates
(core kinds strictly, custom resources against their CRDs), and each tier has what a
platform team expects: limits, three probes on paths the service serves, an HPA, a PDB,
topology spread, a NetworkPolicy chain, a graceful termination, its Doppler secrets.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from starlette.routing import Match

from router.catalog import load_catalog
from router.providers.registry import ADAPTERS
from tests.deploy.tiers import SETTINGS, catalog_key_envs, default_port, required_env, secret_env
from tests.deploy.tools import (
    FIXTURES,
    IMAGES_OF,
    OVERLAYS,
    REPO,
    TIERS,
    k8s_errors,
    kustomize,
    load_yaml_all,
    promtool,
    render,
    run,
)

Obj = dict[str, Any]
NAME = "app.kubernetes.io/name"
# uvicorn's drain after SIGTERM (shared/server.py serve(graceful_seconds=30)).
DRAIN_SECONDS = 30


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: Obj = containers[0]
    return found


def seconds_of_prestop(c: Obj) -> int:
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "/bin/sleep"
    return int(command[1])


def serves(app: FastAPI, path: str) -> bool:
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


def tier_app(service: str) -> FastAPI:
    """The tier's real app, built without starting it (no lifespan, no connections)."""
    module = __import__(f"{service}.app", fromlist=["create_app"])
    settings = SETTINGS[service].model_construct()
    app: FastAPI = module.create_app(settings)
    return app


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def objects(overlay: str) -> list[Obj]:
    return render(overlay)


# ---- rendering and schemas -----------------------------------------------------------


def test_overlay_renders(objects: list[Obj]) -> None:
    kinds = {o["kind"] for o in objects}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "DopplerSecret",
        "ServiceMonitor",
        "PrometheusRule",
        "Namespace",
        "ConfigMap",
    } <= kinds


def test_every_object_validates(objects: list[Obj]) -> None:
    errors = [e for o in objects for e in k8s_errors(o)]
    assert errors == []


def test_one_namespace_holds_everything(objects: list[Obj], overlay: str) -> None:
    namespace = one(
        objects,
        "Namespace",
        {"dev": "llm-gateway-dev", "prod": "llm-gateway", "prod-redis-cluster": "llm-gateway"}[
            overlay
        ],
    )
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == namespace["metadata"]["name"], o["kind"]


BROKEN = {  # fixture -> what the refusal must name
    "deployment.yaml": "'livenesProbe' was unexpected",
    "hpa.yaml": "spec.minReplicas: 'two' is not of type 'integer'",
    "servicemonitor.yaml": "'prot' was unexpected",
    "dopplersecret.yaml": "either tokenSecret or identity",
    "unknown-kind.yaml": "no schema for example.com/v1 Widget",
}


def test_every_broken_fixture_is_tested() -> None:
    assert sorted(p.name for p in (FIXTURES / "broken" / "k8s").glob("*.yaml")) == sorted(BROKEN)


@pytest.mark.parametrize(("fixture", "reason"), sorted(BROKEN.items()))
def test_a_broken_object_is_rejected(fixture: str, reason: str) -> None:
    (document,) = load_yaml_all((FIXTURES / "broken" / "k8s" / fixture).read_text())
    errors = k8s_errors(document)
    assert any(reason in e for e in errors), errors


def test_a_broken_kustomization_does_not_render() -> None:
    done = kustomize(FIXTURES / "broken" / "kustomization")
    assert done.returncode != 0
    assert "missing.yaml" in done.stderr


def overlay_images(overlay: str) -> dict[str, str]:
    """The overlay's `images:`: placeholder name (gateway-edge, ...) -> name:tag."""
    kustomization = yaml.safe_load(
        (REPO / "k8s" / "overlays" / IMAGES_OF[overlay] / "kustomization.yaml").read_text()
    )
    return {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization["images"]}


def test_images_are_pinned_and_named_by_the_overlay(objects: list[Obj], overlay: str) -> None:
    ours = overlay_images(overlay)
    for deployment in find(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        image = container(deployment)["image"]
        assert re.fullmatch(r"[\w.\-/]+:[\w][\w.-]*", image)
        assert not image.endswith(":latest")
        if name in (*TIERS, "simulator"):
            # Named in one place, the overlay's `images:`, as `docker build -t` names them.
            assert image == ours[f"gateway-{name}"] == f"llm-gateway-{name}:{image.split(':')[1]}"
    assert "example-org" not in str(objects)


def test_the_registry_is_set_once_per_image_in_the_overlay(overlay: str, tmp_path: Path) -> None:
    # What docs/deploy.md has the operator do: `kustomize edit set image` per image, which
    # writes newName and newTag into the overlay's `images:` (done here on a copy).
    shutil.copytree(REPO / "k8s", tmp_path / "k8s")
    path = tmp_path / "k8s" / "overlays" / IMAGES_OF[overlay] / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text())
    for image in kustomization["images"]:
        service = image["name"].removeprefix("gateway-")
        image |= {"newName": f"registry.example.com/acme/llm-gateway-{service}", "newTag": "1.2.3"}
    path.write_text(yaml.safe_dump(kustomization))
    done = kustomize(tmp_path / "k8s" / "overlays" / overlay)
    assert done.returncode == 0, done.stderr
    deployments = find(load_yaml_all(done.stdout), "Deployment")
    images = {d["metadata"]["name"]: container(d)["image"] for d in deployments}
    services = [*TIERS, "simulator"] if overlay == "dev" else list(TIERS)
    for service in services:
        assert images[service] == f"registry.example.com/acme/llm-gateway-{service}:1.2.3"


# ---- each tier ------------------------------------------------------------------------


@pytest.mark.parametrize("tier", TIERS)
def test_tier_has_limits_probes_hpa_pdb_and_network_policy(objects: list[Obj], tier: str) -> None:
    deployment = one(objects, "Deployment", tier)
    labels = pod_labels(deployment)
    c = container(deployment)
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][bound]), bound
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"], probe
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"

    hpa = one(objects, "HorizontalPodAutoscaler", tier)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": tier,
    }
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "gateway_http_requests_in_flight"
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    pdbs = [
        p for p in find(objects, "PodDisruptionBudget") if selects(p["spec"]["selector"], labels)
    ]
    assert len(pdbs) == 1
    policies = [
        n
        for n in find(objects, "NetworkPolicy")
        if n["spec"]["podSelector"] and selects(n["spec"]["podSelector"], labels)
    ]
    assert len(policies) == 1


@pytest.mark.parametrize("tier", TIERS)
def test_probes_hit_paths_and_port_the_service_serves(objects: list[Obj], tier: str) -> None:
    deployment = one(objects, "Deployment", tier)
    c = container(deployment)
    app = tier_app(tier)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": default_port(tier)}, "the port the tier listens on by default"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["port"] == "http"
        assert serves(app, get["path"]), f"{tier} does not serve {get['path']}"
    service = one(objects, "Service", tier)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": default_port(tier), "targetPort": "http", "protocol": "TCP"}
    ]
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(deployment))


def test_the_path_check_would_notice_a_wrong_probe() -> None:
    app = tier_app("edge")
    assert serves(app, "/healthz")
    assert not serves(app, "/health")


@pytest.mark.parametrize("tier", TIERS)
def test_tier_runs_non_root_read_only_and_drains_on_shutdown(objects: list[Obj], tier: str) -> None:
    deployment = one(objects, "Deployment", tier)
    pod = deployment["spec"]["template"]["spec"]
    c = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the images' USER
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # Grace covers the preStop sleep and uvicorn's drain of in-flight streams.
    assert pod["terminationGracePeriodSeconds"] > seconds_of_prestop(c) + DRAIN_SECONDS
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0
    spread = pod["topologySpreadConstraints"]
    assert {s["topologyKey"] for s in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert all(selects(s["labelSelector"], pod_labels(deployment)) for s in spread)


def test_every_pod_meets_the_restricted_pod_security_standard(objects: list[Obj]) -> None:
    for deployment in find(objects, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod.get("automountServiceAccountToken") is False
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert {"cpu", "memory"} <= set(c["resources"]["limits"])


# ---- network -----------------------------------------------------------------------


def allowed_sources(objects: list[Obj], labels: dict[str, str]) -> set[str]:
    """Who may open connections to pods with ``labels``: pod names (same namespace) and
    ``ns:<name>`` for other namespaces. Everything else is denied by default."""
    sources = set()
    for policy in find(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if not spec["podSelector"] or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("ingress", []):
            assert rule.get("from"), "no rule may admit every source"
            for peer in rule["from"]:
                assert set(peer) in ({"podSelector"}, {"namespaceSelector"}), peer
                if "podSelector" in peer:
                    sources.add(peer["podSelector"]["matchLabels"][NAME])
                else:
                    ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    sources.add(f"ns:{ns}")
    return sources


def test_network_policies_chain_the_tiers(objects: list[Obj], overlay: str) -> None:
    deny = one(objects, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    provider = {"dev": "simulator", "prod": "vllm", "prod-redis-cluster": "vllm"}[overlay]
    expected = {
        "edge": {"ns:ingress-nginx", "ns:monitoring"},
        "policy": {"edge", "ns:monitoring"},
        "router": {"policy", "ns:monitoring"},
        "cache-redis": {"edge", "policy"},
        provider: {"router"} | ({"ns:monitoring"} if provider == "vllm" else set()),
    } | (
        # The nodes also answer each other and the Job that creates the cluster.
        # The router publishes the catalog's prices there.
        {"redis-cluster": {"edge", "policy", "router", "redis-cluster", "redis-cluster-create"}}
        if overlay == "prod-redis-cluster"
        else {"redis": {"edge", "policy", "router"}}
    )
    deployments = {
        d["metadata"]["name"]: d
        for kind in ("Deployment", "StatefulSet")
        for d in find(objects, kind)
    }
    assert set(deployments) == set(expected)
    for name, deployment in deployments.items():
        assert allowed_sources(objects, pod_labels(deployment)) == expected[name], name


def test_state_redis_never_evicts_and_the_cache_evicts_lru_under_a_cap(
    objects: list[Obj], overlay: str
) -> None:
    def flags(obj: Obj) -> dict[str, str]:
        args = [str(a) for a in container(obj).get("args", [])]
        return dict(itertools.pairwise(args))

    state = (
        one(objects, "StatefulSet", "redis-cluster")
        if overlay == "prod-redis-cluster"
        else one(objects, "Deployment", "redis")
    )
    assert flags(state)["--maxmemory-policy"] == "noeviction"
    cache = flags(one(objects, "Deployment", "cache-redis"))
    assert cache["--maxmemory-policy"] == "allkeys-lru"
    assert re.fullmatch(r"\d+[kmg]b", cache["--maxmemory"])


def test_ingress_reaches_edge_only_and_streams(objects: list[Obj]) -> None:
    (ingress,) = find(objects, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-buffering"] == "off"
    assert annotations[prefix + "proxy-request-buffering"] == "off"
    longest = max(
        d.timeouts.total
        for path in (REPO / "k8s").rglob("catalog.yaml")
        for d in catalog_for(path).deployments()
    )
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[prefix + timeout]) > longest, timeout
    backends = [
        p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]
    ]
    assert backends == [{"name": "edge", "port": {"name": "http"}}]
    assert ingress["spec"]["tls"], "TLS at the ingress"
    for service in find(objects, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]


def catalog_for(path: Path) -> Any:
    env = dict.fromkeys(catalog_key_envs(path), "placeholder")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return load_catalog(path, set(ADAPTERS))


def test_router_catalogs_load() -> None:
    paths = sorted((REPO / "k8s").rglob("catalog.yaml"))
    assert len(paths) == 2
    for path in paths:
        assert catalog_for(path).models


# ---- secrets -----------------------------------------------------------------------


def test_doppler_feeds_every_tier_its_secrets(objects: list[Obj], overlay: str) -> None:
    doppler = {d["spec"]["managedSecret"]["name"]: d for d in find(objects, "DopplerSecret")}
    # The provider keys the router needs are those its rendered catalog names.
    catalog = one_generated(objects, "router-catalog")["data"]["catalog.yaml"]
    for tier in TIERS:
        deployment = one(objects, "Deployment", tier)
        c = container(deployment)
        refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
        assert len(refs) == 1, refs
        assert refs[0] in doppler, f"{tier}: secrets not from Doppler"
        spec = doppler[refs[0]]["spec"]
        needed = secret_env(tier)
        if tier == "router":
            needed |= keys_named_by(catalog)
        assert needed <= set(spec["secrets"]), f"{tier} lacks {needed - set(spec['secrets'])}"
        assert spec["config"] == {"dev": "dev", "prod": "prd", "prod-redis-cluster": "prd"}[overlay]
        # No secret value sits in the manifests, and no default stands in for one.
        plain = {e["name"] for e in c.get("env", []) if "value" in e}
        assert not plain & needed, plain & needed
        configured = plain | set(spec["secrets"])
        assert required_env(tier) <= configured, required_env(tier) - configured
        annotations = deployment["metadata"]["annotations"]
        assert annotations["secrets.doppler.com/reload"] == "true"
    (redis,) = [
        container(o)
        for o in find(objects, "Deployment") + find(objects, "StatefulSet")
        if o["metadata"]["name"] in ("redis", "redis-cluster")
    ]
    (password,) = [e for e in redis["env"] if e["name"] == "REDISCLI_AUTH"]
    ref = password["valueFrom"]["secretKeyRef"]
    assert ref["key"] in doppler[ref["name"]]["spec"]["secrets"]


def one_generated(objects: list[Obj], prefix: str) -> Obj:
    (found,) = [
        o
        for o in find(objects, "ConfigMap")
        if re.fullmatch(rf"{prefix}-[a-z0-9]{{10}}", o["metadata"]["name"])
    ]
    return found


def keys_named_by(catalog_text: str) -> set[str]:
    data = yaml.safe_load(catalog_text)
    return {
        d["api_key_env"] for m in data["models"] for d in m["deployments"] if d.get("api_key_env")
    }


def test_router_mounts_the_rendered_catalog(objects: list[Obj]) -> None:
    deployment = one(objects, "Deployment", "router")
    generated = one_generated(objects, "router-catalog")["metadata"]["name"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["catalog"]["configMap"]["name"] == generated
    c = container(deployment)
    mount = next(m for m in c["volumeMounts"] if m["name"] == "catalog")
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["ROUTER_CATALOG_PATH"] == f"{mount['mountPath']}/catalog.yaml"


def test_every_tier_exports_traces_over_otlp_http(objects: list[Obj]) -> None:
    otel = one_generated(objects, "gateway-otel")["data"]
    assert otel["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert otel["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
    for tier in TIERS:
        c = container(one(objects, "Deployment", tier))
        refs = [e["configMapRef"]["name"] for e in c["envFrom"] if "configMapRef" in e]
        assert refs == [one_generated(objects, "gateway-otel")["metadata"]["name"]]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["OTEL_SERVICE_NAME"] == tier
        assert env[f"{tier.upper()}_HOST"] == "0.0.0.0"


# ---- inference and monitoring --------------------------------------------------------


def test_vllm_requests_a_gpu() -> None:
    objects = render("prod")
    vllm = container(one(objects, "Deployment", "vllm"))
    assert vllm["image"].startswith("vllm/vllm-openai:")
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert vllm["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= set(vllm)


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o.startswith("prod")])
def test_the_router_sees_each_vllm_pod(overlay: str) -> None:
    """A headless Service names the vLLM pods, and the catalog discovers them by it."""
    objects = render(overlay)
    service = one(objects, "Service", "vllm")
    deployment = one(objects, "Deployment", "vllm")
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["clusterIP"] == "None"
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(deployment))
    # Only ready pods are in its answer.
    assert not service["spec"].get("publishNotReadyAddresses", False)
    (port,) = service["spec"]["ports"]
    text = one_generated(objects, "router-catalog")["data"]["catalog.yaml"]
    catalog = yaml.safe_load(text)
    (local,) = [d for m in catalog["models"] for d in m["deployments"] if d["provider"] == "vllm"]
    assert local["discovery"] == "dns"
    assert local["base_url"] == f"http://{service['metadata']['name']}:{port['port']}/v1"
    # A pod leaving keeps answering until the routers have resolved the name again
    # (after the DNS cache's TTL, CoreDNS's default).
    interval = catalog_for(REPO / "k8s/base/router/catalog.yaml").routing.discovery
    seconds = seconds_of_prestop(container(deployment))
    assert seconds >= 5 + interval.interval_seconds + interval.timeout_seconds


def test_service_monitor_scrapes_every_tier(objects: list[Obj]) -> None:
    monitor = one(objects, "ServiceMonitor", "gateway-tiers")
    for tier in TIERS:
        service = one(objects, "Service", tier)
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"]), tier
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    (relabel,) = endpoint["relabelings"]
    assert relabel["targetLabel"] == "job"
    assert relabel["replacement"] == "gateway-${1}"


def test_prometheus_rule_passes_promtool(objects: list[Obj], tmp_path: Path) -> None:
    rule = one(objects, "PrometheusRule", "gateway")
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert any('up{job=~"gateway-.*"} == 0' in r["expr"] for r in alerts)
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = run([promtool(), "check", "rules", str(rules_file)])
    assert done.returncode == 0, done.stdout + done.stderr
