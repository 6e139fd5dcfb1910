"""Anthropic's Messages API through every tier, with the official anthropic SDK: whole
answers, streams in Anthropic's event order, count_tokens, Anthropic's error envelope
and request ids, its rate-limit headers, and billing like chat. (Tool round trips and
Claude Code: tests/test_messages_clients.py.)"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from gateway_cli.stack import Stack
from tests.conftest import create_key
from tests.support.waiting import wait_until

HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def claude(stack: Stack, api_key: str) -> anthropic.Anthropic:
    # base_url without /v1: the SDK adds it, as Claude Code does.
    return anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key=api_key,
                               max_retries=0)  # fmt: skip


@pytest.mark.parametrize("alias", ["sim-chat", "sim-native"])
def test_a_whole_answer(claude: anthropic.Anthropic, alias: str) -> None:
    message = claude.messages.create(model=alias, max_tokens=20, system="Be brief.", messages=HELLO)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text.strip()
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert message._request_id is not None
    assert message._request_id.startswith("req_")


@pytest.mark.parametrize("alias", ["sim-chat", "sim-native"])
def test_a_stream_in_anthropics_event_order(claude: anthropic.Anthropic, alias: str) -> None:
    with claude.messages.stream(model=alias, max_tokens=30, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    raw = [k for k in kinds if k not in ("text", "ping")]  # the SDK's own helper events
    assert raw[0] == "message_start"
    assert raw[1] == "content_block_start"
    assert set(raw[2:-3]) == {"content_block_delta"}
    assert raw[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].type == "text"
    assert final.content[0].text.strip()
    assert final.usage.output_tokens > 0


def test_count_tokens_never_404s(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(
        model="sim-chat", messages=HELLO, system="Be brief.", tools=[]
    )
    assert counted.input_tokens > 0
    longer = claude.messages.count_tokens(model="sim-chat", messages=HELLO * 10)
    assert longer.input_tokens > counted.input_tokens


def test_errors_are_anthropics_with_a_request_id(stack: Stack) -> None:
    base = stack.base_url.removesuffix("/v1")
    bad_key = anthropic.Anthropic(base_url=base, api_key="sk-gw-" + "A" * 43, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad_key.messages.create(model="sim-chat", max_tokens=5, messages=HELLO)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": caught.value.body["error"]["message"]},
    }
    assert caught.value.request_id is not None


def test_an_unknown_model_is_not_found(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="no-such-model", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_a_missing_max_tokens_is_a_400_naming_it(stack: Stack, api_key: str) -> None:
    answer = httpx.post(
        stack.base_url + "/messages?beta=true",
        json={"model": "sim-chat", "messages": HELLO},
        headers={"x-api-key": api_key, "anthropic-version": "2023-06-01"},
    )
    assert answer.status_code == 400
    assert answer.json()["type"] == "error"
    assert "max_tokens" in answer.json()["error"]["message"]
    assert answer.headers["request-id"] == answer.headers["x-request-id"]


def test_limits_headers_and_billing(stack: Stack) -> None:
    key = create_key(stack, "messages-billing", "--rpm", "100", "--tpm", "100000")
    claude = anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key=key,
                                 max_retries=0)  # fmt: skip
    raw = claude.messages.with_raw_response.create(model="sim-chat", max_tokens=9, messages=HELLO)
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "100"
    assert raw.headers["anthropic-ratelimit-tokens-limit"] == "100000"
    assert "T" in raw.headers["anthropic-ratelimit-requests-reset"]  # an RFC 3339 time
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    message = raw.parse()
    served = message.usage.input_tokens + message.usage.output_tokens
    claude.messages.count_tokens(model="sim-chat", messages=HELLO)  # never charged

    def day() -> dict[str, Any]:
        got: dict[str, Any] = httpx.get(
            stack.base_url + "/usage", headers={"x-api-key": key}
        ).json()["day"]
        return got

    settled = wait_until(lambda: day() if day()["requests"] == 1 else None, timeout=10)
    assert settled["charged_and_reserved_tokens"] == served
