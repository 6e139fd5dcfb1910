"""Logging helpers for failures that repeat: one line per interval, not one per request."""

from __future__ import annotations

import logging
import time


class ThrottledLog:
    """Logs a warning at most once per ``interval`` seconds, with how many were held back."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._next = 0.0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next:
            self._suppressed += 1
            return
        if self._suppressed:
            message += f" ({self._suppressed} similar in the last {self._interval:g}s)"
        self._logger.warning(message, *args)
        self._suppressed = 0
        self._next = now + self._interval
