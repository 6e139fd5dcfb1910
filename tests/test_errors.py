"""Bad keys and bad input get OpenAI-shaped errors with the right status - never a 500."""

from __future__ import annotations

import httpx
import openai
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key, gateway_cli
from tests.support.waiting import wait_until

CHAT = {"model": "sim-chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _assert_openai_error(response: httpx.Response, status: int, code: str | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code


def test_missing_key(stack: Stack) -> None:
    response = httpx.post(stack.base_url + "/chat/completions", json=CHAT)
    _assert_openai_error(response, 401, "invalid_api_key")


def test_wrong_key_with_sdk(stack: Stack) -> None:
    client = openai.OpenAI(base_url=stack.base_url, api_key="sk-gw-" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(**CHAT)


def test_key_accepted_in_x_api_key_header(stack: Stack, api_key: str) -> None:
    response = httpx.post(
        stack.base_url + "/chat/completions", json=CHAT, headers={"x-api-key": api_key}
    )
    assert response.status_code == 200, response.text


def test_revoked_key_stops_working_within_cache_bound(stack: Stack) -> None:
    key = create_key(stack, "to-revoke")
    client = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0)
    client.chat.completions.create(**CHAT)
    gateway_cli(stack, "keys", "revoke", "to-revoke")

    def rejected() -> bool:
        try:
            client.chat.completions.create(**CHAT)
        except openai.AuthenticationError:
            return True
        return False

    # Documented bound: EDGE_KEY_CACHE_SECONDS (5 s) after the CLI writes Redis.
    wait_until(rejected, timeout=8, interval=0.2, what="revoked key rejected")


def test_keys_list_never_shows_a_key(stack: Stack, api_key: str) -> None:
    listing = gateway_cli(stack, "keys", "list")
    assert "tests" in listing
    assert api_key not in listing
    assert "sk-gw-" not in listing


def test_malformed_json(stack: Stack, api_key: str) -> None:
    response = httpx.post(
        stack.base_url + "/chat/completions",
        content=b'{"model": "sim-chat", "messages": [',
        headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
    )
    _assert_openai_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": 42, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "sim-chat", "messages": "hello"}, "messages"),
        (
            {"model": "sim-chat", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
            "stream",
        ),
        (
            {
                "model": "sim-chat",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": "9",
            },
            "max_tokens",
        ),
        ({"model": "sim-chat"}, "messages"),
        ([1, 2, 3], "body"),
    ],
)
def test_wrong_types_are_400(stack: Stack, api_key: str, body: object, param: str) -> None:
    response = httpx.post(
        stack.base_url + "/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
    )
    _assert_openai_error(response, 400, None)
    assert response.json()["error"]["param"] == param


def test_wrong_type_through_sdk_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="sim-chat", messages="not a list")  # type: ignore[arg-type]


def test_body_over_limit_is_413(stack: Stack, api_key: str) -> None:
    huge = "x" * (5 * 1024 * 1024)
    response = httpx.post(
        stack.base_url + "/chat/completions",
        json={"model": "sim-chat", "messages": [{"role": "user", "content": huge}]},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    _assert_openai_error(response, 413, "request_too_large")


def test_chunked_body_over_limit_is_413(stack: Stack, api_key: str) -> None:
    def body() -> object:
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    response = httpx.post(
        stack.base_url + "/chat/completions",
        content=body(),
        headers={"authorization": f"Bearer {api_key}", "content-type": "application/json"},
        timeout=30,
    )
    _assert_openai_error(response, 413, "request_too_large")


def test_non_json_content_type_is_415(stack: Stack, api_key: str) -> None:
    response = httpx.post(
        stack.base_url + "/chat/completions",
        content=b"model=sim-chat",
        headers={
            "authorization": f"Bearer {api_key}",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    _assert_openai_error(response, 415, "unsupported_media_type")


def test_unknown_path_and_method(stack: Stack, api_key: str) -> None:
    headers = {"authorization": f"Bearer {api_key}"}
    _assert_openai_error(httpx.get(stack.base_url + "/nope", headers=headers), 404, "unknown_url")
    _assert_openai_error(
        httpx.get(stack.base_url + "/chat/completions", headers=headers), 405, "method_not_allowed"
    )
