"""Giving freed heap memory back to the system.

glibc keeps the pages of freed memory mapped until it is asked to trim, so without this a
tier's RSS stays at the high-water mark of its startup (imports build much that is then
freed) and of its busiest moment. ``malloc_trim(0)`` releases every free page (what that
gives back: ``uv run gateway bench``'s memory figures, and docs/decisions.md). A call is
cheap, and pages that load needs again cost a page fault each, so each tier runs it once
started and then every ``TRIM_INTERVAL_SECONDS``.
Where the C library has no ``malloc_trim`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

TRIM_INTERVAL_SECONDS = 10.0


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return free heap pages to the system; whether anything was released."""
    return bool(_MALLOC_TRIM(0)) if _MALLOC_TRIM is not None else False


async def release_free_memory_periodically(interval: float = TRIM_INTERVAL_SECONDS) -> None:
    while True:
        release_free_memory()
        await asyncio.sleep(interval)
