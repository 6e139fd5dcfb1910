"""Timing, counting and tracing the Redis calls a tier makes.

Wrap each call site: ``with calls.observe("admit", "EVALSHA"): await script(...)``. The
operations a tier makes are declared up front, so their series exist (at zero) before
the first call and an error rate reads 0 rather than "no data". Errors are counted by
kind (``timeout``, ``connection``, ``other``) and re-raised untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType

from opentelemetry.trace import Span, SpanKind, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_shared.observability.metrics import REDIS_BUCKETS
from gateway_shared.observability.tracing import Tracing

ERROR_KINDS = ("timeout", "connection", "other")
REDIS_CALL_DURATION = "gateway_redis_call_duration_seconds"
REDIS_ERRORS = "gateway_redis_errors"


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError | ConnectionError):
        return "connection"
    return "other"


class RedisCalls:
    def __init__(
        self,
        registry: CollectorRegistry,
        tracing: Tracing,
        operations: Iterable[str],
        server: tuple[str, int] | None = None,
    ) -> None:
        duration = Histogram(
            REDIS_CALL_DURATION,
            "Redis calls by operation (one call may be a script or a pipeline), "
            "failed ones included.",
            ("operation",),
            buckets=REDIS_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        errors = Counter(
            REDIS_ERRORS,
            "Redis calls that failed, by operation and kind (timeout, connection, other).",
            ("operation", "error"),
            registry=registry,
        )
        self.tracing = tracing
        self.server = server
        self.durations = {op: duration.labels(op) for op in operations}
        self.errors = {
            (op, kind): errors.labels(op, kind) for op in operations for kind in ERROR_KINDS
        }

    def observe(self, operation: str, command: str, *, traced: bool = True) -> RedisCall:
        """``traced=False`` for background work: no root span every few seconds."""
        return RedisCall(self, operation, command, traced)


class RedisCall:
    __slots__ = ("_calls", "_command", "_operation", "_span", "_started", "_traced")

    def __init__(self, calls: RedisCalls, operation: str, command: str, traced: bool) -> None:
        self._calls = calls
        self._operation = operation
        self._command = command
        self._traced = traced
        self._span: Span | None = None
        self._started = 0.0

    def __enter__(self) -> None:
        calls = self._calls
        if self._traced and calls.tracing.enabled:
            attributes: dict[str, str | int] = {
                "db.system.name": "redis",
                "db.operation.name": self._command,
                "gateway.redis.operation": self._operation,
            }
            if calls.server is not None:
                attributes["server.address"], attributes["server.port"] = calls.server
            self._span = calls.tracing.tracer.start_span(
                f"{self._command} {self._operation}", kind=SpanKind.CLIENT, attributes=attributes
            )
        self._started = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        calls = self._calls
        calls.durations[self._operation].observe(time.perf_counter() - self._started)
        failed = exc is not None and isinstance(exc, Exception)
        if failed:
            assert exc is not None
            calls.errors[self._operation, error_kind(exc)].inc()
        span = self._span
        if span is not None:
            if failed:
                assert exc is not None
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(StatusCode.ERROR)
            span.end()


def server_address(redis: Redis | RedisCluster) -> tuple[str, int] | None:
    """Where a client connects (for span attributes), if it is one TCP server (a
    cluster's calls go to the node owning each key's slot: no single address)."""
    if isinstance(redis, RedisCluster):
        return None
    kwargs = redis.connection_pool.connection_kwargs
    host, port = kwargs.get("host"), kwargs.get("port")
    return (str(host), int(port)) if host and port else None
