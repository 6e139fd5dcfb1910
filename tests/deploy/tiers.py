"""What each tier needs from its deployment, read from the tiers' own settings classes, so
the Compose and Kubernetes tests follow the code instead of restating it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings

from edge.settings import EdgeSettings
from gateway_shared.tier.settings import env_name
from policy.settings import PolicySettings
from router.settings import RouterSettings
from simulator.settings import SimulatorSettings
from tests.deploy.tools import REPO, load_yaml

SETTINGS: dict[str, type[BaseSettings]] = {
    "edge": EdgeSettings,
    "policy": PolicySettings,
    "router": RouterSettings,
    "simulator": SimulatorSettings,
}
# Required in a deployment though optional in code: edge takes its key registry inline
# from Doppler there (GATEWAY_KEY_REGISTRY_FILE is for development).
DEPLOYMENT_SECRETS = {"edge": {"GATEWAY_KEY_REGISTRY"}}


def required_env(service: str) -> set[str]:
    """Settings with no default: the tier refuses to start without them."""
    cls = SETTINGS[service]
    return {env_name(cls, f) for f, info in cls.model_fields.items() if info.is_required()}


def catalog_key_envs(catalog: Path) -> set[str]:
    data = load_yaml(catalog)
    return {
        d["api_key_env"]
        for model in data["models"]
        for d in model["deployments"]
        if d.get("api_key_env")
    }


def secret_env(service: str, catalog: Path | None = None) -> set[str]:
    """Every secret the tier reads: its SecretStr settings that a deployment must set,
    plus, for router, the provider keys its catalog names."""
    cls = SETTINGS[service]
    names = {
        env_name(cls, f)
        for f, info in cls.model_fields.items()
        if "SecretStr" in str(info.annotation) and info.is_required()
    } | DEPLOYMENT_SECRETS.get(service, set())
    if service == "router" and catalog is not None:
        names |= catalog_key_envs(catalog)
    return names


def default_port(service: str) -> int:
    port = SETTINGS[service].model_fields["port"].default
    assert isinstance(port, int)
    return port


def env_prefix(service: str) -> str:
    prefix = SETTINGS[service].model_config.get("env_prefix", "")
    assert isinstance(prefix, str)
    assert prefix
    return prefix


def build_args(service: str) -> dict[str, str]:
    """The docker/Dockerfile build arguments of the service's image: its module, and its
    settings class's env prefix and default port (what compose and CI must pass)."""
    return {
        "SERVICE": service,
        "ENV_PREFIX": env_prefix(service),
        "PORT": str(default_port(service)),
    }


COMPOSE_CATALOG = REPO / "compose" / "router" / "catalog.yaml"
# The Compose profile `simulator`'s catalog: the simulator alone, no provider key.
COMPOSE_SIMULATOR_CATALOG = REPO / "compose" / "router" / "catalog.simulator.yaml"
