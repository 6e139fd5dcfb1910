"""Server-sent events as the tiers relay them: framing, the usage trailer, error events.

Streams pass through untouched except at event boundaries: a tier that must look at
events (router strips the usage chunk a client did not ask for; policy reads the usage
trailer) frames the bytes into whole events and forwards each batch as soon as it is
complete, so framing never delays a chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
# Router's last event on every stream: the tokens used, for policy's accounting.
# An SSE comment, so even a client that received it would ignore it; policy drops it.
USAGE_TRAILER = b": gateway-usage "


class EventFramer:
    """Splits a byte stream into whole SSE events (each ending in a blank line)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        start = 0
        while (end := data.find(b"\n\n", start)) != -1:
            yield data[start : end + 2]
            start = end + 2
        self._pending = data[start:]

    @property
    def pending(self) -> bytes:
        return self._pending


def data_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def usage_trailer(prompt_tokens: int, completion_tokens: int, *, estimated: bool) -> bytes:
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    if estimated:
        usage["estimated"] = 1
    return USAGE_TRAILER + orjson.dumps(usage) + b"\n\n"


def parse_usage_trailer(event: bytes) -> dict[str, int] | None:
    if not event.startswith(USAGE_TRAILER):
        return None
    try:
        usage = orjson.loads(event[len(USAGE_TRAILER) :])
    except orjson.JSONDecodeError:
        return None
    return usage if isinstance(usage, dict) else None
