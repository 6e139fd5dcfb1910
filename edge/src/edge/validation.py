"""Checks on a request body before any Redis or provider work is done.

Only what the gateway itself relies on is checked (and what a wrong type of would make a
provider answer nonsense); every other field passes through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway_shared.errors import GatewayError

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"

_REQUIRED = {CHAT: "messages", COMPLETIONS: "prompt", EMBEDDINGS: "input"}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one request may ask for; each beyond-bound value is a 400."""

    max_depth: int = 32
    max_messages: int = 2048
    max_n: int = 128
    max_tokens: int = 1_000_000


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Walks containers only (strings are leaves), so its cost is the body's structure,
    # not its size.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


def _bad(message: str, param: str, code: str = "invalid_type") -> GatewayError:
    return GatewayError(message, status=400, param=param, code=code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_header_size(raw_headers: list[tuple[bytes, bytes]], limit: int) -> None:
    if sum(len(k) + len(v) for k, v in raw_headers) > limit:
        raise GatewayError(
            f"Request headers too large: the limit is {limit} bytes.",
            status=431,
            code="headers_too_large",
        )


def check_content_type(content_type: str | None) -> None:
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise GatewayError(
            f"Unsupported Content-Type {media!r}: send application/json.",
            status=415,
            code="unsupported_media_type",
        )


DEFAULT_LIMITS = Limits()


def parse_body(raw: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse and check a request body; raises a 400 GatewayError naming the bad field."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError(
            "We could not parse the JSON body of your request. The OpenAI API expects a "
            "JSON payload.",
            status=400,
            code="invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", "body")
    if _depth_exceeds(body, limits.max_depth):
        raise _bad(
            f"The request body is nested deeper than {limits.max_depth} levels.",
            "body",
            "nesting_too_deep",
        )

    model = body.get("model")
    if model is None:
        raise _bad("you must provide a model parameter", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _bad("Invalid type for 'model': expected a non-empty string.", "model")

    required = _REQUIRED[path]
    if required not in body:
        raise _bad(
            f"Missing required parameter: '{required}'.", required, "missing_required_parameter"
        )
    if path == CHAT:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _bad("Invalid type for 'messages': expected a non-empty array.", "messages")
        if len(messages) > limits.max_messages:
            raise _bad(
                f"Too many messages: {len(messages)}; at most {limits.max_messages}.",
                "messages",
                "array_above_max_length",
            )
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise _bad(
                    f"Invalid value for 'messages[{i}]': expected an object with a 'role'.",
                    f"messages[{i}]",
                )

    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("Invalid type for 'stream': expected a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("Invalid type for 'stream_options': expected an object.", "stream_options")
    for name, top in (
        ("max_tokens", limits.max_tokens),
        ("max_completion_tokens", limits.max_tokens),
        ("n", limits.max_n),
    ):
        value = body.get(name)
        if value is not None and (not _is_int(value) or not 1 <= value <= top):
            raise _bad(
                f"Invalid value for '{name}': expected an integer from 1 to {top}.",
                name,
                "invalid_value" if _is_int(value) else "invalid_type",
            )
    return body
