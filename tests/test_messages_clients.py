"""Tool round trips on the Messages API through every tier, with the anthropic SDK:
``tool_use`` (``stop_reason == "tool_use"``) -> ``tool_result`` -> final text, whole and
streamed, and thinking when asked for. Each on ``sim-chat`` (the router translates to
chat completions) and on ``sim-native`` (the simulator's own ``/v1/messages``); every
answer and event is read by the SDK's own types, and the event order is checked."""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from gateway_cli.stack import Stack

ALIASES = ["sim-chat", "sim-native"]
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
}
ASK: Any = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
_EVENT = TypeAdapter[RawMessageStreamEvent](RawMessageStreamEvent)


@pytest.fixture
def claude(stack: Stack, api_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key=api_key,
                               max_retries=0)  # fmt: skip


def _create(claude: anthropic.Anthropic, **fields: Any) -> Message:
    raw = claude.messages.with_raw_response.create(max_tokens=200, **fields)
    return Message.model_validate_json(
        raw.http_response.content
    )  # the answer as sent, by the SDK's type


@pytest.mark.parametrize("alias", ALIASES)
def test_a_tool_use_round_trip(claude: anthropic.Anthropic, alias: str) -> None:
    first = _create(claude, model=alias, messages=ASK, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    uses = [block for block in first.content if block.type == "tool_use"]
    assert [use.name for use in uses] == ["get_weather"]
    # The simulator's input follows the tool's schema.
    assert uses[0].input == {"city": "sim", "unit": "celsius"}

    result = {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny, 21 C"}
    turns = [*ASK, {"role": "assistant", "content": first.content},
             {"role": "user", "content": [result]}]  # fmt: skip
    final = _create(claude, model=alias, messages=turns, tools=[WEATHER])
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text.strip()  # type: ignore[union-attr]


@pytest.mark.parametrize("alias", ALIASES)
def test_a_streamed_tool_use_in_anthropics_event_order(
    claude: anthropic.Anthropic, alias: str
) -> None:
    with claude.messages.with_streaming_response.create(
        model=alias, max_tokens=200, messages=ASK, tools=[WEATHER], stream=True
    ) as answer:
        data = [line.removeprefix("data: ") for line in answer.iter_lines()
                if line.startswith("data: ")]  # fmt: skip
    # Pings (keep-alives, not in the SDK's event union) aside, every event is one it reads.
    events = [_EVENT.validate_json(d) for d in data if orjson.loads(d)["type"] != "ping"]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = next(e for e in events if e.type == "content_block_start")
    assert start.content_block.type == "tool_use"
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.delta.stop_reason == "tool_use"
    # And the SDK's stream helper assembles the same call.
    with claude.messages.stream(model=alias, max_tokens=200, messages=ASK, tools=[WEATHER]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].type == "tool_use"
    assert final.content[-1].input == {"city": "sim", "unit": "celsius"}


@pytest.mark.parametrize("alias", ALIASES)
def test_thinking_asked_for_comes_first(claude: anthropic.Anthropic, alias: str) -> None:
    message = _create(
        claude, model=alias, messages=[{"role": "user", "content": "Think first."}],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )  # fmt: skip
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking.strip()  # type: ignore[union-attr]


def test_count_tokens_is_the_providers_count(claude: anthropic.Anthropic) -> None:
    # sim-chat's deployment is vLLM: count_tokens asks its /tokenize for the request as the
    # chat it is translated to, which is what the same request is then billed.
    fields: Any = {"model": "sim-chat", "messages": ASK, "tools": [WEATHER], "system": "Be brief."}
    counted = claude.messages.count_tokens(**fields)
    billed = claude.messages.create(max_tokens=5, tool_choice={"type": "none"}, **fields)
    assert counted.input_tokens == billed.usage.input_tokens
