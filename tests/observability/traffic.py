"""One mix of traffic through the whole stack: answers, streams, every kind of error.

It covers what the dashboards and alerts look at: successes on every inference route
(priced and unpriced), streams (time to first token), 401s, 404s, 400s, 429s for
requests per minute and for a daily quota, provider failures that the router retries
until it gives up (502), a client that leaves in the middle of a stream and a stream
the provider breaks.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from gateway_cli.stack import Stack

CHAT = {"model": "sim-chat", "messages": [{"role": "user", "content": "Hello there"}]}
PRICED = "sim-priced"  # the one alias with prices (conftest's catalog)


@dataclass
class Traffic:
    statuses: list[int] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    # What the availability SLO said before the first provider failure: expr -> value.
    healthy_slo: dict[str, float] = field(default_factory=dict)

    def count(self, status: int) -> int:
        return self.statuses.count(status)


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def drive(
    stack: Stack,
    keys: dict[str, str],
    before_failures: Callable[[Callable[[], None]], dict[str, float]] | None = None,
) -> Traffic:
    """``before_failures`` runs once every client error was sent and no 5xx yet, with a
    function that sends one more successful request; it returns the SLO it saw."""
    traffic = Traffic()
    admin = httpx.Client(base_url=stack.services["simulator"].url, timeout=10)
    client = httpx.Client(base_url=stack.base_url, timeout=30)

    def send(method: str, path: str, key: str | None, **kwargs: object) -> httpx.Response:
        headers = _bearer(key) if key else {}
        response = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        traffic.statuses.append(response.status_code)
        if "x-request-id" in response.headers:
            traffic.request_ids.append(response.headers["x-request-id"])
        return response

    def stream(key: str, body: dict[str, object]) -> int:
        with client.stream(
            "POST", "/chat/completions", headers=_bearer(key), json=body
        ) as response:
            for _ in response.iter_lines():
                pass
            traffic.statuses.append(response.status_code)
            return response.status_code

    plain = keys["plain"]
    try:
        for _ in range(2):
            for _ in range(5):
                assert send("POST", "/chat/completions", plain, json=CHAT).status_code == 200
            # Early, so that its cost counter has samples enough for an hour's increase.
            priced = {**CHAT, "model": PRICED}
            assert send("POST", "/chat/completions", plain, json=priced).status_code == 200
            for i in range(3):
                body = {**CHAT, "stream": True}
                if i == 0:
                    body["stream_options"] = {"include_usage": True}
                assert stream(plain, body) == 200
            body = {"model": "sim-chat", "prompt": "Once upon a time"}
            assert send("POST", "/completions", plain, json=body).status_code == 200
            body = {"model": "sim-embed", "input": ["a", "b"]}
            assert send("POST", "/embeddings", plain, json=body).status_code == 200
            assert send("GET", "/models", plain).status_code == 200
            assert send("GET", "/models/sim-chat", plain).status_code == 200

        # Client errors.
        unknown = "sk-gw-" + secrets.token_urlsafe(32)
        assert send("POST", "/chat/completions", unknown, json=CHAT).status_code == 401
        assert send("POST", "/chat/completions", None, json=CHAT).status_code == 401
        body = {**CHAT, "model": "no-such-model"}
        assert send("POST", "/chat/completions", plain, json=body).status_code == 404
        body = {"model": "sim-chat", "messages": "not a list"}
        assert send("POST", "/chat/completions", plain, json=body).status_code == 400

        # Rate limit (2 requests per minute) and daily quota (120 tokens, 100 reserved each).
        rpm = [send("POST", "/chat/completions", keys["rpm"], json=CHAT) for _ in range(4)]
        assert [r.status_code for r in rpm].count(429) == 2
        quota_body = {**CHAT, "max_tokens": 100}
        quota = [
            send("POST", "/chat/completions", keys["quota"], json=quota_body) for _ in range(4)
        ]
        assert any(
            r.json()["error"]["code"] == "insufficient_quota" for r in quota if r.status_code == 429
        )

        if before_failures is not None:

            def succeed() -> None:
                assert send("POST", "/chat/completions", plain, json=CHAT).status_code == 200

            traffic.healthy_slo = before_failures(succeed)

        # Provider failures: every attempt fails, the router retries, then answers 502.
        admin.put("/admin/config", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
        assert send("POST", "/chat/completions", plain, json=CHAT).status_code == 502
        admin.post("/admin/reset").raise_for_status()

        # A client that leaves in the middle of a stream.
        admin.put("/admin/config", json={"itl_ms": 20, "output_tokens": 200}).raise_for_status()
        body = {**CHAT, "stream": True, "max_tokens": 200}
        with client.stream("POST", "/chat/completions", headers=_bearer(plain), json=body) as r:
            lines = r.iter_lines()
            for _ in range(4):
                next(lines)
        admin.post("/admin/reset").raise_for_status()

        # A provider that breaks a stream after its first tokens (an interrupted stream).
        admin.put("/admin/config", json={"disconnect_after_tokens": 2}).raise_for_status()
        assert stream(plain, {**CHAT, "stream": True}) == 200
        admin.post("/admin/reset").raise_for_status()

        # Fresh successes last, so that every rate window has them.
        for _ in range(5):
            assert send("POST", "/chat/completions", plain, json=CHAT).status_code == 200
        # A cache miss (stored) then its hit; a new seed each drive, so each one stores.
        cached = {**CHAT, "seed": secrets.randbelow(2**31)}
        outcomes = [
            send("POST", "/chat/completions", keys["cached"], json=cached).headers[
                "x-gateway-cache"
            ]
            for _ in range(2)
        ]
        assert outcomes == ["miss", "hit"]
        assert stream(plain, {**CHAT, "stream": True}) == 200
    finally:
        admin.post("/admin/reset")
        admin.close()
        client.close()
    return traffic
