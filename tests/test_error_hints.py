"""The mistakes a newcomer makes in the first hour each get an answer that says what to
change: in the error envelope of the API called, with the request id to quote."""

from __future__ import annotations

import httpx
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key

CHAT = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
MESSAGES = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _root(stack: Stack) -> str:
    return stack.services["edge"].url


def _assert_error(
    response: httpx.Response, status: int, code: str, hint: str, *, anthropic: bool = False
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    if anthropic:
        assert body["type"] == "error"
        assert set(body["error"]) == {"type", "message"}
        assert response.headers["request-id"].startswith("req_")
        message = body["error"]["message"]
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["code"] == code
        message = body["error"]["message"]
    assert hint in message, message
    assert response.headers["x-request-id"].startswith("req_")
    assert "sk-gw-" not in response.text


def test_a_key_without_bearer_is_named_as_such(stack: Stack, api_key: str) -> None:
    response = httpx.post(
        _root(stack) + "/v1/chat/completions", json=CHAT, headers={"authorization": api_key}
    )
    _assert_error(response, 401, "invalid_api_key", "without the 'Bearer' scheme")


def test_a_key_without_bearer_on_the_messages_api(stack: Stack, api_key: str) -> None:
    response = httpx.post(
        _root(stack) + "/v1/messages", json=MESSAGES, headers={"authorization": api_key}
    )
    _assert_error(response, 401, "invalid_api_key", "without the 'Bearer' scheme", anthropic=True)
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        (
            "/chat/completions",
            "set your client's base URL to the gateway's address followed by /v1",
        ),
        (
            "/v1/v1/chat/completions",
            "The URL has /v1 twice; the gateway serves /v1/chat/completions",
        ),
        ("/v1/chat/completions/", "Remove the trailing slash: the URL is /v1/chat/completions."),
        ("/v1/nothing-here", "Please check the URL and method."),
    ],
)
def test_a_wrong_base_url_gets_a_404_that_says_what_to_change(
    stack: Stack, api_key: str, path: str, hint: str
) -> None:
    response = httpx.post(
        _root(stack) + path, json=CHAT, headers={"authorization": f"Bearer {api_key}"}
    )
    _assert_error(response, 404, "unknown_url", hint)


def test_a_doubled_v1_on_the_messages_api_says_anthropic_clients_add_it(
    stack: Stack, api_key: str
) -> None:
    response = httpx.post(
        _root(stack) + "/v1/v1/messages", json=MESSAGES, headers={"x-api-key": api_key}
    )
    _assert_error(
        response, 404, "unknown_url", "Anthropic's SDKs and Claude Code add /v1", anthropic=True
    )
    assert response.json()["error"]["type"] == "not_found_error"


def test_models_with_a_trailing_slash_is_not_a_model_named_nothing(
    stack: Stack, api_key: str
) -> None:
    response = httpx.get(
        _root(stack) + "/v1/models/", headers={"authorization": f"Bearer {api_key}"}
    )
    _assert_error(response, 404, "unknown_url", "Remove the trailing slash: the URL is /v1/models.")
    assert "does not exist" not in response.text


def test_a_request_that_would_exceed_the_quota_says_would(stack: Stack) -> None:
    key = create_key(stack, "small-quota", "--daily-tokens", "1000")
    response = httpx.post(
        _root(stack) + "/v1/chat/completions",
        json={**CHAT, "max_tokens": 2000},
        headers={"authorization": f"Bearer {key}"},
    )
    _assert_error(response, 429, "insufficient_quota", "more than remains of this key's daily")
    assert "exceeded" not in response.json()["error"]["message"]
    # The quota itself is untouched: a request that fits still gets in.
    fits = httpx.post(
        _root(stack) + "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"}
    )
    assert fits.status_code == 200, fits.text
