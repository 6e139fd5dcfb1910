"""Validating answers, stream chunks and events against OpenAI's own OpenAPI description
(``schemas/openai/openapi.yaml``, copied into the repository with its source)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parents[2] / "schemas" / "openai" / "openapi.yaml"
_ROOT = "urn:openai-openapi"


@cache
def _registry() -> Registry:
    with SPEC.open("rb") as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Registry().with_resource(_ROOT, Resource.from_contents(spec, DRAFT202012))


@cache
def _validator(component: str) -> Draft202012Validator:
    ref = {"$ref": f"{_ROOT}#/components/schemas/{component}"}
    return Draft202012Validator(ref, registry=_registry())


def schema_errors(component: str, value: Any) -> list[str]:
    """What is wrong with ``value`` as OpenAI's ``component`` (empty: nothing)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in _validator(component).iter_errors(value)
    ]
