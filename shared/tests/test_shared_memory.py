"""Freed heap memory goes back to the system (glibc's malloc_trim)."""

from __future__ import annotations

import pytest

from gateway_shared.tier import memory


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(memory._MALLOC_TRIM is None, reason="this C library has no malloc_trim")
def test_freed_holes_in_the_heap_are_released() -> None:
    # 64 KB blocks come from the heap (below glibc's mmap threshold); freeing every other
    # one leaves holes that glibc keeps mapped on its own.
    blocks = [bytearray(64 * 1024) for _ in range(1000)]
    del blocks[::2]
    before = _rss_kb()
    assert memory.release_free_memory()
    assert before - _rss_kb() > 16 * 1024  # of the ~32 MB freed
    assert len(blocks) == 500
