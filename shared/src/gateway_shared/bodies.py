"""Request bodies: the one way a tier parses one, and the facts read from it.

Edge checks every inference body (``edge.validation``) and forwards its bytes; policy
does not parse it at all (edge's signed summary says what it needs); the router parses
it once, because it rewrites it for the provider. All use :func:`parse_object`, so a
bad body gets the same answer wherever it is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from gateway_shared.errors import GatewayError

INVALID_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why it is not one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError(INVALID_JSON, status=400, code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(
            "The request body must be a JSON object.", status=400, param="body", code="invalid_type"
        )
    return body


def requested_output_tokens(body: dict[str, Any]) -> int | None:
    """The most output tokens a request asks for, if it says (``max_completion_tokens``
    wins over the older ``max_tokens``, as in OpenAI's API; the Responses API's
    ``max_output_tokens``)."""
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def texts(value: Any, keys: tuple[str, ...]) -> Iterator[str]:
    """The strings of a body's field, in order: a string, or the strings nested in its
    lists and, under ``keys``, its objects (content parts, items, blocks)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, keys)
    elif isinstance(value, dict):
        for key in keys:
            if key in value:
                yield from texts(value[key], keys)
