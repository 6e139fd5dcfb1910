"""Where ``gateway keys`` finds the key registry, the pepper and Redis.

In this order: Doppler itself (``--doppler``: the secrets ``GATEWAY_KEY_REGISTRY`` and
``GATEWAY_KEY_PEPPER`` through the Doppler CLI), a registry file (``--registry`` or
``GATEWAY_KEY_REGISTRY_FILE``, with ``GATEWAY_KEY_PEPPER`` and ``REDIS_URL`` from the
environment), else the ``gateway dev`` stack in the workdir (its registry, its pepper,
and its Redis while it runs). Every change reads the registry where it lives and writes
it back there whole, so no step works on a copy that lacks the keys made before it; a
registry that is missing where one is expected is an error, not a new empty one
(``gateway keys init`` starts one).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway_cli import devdir, doppler
from gateway_shared.keys import Registry

REGISTRY_NAME = "GATEWAY_KEY_REGISTRY"
PEPPER_NAME = "GATEWAY_KEY_PEPPER"


class KeysError(Exception):
    """A mistake or missing piece the user can fix; the message is one line."""


class RegistryStore(ABC):
    where: str

    @abstractmethod
    def raw(self) -> str:
        """The stored text; empty if there is none."""

    @abstractmethod
    def write(self, registry: Registry) -> None: ...

    def read(self) -> Registry:
        raw = self.raw()
        if not raw.strip():
            raise KeysError(
                f"no key registry in {self.where}; `gateway keys init` (with the same "
                "options) starts an empty one"
            )
        try:
            return Registry.parse(raw)
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0]
            raise KeysError(f"the key registry in {self.where} is not valid: {first}") from None

    def init(self) -> None:
        if self.raw().strip():
            raise KeysError(f"{self.where} already holds a key registry; it was left as it is")
        self.write(Registry())


class FileStore(RegistryStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def raw(self) -> str:
        return self.path.read_text() if self.path.exists() else ""

    def write(self, registry: Registry) -> None:
        registry.save(self.path)


class DopplerStore(RegistryStore):
    where = f"Doppler's {REGISTRY_NAME}"

    def raw(self) -> str:
        return doppler.get(REGISTRY_NAME)

    def write(self, registry: Registry) -> None:
        doppler.set_value(REGISTRY_NAME, registry.dump().decode())


@dataclass(frozen=True)
class KeySource:
    store: RegistryStore
    read_pepper: Callable[[], str | None]
    pepper_origin: str
    redis_url: str | None
    note: str | None = None

    def pepper(self) -> str:
        pepper = self.read_pepper()
        if not pepper:
            raise KeysError(f"{PEPPER_NAME} is not set ({self.pepper_origin})")
        return pepper


def _doppler_pepper() -> str | None:
    return doppler.get(PEPPER_NAME).strip()


def resolve(*, use_doppler: bool, registry_file: Path | None, workdir: Path) -> KeySource:
    env_redis = os.environ.get("REDIS_URL")
    if use_doppler:
        return KeySource(DopplerStore(), _doppler_pepper, "in Doppler", env_redis)
    if registry_file is not None:
        return KeySource(
            FileStore(registry_file),
            lambda: os.environ.get(PEPPER_NAME),
            "it comes from Doppler: `doppler run -- gateway keys ...`",
            env_redis,
        )
    secrets = devdir.read_secrets(workdir)
    if secrets is None:
        raise KeysError(
            "no key registry: pass --doppler, or --registry FILE (or set "
            f"GATEWAY_KEY_REGISTRY_FILE), or run beside `gateway dev` (none in {workdir})"
        )
    running = devdir.running(workdir)
    return KeySource(
        FileStore(devdir.registry_path(workdir)),
        lambda: secrets.key_pepper,
        f"the dev stack's pepper is in {devdir.secrets_path(workdir)}",
        running.redis_url if running else None,
        note=f"the dev stack's keys in {workdir}"
        + ("" if running else " (not running: its edge loads them when it starts)"),
    )
