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


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true``, which the description still uses beside 3.1's
    JSON Schema (``finish_reason`` of a stream chunk, say), as JSON Schema: null allowed."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _spec() -> dict[str, Any]:
    with SPEC.open("rb") as f:
        spec: dict[str, Any] = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    nullable: dict[str, Any] = _nullable(spec)
    return nullable


@cache
def _registry() -> Registry:
    return Registry().with_resource(_ROOT, Resource.from_contents(_spec(), DRAFT202012))


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


@cache
def _union_members(union: str) -> dict[str, str]:
    schemas = _spec()["components"]["schemas"]
    members: dict[str, str] = {}
    for ref in schemas[union].get("anyOf") or schemas[union].get("oneOf"):
        name = ref["$ref"].rsplit("/", 1)[-1]
        kind = schemas[name]["properties"]["type"]
        for value in kind.get("enum") or [kind.get("const")]:
            members[value] = name
    return members


def stream_event_component(event_type: str) -> str:
    """The ``ResponseStreamEvent`` member for a Responses stream event's ``type``."""
    return _union_members("ResponseStreamEvent")[event_type]
