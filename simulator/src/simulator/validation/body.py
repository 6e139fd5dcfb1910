"""Reading a request body the way vLLM's FastAPI app reads it, in its order.

1. FastAPI parses a non-empty body as JSON when there is no ``Content-Type`` or it is
   ``application/json`` or ``application/*+json``; a syntax error is a 400
   ``json_invalid`` (with Python's ``json`` position and message), a body that is not
   UTF-8 a 400 ``{"detail": "There was an error parsing the body"}``.
2. vLLM's ``validate_json_request`` then insists on exactly ``application/json``
   (parameters after ``;`` allowed): anything else, a missing header included, is a 400
   "Unsupported Media Type".
3. An empty body, or ``null``, is a missing body (``loc ('body',)``).

orjson parses; only a body it refuses is parsed again with Python's ``json`` (what
FastAPI uses), so the answer matches vLLM's - and ``NaN`` or ``Infinity`` are accepted as
Python accepts them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from simulator.validation import lax
from simulator.validation.errors import (
    body_unreadable,
    request_invalid,
    unsupported_media_type,
)

_JSON = "application/json"


def _parses_json(content_type: str | None) -> bool:
    """FastAPI's test (through ``email.message``): is this body JSON?"""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].lower().strip()
    if kind.count("/") != 1:
        return False
    main, sub = kind.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _python_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise request_invalid(
            [
                lax.error(
                    "json_invalid", ("body", exc.pos), "JSON decode error", {}, {"error": exc.msg}
                )
            ]
        ) from None
    except (UnicodeDecodeError, RecursionError, ValueError):
        raise body_unreadable() from None


def load_body(body: bytes, content_type: str | None) -> Any:
    """The parsed body (any JSON value but ``null``), or the :class:`VLLMError` vLLM
    answers before looking at any field."""
    if content_type == _JSON and body:
        # The common case, at once (same steps, same answers).
        try:
            data: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = _python_json(body)
        if data is None:
            raise request_invalid([lax.missing(("body",), None)])
        return data
    data = None
    if body and _parses_json(content_type):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = _python_json(body)
    if content_type is None or content_type.lower().split(";", 1)[0] != _JSON:
        raise unsupported_media_type()
    if data is None:
        raise request_invalid([lax.missing(("body",), None)])
    return data
