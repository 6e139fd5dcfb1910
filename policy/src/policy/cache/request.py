"""What a request tells the cache: how the caller wants it used, and the entry's key.

The key is the SHA-256 of the canonical request: the API (the endpoint), Anthropic's
beta header on the Messages API, and the body with its keys sorted, less the transport
fields that change how the answer is delivered, never what it says. Everything else is
in it - messages or input, the model alias, tools, ``tool_choice``, response formats,
sampling, ``seed``, reasoning settings and any field the gateway does not know - so a
field the cache overlooked can only cause a miss, never a wrong hit.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

import orjson

from gateway_shared.wire.identity import Api

TRANSPORT_FIELDS = frozenset({"stream", "stream_options", "user"})


class Mode(StrEnum):
    """The caller's ``Cache-Control``: use the cache, refresh its entry, or bypass it."""

    USE = "use"
    REFRESH = "refresh"  # no-cache: ask the provider, store the fresh answer
    BYPASS = "bypass"  # no-store: ask the provider, store nothing


def mode(cache_control: str | None) -> Mode:
    directives = {d.strip().lower() for d in (cache_control or "").split(",")}
    if "no-store" in directives:
        return Mode.BYPASS
    if "no-cache" in directives:
        return Mode.REFRESH
    return Mode.USE


def digest(api: Api, body: dict[str, Any], anthropic_beta: str | None) -> str:
    canonical = {k: v for k, v in body.items() if k not in TRANSPORT_FIELDS}
    head = f"{api.value}\n{anthropic_beta or ''}\n".encode()
    return hashlib.sha256(head + orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def wants_usage(body: dict[str, Any]) -> bool:
    """A chat or completions stream that asked for its usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
