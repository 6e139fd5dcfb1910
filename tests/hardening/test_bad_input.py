"""Every class of bad input gets its status and an OpenAI error - never a 5xx - and leaves
the caller's usage untouched. Each case's status and code are read from the table in
docs/security.md, so the document cannot drift from what is proven."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
CHAT = "/chat/completions"
OK_MESSAGES = [{"role": "user", "content": "hi"}]


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    send: Callable[[httpx.Client, str], httpx.Response]


def _post(body: object, **kw: object) -> Callable[[httpx.Client, str], httpx.Response]:
    def send(client: httpx.Client, key: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", **kw.pop("headers", {})}  # type: ignore[dict-item]
        if isinstance(body, bytes):
            return client.post(
                CHAT, content=body, headers=headers | {"content-type": "application/json"}
            )
        return client.post(CHAT, json=body, headers=headers)

    return send


def _raw(method: str, path: str, **kw: object) -> Callable[[httpx.Client, str], httpx.Response]:
    def send(client: httpx.Client, key: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}", **kw.get("headers", {})}  # type: ignore[dict-item]
        return client.request(method, path, headers=headers, content=kw.get("content"))  # type: ignore[arg-type]

    return send


def _deep(levels: int) -> bytes:
    return (
        b'{"model": "sim-chat", "messages": [{"role": "user"}], "x": '
        + b"[" * levels
        + b"]" * levels
        + b"}"
    )


CASES = [
    Case(
        "no API key",
        401,
        lambda c, _: c.post(CHAT, json={"model": "sim-chat", "messages": OK_MESSAGES}),
    ),
    Case(
        "malformed API key",
        401,
        lambda c, _: c.post(
            CHAT,
            json={"model": "sim-chat", "messages": OK_MESSAGES},
            headers={"authorization": "Bearer nope"},
        ),
    ),
    Case(
        "unknown API key of the right shape",
        401,
        lambda c, _: c.post(
            CHAT,
            json={"model": "sim-chat", "messages": OK_MESSAGES},
            headers={"x-api-key": "sk-gw-" + "A" * 43},
        ),
    ),
    Case("malformed JSON", 400, _post(b'{"model": "sim-chat", "messages": [')),
    Case("invalid UTF-8 in the body", 400, _post(b'{"model": "sim-chat\xff\xfe", "messages": []}')),
    Case("empty body", 400, _post(b"")),
    Case("body not an object", 400, _post([1, 2])),
    Case("missing model", 400, _post({"messages": OK_MESSAGES})),
    Case("model of the wrong type", 400, _post({"model": 7, "messages": OK_MESSAGES})),
    Case("messages not an array", 400, _post({"model": "sim-chat", "messages": "hi"})),
    Case(
        "message without a role", 400, _post({"model": "sim-chat", "messages": [{"content": "x"}]})
    ),
    Case(
        "too many messages (> 2048)",
        400,
        _post({"model": "sim-chat", "messages": OK_MESSAGES * 2049}),
    ),
    Case("JSON nested deeper than 32 levels", 400, _post(_deep(40))),
    Case(
        "max_tokens of the wrong type",
        400,
        _post({"model": "sim-chat", "messages": OK_MESSAGES, "max_tokens": "10"}),
    ),
    Case(
        "max_tokens out of range",
        400,
        _post({"model": "sim-chat", "messages": OK_MESSAGES, "max_tokens": 0}),
    ),
    Case(
        "n out of range (> 128)",
        400,
        _post({"model": "sim-chat", "messages": OK_MESSAGES, "n": 129}),
    ),
    Case(
        "stream not a boolean",
        400,
        _post({"model": "sim-chat", "messages": OK_MESSAGES, "stream": "yes"}),
    ),
    Case(
        "body over 4 MiB",
        413,
        _post(
            {
                "model": "sim-chat",
                "messages": [{"role": "user", "content": "x" * (4 * 1024 * 1024)}],
            }
        ),
    ),
    Case(
        "Content-Type not JSON",
        415,
        _raw("POST", CHAT, content=b"model=sim-chat", headers={"content-type": "text/plain"}),
    ),
    Case("headers over 16 KiB", 431, _raw("GET", "/models", headers={"x-filler": "f" * 17_000})),
    Case("unknown model", 404, _post({"model": "no-such-model", "messages": OK_MESSAGES})),
    Case("unknown path", 404, _raw("GET", "/admin")),
    Case("wrong method", 405, _raw("DELETE", CHAT)),
]


@pytest.fixture(scope="module")
def fresh_key(stack: Stack) -> str:
    return create_key(stack, "bad-input")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(stack: Stack, fresh_key: str, case: Case) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        response = case.send(client, fresh_key)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    row = re.search(
        rf"^\| {re.escape(case.name)} \| {case.status} \| `(\w+)` \|", DOC.read_text(), re.M
    )
    assert row, f"docs/security.md has no row for {case.name!r} with status {case.status}"
    assert error["code"] == row.group(1)


def test_rejected_requests_leave_usage_unchanged(stack: Stack, fresh_key: str) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        for case in CASES:
            case.send(client, fresh_key)
        usage = client.get("/usage", headers={"authorization": f"Bearer {fresh_key}"}).json()
    assert usage["day"]["requests"] == 0
    assert usage["day"]["charged_and_reserved_tokens"] == 0
    assert usage["day"]["by_model"] == {}
