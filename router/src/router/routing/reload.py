"""Reloading the catalog without a restart: when its file changes, or on SIGHUP.

The watcher polls the file's modification time, size and inode every
``ROUTER_CATALOG_POLL_SECONDS`` (0 turns polling off) and reloads on any change; SIGHUP
reloads at once, changed or not. The reload itself (validate, build, swap) is the
callback's: a catalog that fails validation is refused with one log line and the
running one stays in force. An editor's half-written file is refused the same way, and
the next change, when the write completes, is picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from gateway_shared.tier.tasks import cancel

log = logging.getLogger("router.catalog")

Signature = tuple[int, int, int] | None


def file_signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class CatalogWatcher:
    def __init__(self, path: Path, reload: Callable[[], bool], poll_seconds: float) -> None:
        self.path = path
        self._reload = reload
        self._poll = poll_seconds
        self._signature = file_signature(path)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._signal = False

    def start(self, *, handle_sighup: bool = True) -> None:
        if handle_sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.trigger)
            self._signal = True
        self._task = asyncio.create_task(self._run(), name="catalog-watcher")

    def trigger(self) -> None:
        """Reload now (SIGHUP)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            forced = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll if self._poll > 0 else None):
                    await self._wake.wait()
                    forced = True
            self._wake.clear()
            signature = file_signature(self.path)
            if forced or signature != self._signature:
                self._signature = signature
                if forced:
                    log.info("SIGHUP: reloading the model catalog %s", self.path)
                self._reload()

    async def aclose(self) -> None:
        if self._signal:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal = False
        await cancel(self._task)
        self._task = None
