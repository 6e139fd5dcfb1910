"""The Responses API through every tier, with the official OpenAI SDK: whole answers,
streams with the exact event order, the stateless refusals, limits and billing like
chat. (Tool round trips, the Agents SDK and Codex CLI: tests/test_responses_clients.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled

from gateway_cli.stack import Stack
from tests.conftest import create_key
from tests.support.openapi import schema_errors, stream_event_component
from tests.support.waiting import wait_until


@pytest.mark.parametrize("alias", ["sim-chat", "sim-native"])
def test_a_whole_answer_is_a_valid_response(client: openai.OpenAI, alias: str) -> None:
    response = client.responses.create(
        model=alias, input="Hello there", instructions="Be brief.", max_output_tokens=20
    )
    assert schema_errors("Response", response.model_dump(mode="json", exclude_unset=True)) == []
    assert response.status == "completed"
    assert response.output_text.strip()
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert response.usage.input_tokens > 0


def _events(stack: Stack, api_key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """A stream's events as the gateway sent them (the SDK adds fields of its own)."""
    auth = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=auth, timeout=30) as http:
        answer = http.post("/responses", json=body | {"stream": True})
    assert answer.headers["content-type"].startswith("text/event-stream")
    return [
        orjson.loads(line.removeprefix("data: "))
        for line in answer.text.splitlines()
        if line.startswith("data: ")
    ]


@pytest.mark.parametrize("alias", ["sim-chat", "sim-native"])
def test_a_stream_is_the_exact_event_sequence(
    client: openai.OpenAI, stack: Stack, api_key: str, alias: str
) -> None:
    events = _events(stack, api_key, {"model": alias, "input": "Count"})
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event["type"]
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"]["output"] == [events[-2]["item"]]
    # And the SDK's stream helper reads it to the same text.
    with client.responses.stream(model=alias, input="Count") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert stream.get_final_response().output_text == deltas != ""


def test_whatever_needs_stored_state_is_refused_saying_so(stack: Stack, api_key: str) -> None:
    auth = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=stack.base_url, headers=auth, timeout=30) as http:
        chained = http.post(
            "/responses",
            json={"model": "sim-chat", "input": "and then?", "previous_response_id": "resp_1"},
        )
        stored = http.get("/responses/resp_1")
        deleted = http.delete("/responses/resp_1")
    assert chained.status_code == 400
    assert chained.json()["error"]["param"] == "previous_response_id"
    assert "stateless" in chained.json()["error"]["message"]
    for answer in (stored, deleted):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "response_not_found"
        assert "stateless" in answer.json()["error"]["message"]
        assert answer.headers["x-request-id"].startswith("req_")


def test_what_codex_and_the_agents_sdk_send_is_never_refused(client: openai.OpenAI) -> None:
    codex_like: dict[str, Any] = {
        "model": "sim-chat",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "You are a coding agent."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "strict": False,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "web_search", "external_web_access": False},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
        "text": {"verbosity": "low"},
    }  # fmt: skip
    response = client.responses.create(**codex_like, extra_body={"client_metadata": {"x": "1"}})
    assert response.status == "completed"


def test_an_agent_without_tools_runs_to_its_final_output(stack: Stack, api_key: str) -> None:
    # The Agents SDK sends `tools: []` and `include: []` for such an agent; OpenAI takes them.
    set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=stack.base_url, api_key=api_key, max_retries=0)
    agent = Agent(
        name="assistant",
        instructions="Answer briefly.",
        model=OpenAIResponsesModel(model="sim-chat", openai_client=client),
    )
    result = Runner.run_sync(agent, "Hello")
    assert isinstance(result.final_output, str)
    assert result.final_output.strip()


def test_limits_and_billing_are_the_same_as_chat(stack: Stack) -> None:
    key = create_key(stack, "responses-billing", "--rpm", "100", "--tpm", "100000")
    client = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0)
    raw = client.responses.with_raw_response.create(
        model="sim-chat", input="bill me", max_output_tokens=16
    )
    assert raw.headers["x-ratelimit-limit-requests"] == "100"
    assert raw.headers["x-request-id"].startswith("req_")
    response = raw.parse()
    assert response.usage is not None
    with client.responses.stream(model="sim-chat", input="and me", max_output_tokens=17) as stream:
        streamed = stream.get_final_response()
    assert streamed.usage is not None
    served = (response.usage.input_tokens + response.usage.output_tokens) + (
        streamed.usage.input_tokens + streamed.usage.output_tokens
    )

    def usage() -> dict[str, Any]:
        got: dict[str, Any] = httpx.get(
            stack.base_url + "/usage", headers={"authorization": f"Bearer {key}"}
        ).json()["day"]
        return got

    day = wait_until(lambda: usage() if usage()["requests"] == 2 else None, timeout=10)
    assert day["prompt_tokens"] + day["completion_tokens"] == served
    assert day["charged_and_reserved_tokens"] == served


def test_a_client_that_leaves_mid_stream_is_billed_and_frees_its_slot(
    stack: Stack, simulator: httpx.Client
) -> None:
    key = create_key(stack, "responses-leaver", "--max-concurrent", "1")
    simulator.put("/admin/config", json={"itl_ms": 50, "output_tokens": 40}).raise_for_status()
    auth = {"authorization": f"Bearer {key}"}
    body = {"model": "sim-chat", "input": "long answer", "stream": True}
    with httpx.Client(base_url=stack.base_url, headers=auth, timeout=30) as http:
        with http.stream("POST", "/responses", json=body) as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines():
                if "output_text.delta" in line:
                    break  # leave with most of the answer still to come

        def served() -> bool:
            day = http.get("/usage").json()["day"]
            return bool(day["requests"] == 1 and day["charged_and_reserved_tokens"] > 0)

        wait_until(served, timeout=10, what="the abandoned stream settled")
        # The slot came back: the next request is admitted at once.
        again = http.post("/responses", json={"model": "sim-chat", "input": "x"})
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sim-chat"}, "input"),
        ({"model": "sim-chat", "input": 3}, "input"),
        ({"model": "sim-chat", "input": "x", "temperature": "hot"}, "temperature"),
        ({"model": "sim-chat", "input": "x", "max_output_tokens": 8}, "max_output_tokens"),
        ({"model": "sim-chat", "input": "x", "text": {"format": {"type": "yaml"}}},
         "text.format.type"),
    ],
)  # fmt: skip
def test_bad_bodies_are_400_naming_the_field(
    stack: Stack, api_key: str, body: dict[str, Any], param: str
) -> None:
    answer = httpx.post(
        stack.base_url + "/responses", json=body, headers={"authorization": f"Bearer {api_key}"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
