"""Logs: JSON lines; one per request per tier with its trace id, request id, key name,
model, status, tokens and latency; never a key; no tracebacks for expected failures."""

from __future__ import annotations

import re
from typing import Any

import orjson

from tests.observability.conftest import TIERS, ObservedStack
from tests.observability.traffic import PRICED, Traffic
from tests.support.waiting import wait_until

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _lines(observed: ObservedStack, tier: str) -> list[dict[str, Any]]:
    text = observed.stack.services[tier].log_path.read_text()
    lines = []
    for raw in text.splitlines():
        if raw.strip():
            lines.append(orjson.loads(raw))  # every line is one JSON object
    return lines


def _access(observed: ObservedStack, tier: str) -> list[dict[str, Any]]:
    return [line for line in _lines(observed, tier) if line["logger"] == "gateway.access"]


def test_one_json_line_per_request_with_its_fields(
    observed: ObservedStack, traffic: Traffic
) -> None:
    last = traffic.request_ids[-1]
    wait_until(
        lambda: any(line.get("request_id") == last for line in _access(observed, "policy")),
        timeout=10,
        what="the last request's log line",
    )
    edge = _access(observed, "edge")
    by_request: dict[str, list[dict[str, Any]]] = {}
    for line in edge:
        if "request_id" in line:
            by_request.setdefault(line["request_id"], []).append(line)
    for request_id in traffic.request_ids:
        assert len(by_request.get(request_id, [])) == 1, request_id

    for line in edge:
        assert {
            "ts",
            "level",
            "service",
            "message",
            "method",
            "route",
            "status",
            "duration_ms",
        } <= set(line)
        assert line["service"] == "edge"
    answered = [
        line
        for line in edge
        if line["route"] == "/v1/chat/completions"
        and line["status"] == 200
        and "request_id" in line
        # A cache hit never reaches the router: no provider time, no overhead to log.
        and line["key_name"] != "obs-cached"
    ]
    assert answered
    for line in answered:
        assert HEX32.match(line["trace_id"])
        assert line["key_name"].startswith("obs-")
        assert line["model"] in ("sim-chat", PRICED)
        assert line["duration_ms"] > 0
        assert line["overhead_ms"] >= 0
        assert line["provider_ms"] > 0
        if not line.get("stream"):
            assert line["prompt_tokens"] > 0
            assert line["completion_tokens"] > 0

    # Policy settles every request, streams included: its lines carry the tokens.
    # (less the cache's hit, which policy answers itself and settles nothing for)
    policy = [
        line
        for line in _access(observed, "policy")
        if line["route"] == "/v1/chat/completions"
        and line["status"] == 200
        and line.get("key_name") != "obs-cached"
    ]
    assert len(policy) >= traffic.count(200) - 10  # less models, embeddings and the cache
    for line in policy:
        assert line["prompt_tokens"] > 0
        assert line["completion_tokens"] >= 0
    (failed,) = [line for line in _access(observed, "router") if line["status"] == 502]
    assert failed["attempts"] == 3
    assert failed["error_code"] == "provider_unavailable"
    # How its last attempt ended, in the words of its metric's outcome and its span's error.type.
    assert failed["outcome"] == "unavailable"

    rejected = [line for line in edge if line["status"] == 429]
    assert {line["error_code"] for line in rejected} == {
        "rate_limit_exceeded",
        "insufficient_quota",
    }


def test_no_key_and_no_traceback_in_any_log(observed: ObservedStack, traffic: Traffic) -> None:
    assert traffic.count(401)
    assert traffic.count(502)
    assert traffic.count(429)
    for tier in (*TIERS, "simulator"):
        text = observed.stack.services[tier].log_path.read_text()
        assert "sk-gw-" not in text, tier
        for key in observed.keys.values():
            assert key not in text
        assert "Traceback" not in text, tier
        for line in _lines(observed, tier):
            assert "exc" not in line, line
