"""The model catalog: each public model alias and the deployments that serve it.

Loaded from a YAML file and validated whole at start; a catalog with any error is
refused with a message naming the file, the alias and the field.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class CatalogError(Exception):
    """The catalog file cannot be used; the message says where and why."""


class Strategy(StrEnum):
    WEIGHTED = "weighted"


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=2.0, gt=0)
    # Streams: longest wait for the first byte of the answer (and between chunks).
    first_token: float = Field(default=30.0, gt=0)
    total: float = Field(default=600.0, gt=0)


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    provider: str
    base_url: str = Field(pattern=r"^https?://")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    weight: float = Field(default=1.0, gt=0)
    priority: int = Field(default=0, ge=0)
    timeouts: Timeouts = Timeouts()


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str = Field(min_length=1)
    strategy: Strategy = Strategy.WEIGHTED
    owned_by: str = "gateway"
    deployments: tuple[Deployment, ...] = Field(min_length=1)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[ModelEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Catalog:
        aliases = [m.alias for m in self.models]
        if len(set(aliases)) != len(aliases):
            raise ValueError(f"duplicate model aliases: {sorted(aliases)}")
        names = [d.name for m in self.models for d in m.deployments]
        if len(set(names)) != len(names):
            raise ValueError("deployment names must be unique across the catalog")
        return self

    def get(self, alias: str) -> ModelEntry | None:
        return next((m for m in self.models if m.alias == alias), None)

    def deployments(self) -> list[Deployment]:
        return [d for m in self.models for d in m.deployments]


def load_catalog(path: Path, known_providers: set[str]) -> Catalog:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read model catalog {path}: {exc}") from None
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "(top level)"
            problems.append(f"{where}: {error['msg']}")
        raise CatalogError(f"invalid model catalog {path}: " + "; ".join(problems)) from None
    for deployment in catalog.deployments():
        if deployment.provider not in known_providers:
            raise CatalogError(
                f"invalid model catalog {path}: deployment {deployment.name!r} has unknown "
                f"provider {deployment.provider!r} (known: {', '.join(sorted(known_providers))})"
            )
        if deployment.api_key_env and not os.environ.get(deployment.api_key_env):
            raise CatalogError(
                f"deployment {deployment.name!r} needs {deployment.api_key_env}, which is not "
                "set (secrets come from Doppler)"
            )
    return catalog
