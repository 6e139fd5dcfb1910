"""Metric label values, bounded: whatever a client sends, a label takes a known value.

- ``route``: the matched route template, ``unmatched`` for anything else (scanners).
- ``method``: a standard HTTP method, else ``_OTHER``.
- ``status_class``: ``2xx`` ... ``5xx``.
- ``model``: a catalog alias the router reported, else ``other``.
- ``error_type`` / ``code``: OpenAI's error ``type`` and ``code`` when the gateway knows
  them, else ``other``. A code not listed here (a provider's own) counts as ``other``:
  add new gateway codes to :data:`ERROR_CODES`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson

UNMATCHED = "unmatched"
OTHER = "other"
NONE = "none"

METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "insufficient_quota",
        "server_error",
        "api_error",
        # Anthropic's, on the Messages routes
        "overloaded_error",
        "request_too_large",
    }
)
ERROR_CODES = frozenset(
    {
        # edge
        "invalid_api_key",
        "key_store_unavailable",
        "upstream_unavailable",
        "request_too_large",
        "headers_too_large",
        "unsupported_media_type",
        "invalid_json",
        "invalid_type",
        "invalid_value",
        "missing_required_parameter",
        "nesting_too_deep",
        "array_above_max_length",
        "empty_array",
        "string_above_max_length",
        "decimal_above_max_value",
        "decimal_below_min_value",
        "integer_above_max_value",
        "integer_below_min_value",
        "unknown_url",
        "method_not_allowed",
        "unsupported_parameter",
        "response_not_found",
        # policy
        "invalid_identity",
        "model_not_found",
        "max_tokens_exceeded",
        "rate_limit_exceeded",
        "insufficient_quota",
        "rate_limiter_unavailable",
        "usage_unavailable",
        # router
        "unsupported_operation",
        "model_overloaded",
        "no_healthy_deployment",
        "provider_error",
        "provider_unavailable",
        "provider_timeout",
        "provider_rate_limited",
        "stream_interrupted",
        "invalid_request",
    }
)

# An error body larger than this is not parsed for its labels.
MAX_ERROR_BODY = 16 * 1024


def status_class(status: int) -> str:
    return _STATUS_CLASSES.get(status // 100, OTHER)


def method(value: str) -> str:
    return value if value in METHODS else "_OTHER"


def route(scope: MutableMapping[str, Any]) -> str:
    """The template of the route that handled the request (set by Starlette's router)."""
    matched = scope.get("route")
    template = getattr(matched, "path_format", None) if matched is not None else None
    return template if isinstance(template, str) else UNMATCHED


def error_labels(body: bytes) -> tuple[str, str]:
    """``(error_type, code)`` of an OpenAI- or Anthropic-shaped error body, bounded
    (Anthropic's errors have no code: ``none``)."""
    if not body or len(body) > MAX_ERROR_BODY:
        return OTHER, OTHER
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return OTHER, OTHER
    if not isinstance(error, dict):
        return OTHER, OTHER
    kind, code = error.get("type"), error.get("code")
    return (
        kind if kind in ERROR_TYPES else OTHER,
        NONE if code is None else code if code in ERROR_CODES else OTHER,
    )
