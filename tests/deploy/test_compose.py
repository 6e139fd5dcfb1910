"""compose/compose.yaml: valid against the Compose Specification, and wired the way the
issue asks - health-gated start order, secrets only from Doppler's environment, every
tier scraped, Grafana provisioned, traces collected; a profile that needs no provider
key; image names that are a variable, so the images built are your registry's.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from router.catalog import load_catalog
from router.providers.registry import ADAPTERS
from tests.deploy.dockerfile import parse
from tests.deploy.tiers import (
    COMPOSE_CATALOG,
    COMPOSE_SIMULATOR_CATALOG,
    build_args,
    catalog_key_envs,
    default_port,
    required_env,
    secret_env,
)
from tests.deploy.tools import (
    FIXTURES,
    REPO,
    SERVICES,
    TIERS,
    MissingVariable,
    compose_errors,
    interpolate,
    load_yaml,
    profile_services,
    promtool,
    run,
)

COMPOSE_DIR = REPO / "compose"
REDIS_CLUSTER = {*(f"redis-cluster-{n}" for n in range(1, 7)), "redis-cluster-create"}
EXPECTED = {
    "redis",
    "cache-redis",
    *REDIS_CLUSTER,
    "simulator",
    "vllm",
    "edge",
    "policy",
    "router",
    "router-simulator",
    "prometheus",
    "grafana",
    "otel-collector",
    "jaeger",
}
REQUIRED_VALUE = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]+\}$")
# The router profiles, each with the catalog it mounts.
ROUTERS = {"router": COMPOSE_CATALOG, "router-simulator": COMPOSE_SIMULATOR_CATALOG}
PROVIDER_KEYS = catalog_key_envs(COMPOSE_CATALOG)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load_yaml(COMPOSE_DIR / "compose.yaml")
    assert isinstance(document, dict)
    return document


def doppler_env(document: Any) -> dict[str, str]:
    """What `doppler run` provides: every variable the file requires (`${NAME:?...}`)."""
    names = re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", json.dumps(document))
    return dict.fromkeys(names, "from-doppler")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def rendered(compose: dict[str, Any]) -> dict[str, Any]:
    """The file as Compose reads it in `doppler run`, no image variable set."""
    env = doppler_env(compose)
    document: dict[str, Any] = interpolate(compose, env)
    return document


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []


def test_a_broken_compose_file_is_rejected() -> None:
    errors = compose_errors(load_yaml(FIXTURES / "broken" / "compose.yaml"))
    assert any("imagee" in e for e in errors), errors  # unknown service key
    assert any("depends_on" in e for e in errors), errors  # unknown condition


def test_every_part_of_the_stack_is_there(services: dict[str, Any]) -> None:
    assert set(services) == EXPECTED


def _redis_flags(service: dict[str, Any]) -> str:
    return " ".join(service["command"])


def test_state_redis_never_evicts_and_the_cache_evicts_lru_under_a_cap(
    services: dict[str, Any],
) -> None:
    # Quota and budget counters carry TTLs: any volatile-* policy would evict them first.
    for name in ("redis", *sorted(REDIS_CLUSTER - {"redis-cluster-create"})):
        assert "--maxmemory-policy noeviction" in _redis_flags(services[name]), name
    cache = _redis_flags(services["cache-redis"])
    assert "--maxmemory-policy allkeys-lru" in cache
    assert re.search(r"--maxmemory \d+[kmg]b", cache)


def test_the_redis_cluster_profile_creates_3_primaries_with_a_replica_each(
    services: dict[str, Any],
) -> None:
    for name in REDIS_CLUSTER:
        assert services[name]["profiles"] == ["redis-cluster"]
    create = " ".join(services["redis-cluster-create"]["command"])
    nodes = sorted(n for n in REDIS_CLUSTER if n != "redis-cluster-create")
    assert all(f"{n}:6379" in create for n in nodes)
    assert "--cluster-replicas 1" in create
    for n in nodes:
        assert "--cluster-enabled yes" in " ".join(services[n]["command"])


def test_images_are_pinned(rendered: dict[str, Any]) -> None:
    for name, service in rendered["services"].items():
        image = service.get("image", "")
        assert re.search(r":[\w][\w.-]*$", image), name
        assert not image.endswith(":latest"), name
        if "build" in service:
            built = service["build"]["args"]["SERVICE"]
            assert built in SERVICES, name
            assert service["build"] == {
                "context": "..",
                "dockerfile": "docker/Dockerfile",
                "args": build_args(built),  # the settings class's prefix and port
            }


def test_the_image_names_are_a_variable(compose: dict[str, Any]) -> None:
    # `GATEWAY_IMAGE_PREFIX=... docker compose build && docker compose push` (docs/deploy.md)
    env = doppler_env(compose)
    default = interpolate(compose, env)["services"]
    chosen = interpolate(
        compose,
        env
        | {"GATEWAY_IMAGE_PREFIX": "registry.example.com/acme/llm-gateway"}
        | {"GATEWAY_IMAGE_TAG": "1.2.3"},
    )["services"]
    built = {name: s["build"]["args"]["SERVICE"] for name, s in chosen.items() if "build" in s}
    assert set(built.values()) == set(SERVICES)
    for name, service in built.items():
        assert chosen[name]["image"] == f"registry.example.com/acme/llm-gateway-{service}:1.2.3"
        assert default[name]["image"] == f"llm-gateway-{service}:dev"


def test_vllm_is_an_openai_compatible_gpu_service(services: dict[str, Any]) -> None:
    vllm = services["vllm"]
    assert vllm["profiles"] == ["gpu"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    catalog = load_yaml(COMPOSE_CATALOG)
    urls = {d["base_url"] for m in catalog["models"] for d in m["deployments"]}
    assert "http://vllm:8000/v1" in urls
    assert "http://simulator:8090/v1" in urls


def test_start_order_waits_for_health(services: dict[str, Any]) -> None:
    def waits_for(name: str) -> dict[str, str]:
        depends = services[name].get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use depends_on conditions"
        return {target: spec["condition"] for target, spec in depends.items()}

    assert waits_for("edge")["policy"] == waits_for("edge")["redis"] == "service_healthy"
    assert waits_for("policy")["router"] == waits_for("policy")["redis"] == "service_healthy"
    assert waits_for("policy")["router-simulator"] == "service_healthy"
    assert waits_for("router-simulator")["simulator"] == "service_healthy"
    assert waits_for("router")["simulator"] == "service_healthy"
    assert services["router"]["depends_on"]["vllm"]["required"] is False  # GPU profile only
    for name in services:
        for target, condition in waits_for(name).items():
            assert target in services, f"{name} depends on unknown {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"


@pytest.mark.parametrize("service", SERVICES)
def test_tier_healthcheck_is_the_images(services: dict[str, Any], service: str) -> None:
    build = services[service]["build"]
    dockerfile = COMPOSE_DIR / build["context"] / build["dockerfile"]
    image = parse(dockerfile).evaluate(build["args"])[-1]  # what compose builds
    healthcheck = image.last("HEALTHCHECK")
    assert healthcheck is not None
    assert services[service]["healthcheck"]["test"] == ["CMD", *healthcheck.exec_form()]


@pytest.mark.parametrize("service", [*TIERS, "router-simulator"])
def test_tier_gets_its_settings_and_secrets_only_from_the_environment(
    services: dict[str, Any], service: str
) -> None:
    environment: dict[str, str | None] = services[service]["environment"]
    tier = services[service]["build"]["args"]["SERVICE"]
    secrets = secret_env(tier)
    assert secrets, "every tier has secrets"
    provider_keys = catalog_key_envs(ROUTERS[service]) if service in ROUTERS else set()
    for name in required_env(tier) | secrets | provider_keys:
        assert name in environment, f"{service} does not get {name}"
    for name in secrets:
        match = REQUIRED_VALUE.match(str(environment[name]))
        # `${NAME:?...}`: filled by `doppler run`, no default, compose refuses when unset.
        assert match, f"{service}: {name}={environment[name]!r}"
        assert match["name"] == name
    for name in provider_keys:
        # Passed through as `doppler run` sets it: Compose interpolates every profile's
        # services, so a `${NAME:?...}` here would stop the profile that needs no key.
        assert environment[name] is None, f"{service}: {name}={environment[name]!r}"


def test_a_missing_tier_secret_stops_compose(compose: dict[str, Any]) -> None:
    env = doppler_env(compose)
    for name in env:
        with pytest.raises(MissingVariable, match=name):
            interpolate(compose, {k: v for k, v in env.items() if k != name})


def test_the_simulator_profile_needs_no_provider_key(compose: dict[str, Any]) -> None:
    # What `doppler run` holds when no provider key was ever set.
    env = doppler_env(compose)
    assert not PROVIDER_KEYS & set(env)
    document = interpolate(compose, env)  # Compose would stop here on a missing value
    started = profile_services(document, "simulator")
    assert compose_errors(document) == []
    assert "router" not in started  # the one that names OpenAI's key
    router = started["router-simulator"]
    assert router["networks"]["default"]["aliases"] == ["router"]  # policy's upstream
    assert "./router/catalog.simulator.yaml:/etc/gateway/catalog.yaml:ro" in router["volumes"]
    assert catalog_key_envs(COMPOSE_SIMULATOR_CATALOG) == set()
    for name, service in started.items():
        named = set(service.get("environment") or {})
        assert not named & PROVIDER_KEYS, name
        assert "OPENAI" not in str(service), name
    assert {"edge", "policy", "redis", "simulator"} <= set(started)


def test_each_router_profile_starts_one_router(compose: dict[str, Any]) -> None:
    for profile in ("simulator", "openai"):
        started = profile_services(compose, profile)
        routers = [name for name in started if name in ROUTERS]
        assert len(routers) == 1, (profile, routers)
    # Neither is required: policy waits for whichever one the profile starts.
    for router in ROUTERS:
        assert compose["services"]["policy"]["depends_on"][router] == {
            "condition": "service_healthy",
            "required": False,
        }


def test_no_env_files(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "env_file" not in service, name
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [p for p in tracked if Path(p).name == ".env" or Path(p).name.startswith(".env.")]


def test_other_secrets_are_required_too(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert compose["secrets"]["redis_password"] == {"environment": "REDIS_PASSWORD"}
    assert services["redis"]["secrets"] == ["redis_password"]
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert REQUIRED_VALUE.match(password)


def test_only_edge_is_published(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            if name == "edge":
                continue
            assert name not in TIERS, (name, port)
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert services["edge"]["ports"] == ["8080:8080"]


def test_prometheus_scrapes_every_tier(services: dict[str, Any]) -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus" / "prometheus.yml")
    targets = {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
        for job in config["scrape_configs"]
    }
    for tier in TIERS:
        assert targets[f"gateway-{tier}"] == [f"{tier}:{default_port(tier)}"]
    for job, hosts in targets.items():
        for host in hosts:
            assert host.split(":")[0] in services or host.startswith("127.0.0.1"), job
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    assert mounts["./prometheus/rules"] == "/etc/prometheus/rules"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_prometheus_config_and_rules_pass_promtool() -> None:
    done = run(
        [promtool(), "check", "config", "--syntax-only", "compose/prometheus/prometheus.yml"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rules = sorted((COMPOSE_DIR / "prometheus" / "rules").glob("*.yml"))
    assert rules
    done = run([promtool(), "check", "rules", *map(str, rules)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rejects_a_broken_rule() -> None:
    done = run([promtool(), "check", "rules", str(FIXTURES / "broken" / "rules.yml")])
    assert done.returncode != 0


def test_grafana_is_provisioned(services: dict[str, Any]) -> None:
    mounts = {
        target: source
        for source, target in (v.split(":")[:2] for v in services["grafana"]["volumes"])
    }
    assert mounts["/var/lib/grafana/dashboards"] == "../dashboards"
    provisioning = COMPOSE_DIR / mounts["/etc/grafana/provisioning"]
    providers = [
        p
        for f in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for p in load_yaml(f)["providers"]
    ]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    sources = [
        s
        for f in sorted((provisioning / "datasources").glob("*.y*ml"))
        for s in load_yaml(f)["datasources"]
    ]
    assert {s["type"]: urlparse(s["url"]).netloc for s in sources} == {
        "prometheus": "prometheus:9090",
        "jaeger": "jaeger:16686",
    }


def test_traces_flow_to_the_collector_and_on_to_jaeger(services: dict[str, Any]) -> None:
    collector = load_yaml(COMPOSE_DIR / "otel-collector" / "config.yaml")
    http = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for tier in TIERS:
        env = services[tier]["environment"]
        endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector"
        assert str(endpoint.port) == http.split(":")[1]
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_SERVICE_NAME"] == tier
    pipeline = collector["service"]["pipelines"]["traces"]
    for section in ("receivers", "processors", "exporters"):
        assert set(pipeline[section]) <= set(collector[section]), section
    exporters = [collector["exporters"][e]["endpoint"] for e in pipeline["exporters"]]
    assert [e.split(":")[0] for e in exporters] == ["jaeger"]


def test_mounted_files_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"


@pytest.mark.parametrize("catalog", ROUTERS.values(), ids=ROUTERS.keys())
def test_compose_catalogs_load_in_the_router(
    monkeypatch: pytest.MonkeyPatch, catalog: Path
) -> None:
    for name in catalog_key_envs(catalog):
        monkeypatch.setenv(name, "placeholder")
    for deployment in load_catalog(catalog, set(ADAPTERS)).deployments():
        host = urlparse(deployment.base_url).hostname
        assert host in EXPECTED or deployment.base_url.startswith("https://"), host
