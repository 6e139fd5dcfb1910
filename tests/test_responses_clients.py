"""Tool round trips on the Responses API through every tier, with real clients: the
openai SDK (``function_call`` -> ``function_call_output`` -> final text, whole and
streamed) and the openai-agents SDK running an agent with one function tool to its final
output. Each on ``sim-chat`` (the router translates to chat completions) and on
``sim-native`` (the simulator's own ``/v1/responses``); every answer and stream event is
checked against OpenAI's OpenAPI schemas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import orjson
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from agents.items import ToolCallItem, ToolCallOutputItem

from gateway_cli.stack import Stack
from tests.support.openapi import schema_errors, stream_event_component

ALIASES = ["sim-chat", "sim-native"]
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
        "additionalProperties": False,
    },
    "strict": True,
}
ASK = "What is the weather in Paris? Use get_weather."


def _valid(response: openai.types.responses.Response) -> openai.types.responses.Response:
    body = response.model_dump(mode="json", exclude_unset=True)
    assert schema_errors("Response", body) == []
    return response


@pytest.mark.parametrize("alias", ALIASES)
def test_a_tool_round_trip(client: openai.OpenAI, alias: str) -> None:
    first = _valid(client.responses.create(model=alias, input=ASK, tools=[WEATHER]))
    calls = [item for item in first.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_weather"]
    # The simulator's arguments follow the tool's schema.
    assert json.loads(calls[0].arguments) == {"city": "sim", "days": 1}
    assert first.status == "completed"

    replay: list[Any] = [{"role": "user", "content": ASK}, *first.output]
    replay.append({"type": "function_call_output", "call_id": calls[0].call_id,
                   "output": "Sunny, 21 C"})  # fmt: skip
    final = _valid(client.responses.create(model=alias, input=replay, tools=[WEATHER]))
    assert [item.type for item in final.output] == ["message"]
    assert final.output_text.strip()
    assert final.usage is not None
    assert final.usage.input_tokens > first.usage.input_tokens  # type: ignore[union-attr]


def _events(stack: Stack, api_key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    auth = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=auth, timeout=30) as http:
        answer = http.post("/responses", json=body | {"stream": True})
    assert answer.status_code == 200, answer.text
    events = [
        orjson.loads(line.removeprefix("data: "))
        for line in answer.text.splitlines()
        if line.startswith("data: ")
    ]
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


@pytest.mark.parametrize("alias", ALIASES)
def test_a_streamed_tool_call_is_the_exact_event_sequence(
    stack: Stack, api_key: str, alias: str
) -> None:
    events = _events(stack, api_key, {"model": alias, "input": ASK, "tools": [WEATHER]})
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert events[2]["item"]["type"] == "function_call"
    assert events[2]["item"]["name"] == "get_weather"
    assert set(kinds[3:-3]) == {"response.function_call_arguments.delta"}
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    streamed = "".join(e["delta"] for e in events if e["type"].endswith("arguments.delta"))
    assert json.loads(streamed) == {"city": "sim", "days": 1}
    assert events[-1]["response"]["output"] == [events[-2]["item"]]
    assert events[-2]["item"]["arguments"] == streamed


@pytest.mark.parametrize("alias", ALIASES)
def test_reasoning_asked_for_comes_back_first_and_is_counted(
    client: openai.OpenAI, stack: Stack, api_key: str, alias: str
) -> None:
    body: dict[str, Any] = {"model": alias, "input": "Think first.", "reasoning": {"effort": "low"}}
    response = _valid(client.responses.create(**body))
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    kinds = [e["type"] for e in _events(stack, api_key, body)]
    assert kinds.index("response.reasoning_text.delta") < kinds.index("response.output_text.delta")


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


@pytest.mark.parametrize("alias", ALIASES)
def test_an_agent_with_one_function_tool_runs_to_its_final_output(
    stack: Stack, api_key: str, alias: str
) -> None:
    # openai-agents runs an asyncio loop of its own: its own async client, closed with it.
    model = OpenAIResponsesModel(
        model=alias,
        openai_client=openai.AsyncOpenAI(base_url=stack.base_url, api_key=api_key, max_retries=0),
    )
    agent = Agent(name="weather", instructions="Answer briefly.", tools=[get_weather], model=model)
    result = Runner.run_sync(agent, ASK, run_config=RunConfig(tracing_disabled=True))
    calls = [item for item in result.new_items if isinstance(item, ToolCallItem)]
    outputs = [item for item in result.new_items if isinstance(item, ToolCallOutputItem)]
    assert len(calls) == 1
    assert [o.output for o in outputs] == ["Sunny in sim"]
    assert isinstance(result.final_output, str)
    assert result.final_output.strip()
    for response in result.raw_responses:
        assert response.usage.output_tokens > 0
