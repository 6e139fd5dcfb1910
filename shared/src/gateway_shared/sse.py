"""Server-sent events as the tiers relay them: framing and error events.

Streams pass through untouched except at event boundaries: a tier that must look at
events (router strips the usage chunk a client did not ask for; policy reads the usage
trailer, ``wire.report``) frames the bytes into whole events and forwards each batch as
soon as it is complete, so framing never delays a chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


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
