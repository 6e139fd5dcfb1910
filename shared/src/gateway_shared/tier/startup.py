"""What a tier's process says as it starts: one line when it is ready to serve, and one
readable line, never a traceback, when a configuration mistake stops it.

A lifespan that finds the configuration unusable (a bad model catalog, ...) raises
:class:`ConfigurationError`; its message is the whole story. A lifespan may set
``app.state.summary`` (a short text: the router's catalog size) for the ready line.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from uvicorn.lifespan.on import LifespanOn

from gateway_shared.observability.logs import LIFECYCLE_LOGGER


class ConfigurationError(Exception):
    """A mistake in what the operator configured: the message names it and what to change."""


def package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def announce_ready(service: str, host: str, port: int, summary: str | None) -> None:
    """The one line a tier logs once it listens: its version, address and summary."""
    release = package_version(service)
    message = f"{service} {release} ready on http://{host}:{port}"
    if summary:
        message += f"; {summary}"
    fields = {"version": release, "host": host, "port": port}
    logging.getLogger(LIFECYCLE_LOGGER).info(message, extra={"fields": fields})


class ReadableLifespan(LifespanOn):
    """uvicorn's lifespan, except that a start stopped by a :class:`ConfigurationError`
    logs that error's message alone (Starlette hands uvicorn the whole traceback), as the
    process's last line: what a reader of the log's end (``gateway dev``) sees."""

    mistake: str | None = None

    async def send(self, message: Any) -> None:
        if message["type"] == "lifespan.startup.failed":
            # Starlette sends this from inside its `except` block, so the exception that
            # stopped the start is the one being handled here.
            stopped_by = sys.exc_info()[1]
            if isinstance(stopped_by, ConfigurationError):
                self.mistake = str(stopped_by)
                message = {"type": message["type"]}  # no text: the mistake is told below
        await super().send(message)

    async def startup(self) -> None:
        await super().startup()
        if self.mistake is not None:
            self.logger.error(self.mistake)
