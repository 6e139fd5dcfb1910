"""Structured logs: one JSON object per line, on stderr, for every logger of a tier; and
:class:`ThrottledLog` for failures that repeat (one line per interval, not per request).

Every line has ``ts`` (UTC), ``level``, ``service``, ``logger`` and ``message``; lines
logged while a traced request runs carry its ``trace_id`` and ``span_id``. The request
log (logger ``gateway.access``, one line per request, written by the middleware with
:func:`write_access_line`) adds the request's fields: see docs/observability.md.
Exceptions appear as ``exc_type`` and, for unexpected ones only, ``exc`` (the traceback):
expected failures are logged without.
"""

from __future__ import annotations

import logging
import sys
import time
from functools import lru_cache
from typing import Any

import orjson
from opentelemetry import trace

ACCESS_LOGGER = "gateway.access"
# A tier's ready line: wanted at any level, like the request log.
LIFECYCLE_LOGGER = "gateway.lifecycle"


@lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _timestamp(created: float) -> str:
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        else:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                doc["trace_id"] = format(context.trace_id, "032x")
                doc["span_id"] = format(context.span_id, "016x")
        if record.exc_info and record.exc_info[0] is not None:
            doc["exc_type"] = record.exc_info[0].__name__
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(service: str, level: str = "warning", *, access_log: bool = True) -> None:
    """Send every logger of the process (uvicorn's included) to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The request log is wanted at any level; it is switched off on its own.
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO if access_log else logging.CRITICAL + 1)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)


def access_logger() -> logging.Logger:
    return logging.getLogger(ACCESS_LOGGER)


def write_access_line(service: str, fields: dict[str, Any]) -> None:
    """Write one request's log line to stderr, in the format of :class:`JsonFormatter`.

    Straight to the stream rather than through a logging handler, which costs several
    times as much, on every request of every tier
    (``uv run python cli/benchmarks/observability_overhead.py``). The ``gateway.access`` logger's
    level still switches it (``configure_logging(access_log=...)``).
    """
    doc = {
        "ts": _timestamp(time.time()),
        "level": "info",
        "service": service,
        "logger": ACCESS_LOGGER,
        "message": "request",
        **fields,
    }
    sys.stderr.write(orjson.dumps(doc).decode() + "\n")


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
