"""Redis calls are timed and counted by kind of failure; log lines are JSON."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_shared.observability import Tracing
from gateway_shared.observability.logs import JsonFormatter
from gateway_shared.observability.redis_calls import RedisCalls


def _value(registry: CollectorRegistry, line_start: str) -> float:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(line_start)


def test_calls_are_counted_and_failures_reraised_by_kind() -> None:
    registry = CollectorRegistry()
    calls = RedisCalls(registry, Tracing(), ("admit", "settle"))
    # Declared operations exist at zero before any call.
    assert _value(registry, 'gateway_redis_errors_total{error="timeout",operation="settle"}') == 0
    with calls.observe("admit", "EVALSHA"):
        pass
    for exc in (RedisTimeoutError("t"), RedisConnectionError("c"), ValueError("v")):
        with pytest.raises(type(exc)), calls.observe("admit", "EVALSHA"):
            raise exc
    assert _value(registry, 'gateway_redis_call_duration_seconds_count{operation="admit"}') == 4
    for kind in ("timeout", "connection", "other"):
        assert (
            _value(registry, f'gateway_redis_errors_total{{error="{kind}",operation="admit"}}') == 1
        )


def test_log_lines_are_json_with_the_request_fields() -> None:
    formatter = JsonFormatter("edge")
    record = logging.LogRecord("gateway.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"route": "/v1/chat/completions", "status": 200, "key_name": "team-a"}
    line = orjson.loads(formatter.format(record))
    assert (line["service"], line["level"], line["message"]) == ("edge", "info", "request")
    assert (line["route"], line["key_name"]) == ("/v1/chat/completions", "team-a")
    assert line["ts"].endswith("Z")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = orjson.loads(formatter.format(record))
    assert line["exc_type"] == "RuntimeError"
    assert "Traceback" in line["exc"]
