"""Responses API requests to chat completions (``providers/responses_request.py``).

Requests rule by rule, and real client bodies (Codex CLI 0.171.0, openai-agents 0.24.0,
captured and trimmed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from router.providers.anthropic_format import request_body
from router.providers.errors import ProviderRejected
from router.providers.responses_request import chat_request
from tests.support.responses_bodies import (
    AGENTS_RUN_REQ1,
    AGENTS_SETTINGS_REQ3,
    AGENTS_STREAM_REQ1,
    CODEX_AFTER_REASONING_TOOL,
    CODEX_COMPACTION,
    CODEX_RESUME,
    CODEX_TURN1,
    DEVELOPER,
    ENVIRONMENT,
    EXEC_COMMAND,
    FN,
    GET_WEATHER,
    NS,
    PERMISSIONS,
    RESUME_AGENT,
    SKILLS,
    VIEW_IMAGE,
    WAIT_AGENT,
    WEB_SEARCH,
    user,
)


def chat_tool(tool: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    function = {k: tool[k] for k in ("description", "parameters", "strict")}
    return {"type": "function", "function": {"name": name or tool["name"], **function}}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


CODEX_SYSTEM = {"role": "system", "content": [text(DEVELOPER), text(SKILLS), text(PERMISSIONS)]}
CODEX_CHAT_TOOLS = [
    chat_tool(EXEC_COMMAND),
    chat_tool(VIEW_IMAGE),
    chat_tool(RESUME_AGENT, "multi_agent_v1__resume_agent"),
    chat_tool(WAIT_AGENT, "multi_agent_v1__wait_agent"),
]


def codex_chat(*messages: dict[str, Any], tools: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": "sim-chat",
        "messages": [CODEX_SYSTEM, {"role": "user", "content": [text(ENVIRONMENT)]}, *messages],
    }
    if tools:
        out |= {"tools": CODEX_CHAT_TOOLS, "tool_choice": "auto", "parallel_tool_calls": True}
    return out | {
        "prompt_cache_key": "01a23268-5b91-7902-8e3c-d066fc1e640b",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


CALL_ECHO = {
    "id": "call_8e645f1b",
    "type": "function",
    "function": {"name": "exec_command", "arguments": '{"cmd": "echo hi"}'},
}


def weather_call(call_id: str) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    return {"id": call_id, "type": "function", "function": function}


SAMPLES = {
    "codex turn 1: developer messages merged, namespace flattened, web_search dropped": (
        CODEX_TURN1,
        codex_chat({"role": "user", "content": [text("say hi")]}),
    ),
    "codex after a tool call: reasoning item dropped": (
        CODEX_AFTER_REASONING_TOOL,
        codex_chat(
            {"role": "user", "content": [text("run echo hi")]},
            {"role": "assistant", "content": None, "tool_calls": [CALL_ECHO]},
            {
                "role": "tool",
                "tool_call_id": "call_8e645f1b",
                "content": "Chunk ID: f080e4\nProcess exited with code 0\nOutput:\nhi\n",
            },
        ),
    ),
    "codex resumed: the assistant's output_text history": (
        CODEX_RESUME,
        codex_chat(
            {"role": "user", "content": [text("say hi")]},
            {"role": "assistant", "content": "hello from capture"},
            {"role": "user", "content": [text("say it again")]},
        ),
    ),
    "codex compaction: tools [] with tool_choice auto sends neither": (
        CODEX_COMPACTION,
        codex_chat(
            {
                "role": "user",
                "content": [text("You are performing a CONTEXT CHECKPOINT COMPACTION.")],
            },
            tools=False,
        ),
    ),
    "agents Runner.run: instructions, a type-less message with string content": (
        AGENTS_RUN_REQ1,
        {
            "model": "sim-chat",
            "messages": [
                {"role": "system", "content": "You are a probe agent."},
                {"role": "user", "content": "weather in Paris?"},
            ],
            "tools": [chat_tool(GET_WEATHER)],
        },
    ),
    "agents Runner.run_streamed": (
        AGENTS_STREAM_REQ1,
        {
            "model": "sim-chat",
            "messages": [
                {"role": "system", "content": "You are a probe agent."},
                {"role": "user", "content": "weather in Paris?"},
            ],
            "tools": [chat_tool(GET_WEATHER)],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    "agents with model settings, third turn": (
        AGENTS_SETTINGS_REQ3,
        {
            "model": "sim-chat",
            "messages": [
                {"role": "system", "content": "You are a probe agent."},
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [weather_call("call_9ad69f9f")],
                },
                {"role": "tool", "tool_call_id": "call_9ad69f9f", "content": "sunny in Paris"},
                {"role": "assistant", "content": "hello from capture"},
                {"role": "user", "content": "and tomorrow?"},
            ],
            "tools": [chat_tool(GET_WEATHER)],
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "verbosity": "low",
            "reasoning_effort": "low",
            "max_completion_tokens": 256,
            "temperature": 0.2,
            "top_p": 0.9,
        },
    ),
}


@pytest.mark.parametrize(("body", "expected"), SAMPLES.values(), ids=SAMPLES.keys())
def test_client_bodies(body: dict[str, Any], expected: dict[str, Any]) -> None:
    original = copy.deepcopy(body)
    assert chat_request(body) == expected
    assert body == original  # the input is not changed


@pytest.mark.parametrize("body", [body for body, _ in SAMPLES.values()], ids=SAMPLES.keys())
def test_client_bodies_translate_on_to_anthropic(body: dict[str, Any]) -> None:
    # Anthropic deployments get the chat request through anthropic_format.
    messages = request_body(chat_request(body), "claude-x", stream=True)
    assert messages["messages"][0]["role"] == "user"
    assert all(isinstance(t["name"], str) for t in messages.get("tools", []))


# --- request rules ---------------------------------------------------------------------

CHAT_FN = {
    "type": "function",
    "function": {"name": "f", "parameters": {"type": "object"}, "strict": True},
}
CHAT_NS_G = {"type": "function", "function": {"name": "ns__g", "description": "G"}}
HOSTED = [
    {"type": "web_search"},
    {"type": "web_search_preview"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "image_generation"},
    {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.example"},
    {
        "type": "computer_use_preview",
        "display_width": 1,
        "display_height": 1,
        "environment": "linux",
    },
    {"type": "local_shell"},
    {"type": "shell"},
    {"type": "apply_patch"},
]
IMAGE = "https://example.com/cat.png"


def fc(call_id: str, name: str = "f", **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": "{}", **extra}


def call(call_id: str, name: str = "f") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def out(call_id: str, output: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


HI = [{"role": "user", "content": "hi"}]

RULES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "string input: one user message": ({"input": "hi"}, {"messages": HI}),
    "instructions and developer messages: one leading system message": (
        {
            "instructions": "a",
            "input": [
                {"role": "developer", "content": "b"},
                {"role": "system", "content": [{"type": "input_text", "text": "c"}]},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": "d"},
            ],
        },
        {
            "messages": [
                {"role": "system", "content": [text("a"), text("b"), text("c")]},
                *HI,
                {"role": "system", "content": "d"},
            ]
        },
    ),
    "user parts: text and images (a string or {url}, with detail)": (
        {
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is it?"},
                        {"type": "input_image", "image_url": IMAGE, "detail": "high"},
                        {"type": "input_image", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        text("what is it?"),
                        {"type": "image_url", "image_url": {"url": IMAGE, "detail": "high"}},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ]
        },
    ),
    "assistant history: output_text and refusal parts become its text": (
        {
            "input": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "I can't", "annotations": []},
                        {"type": "refusal", "refusal": " do that."},
                    ],
                },
                *HI,
            ]
        },
        {"messages": [{"role": "assistant", "content": "I can't do that."}, *HI]},
    ),
    "function calls: the text before and consecutive calls make one assistant message": (
        {
            "input": [
                *HI,
                {"role": "assistant", "content": "Checking."},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                fc("c1"),
                fc("c2"),
                out("c1", "one"),
                out("c2", "two"),
                fc("c3"),
                out("c3", "3"),
            ]
        },
        {
            "messages": [
                *HI,
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [call("c1"), call("c2")],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "one"},
                {"role": "tool", "tool_call_id": "c2", "content": "two"},
                {"role": "assistant", "content": None, "tool_calls": [call("c3")]},
                {"role": "tool", "tool_call_id": "c3", "content": "3"},
            ]
        },
    ),
    "tool output parts: text joined, images after the tool messages": (
        {
            "input": [
                *HI,
                fc("c1"),
                fc("c2"),
                out(
                    "c1",
                    [
                        {"type": "input_text", "text": "a"},
                        {"type": "input_text", "text": "b"},
                        {"type": "input_image", "image_url": IMAGE},
                    ],
                ),
                out("c2", "two"),
                {"role": "user", "content": "next"},
            ]
        },
        {
            "messages": [
                *HI,
                {"role": "assistant", "content": None, "tool_calls": [call("c1"), call("c2")]},
                {"role": "tool", "tool_call_id": "c1", "content": "a\nb"},
                {"role": "tool", "tool_call_id": "c2", "content": "two"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]},
                {"role": "user", "content": "next"},
            ]
        },
    ),
    "a namespaced call in history: its flat name": (
        {"input": [*HI, fc("c1", "g", namespace="ns")], "tools": [NS]},
        {
            "messages": [
                *HI,
                {"role": "assistant", "content": None, "tool_calls": [call("c1", "ns__g")]},
            ],
            "tools": [CHAT_NS_G],
        },
    ),
    "function and namespace tools kept, every built-in tool dropped": (
        {"input": "hi", "tools": [FN, *HOSTED, NS], "parallel_tool_calls": False},
        {"messages": HI, "tools": [CHAT_FN, CHAT_NS_G], "parallel_tool_calls": False},
    ),
    "only built-in tools: no tools, tool_choice or parallel_tool_calls": (
        {"input": "hi", "tools": HOSTED, "tool_choice": "required", "parallel_tool_calls": True},
        {"messages": HI},
    ),
    "tool_choice none/auto/required as is": (
        {"input": "hi", "tools": [FN], "tool_choice": "required"},
        {"messages": HI, "tools": [CHAT_FN], "tool_choice": "required"},
    ),
    "tool_choice function": (
        {"input": "hi", "tools": [FN], "tool_choice": {"type": "function", "name": "f"}},
        {
            "messages": HI,
            "tools": [CHAT_FN],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        },
    ),
    "tool_choice naming a namespace tool's inner name: its flat name": (
        {"input": "hi", "tools": [NS], "tool_choice": {"type": "function", "name": "g"}},
        {
            "messages": HI,
            "tools": [CHAT_NS_G],
            "tool_choice": {"type": "function", "function": {"name": "ns__g"}},
        },
    ),
    "tool_choice of a built-in tool: auto": (
        {"input": "hi", "tools": [FN, WEB_SEARCH], "tool_choice": {"type": "web_search_preview"}},
        {"messages": HI, "tools": [CHAT_FN], "tool_choice": "auto"},
    ),
    "tool_choice mcp: auto": (
        {"input": "hi", "tools": [FN], "tool_choice": {"type": "mcp", "server_label": "deepwiki"}},
        {"messages": HI, "tools": [CHAT_FN], "tool_choice": "auto"},
    ),
    "allowed_tools: only those tools, its mode as the choice": (
        {
            "input": "hi",
            "tools": [FN, {**FN, "name": "h"}, NS],
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [
                    {"type": "function", "name": "h"},
                    {"type": "function", "name": "g"},
                    {"type": "image_generation"},
                ],
            },
        },
        {
            "messages": HI,
            "tools": [
                {"type": "function", "function": {**CHAT_FN["function"], "name": "h"}},
                CHAT_NS_G,
            ],
            "tool_choice": "required",
        },
    ),
    "allowed_tools naming only built-in tools: no tools": (
        {
            "input": "hi",
            "tools": [FN],
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "web_search"}],
            },
        },
        {"messages": HI},
    ),
    "text.format json_schema: response_format": (
        {
            "input": "hi",
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "codex_output_schema",
                    "schema": {"type": "object"},
                    "strict": True,
                    "description": "the answer",
                }
            },
        },
        {
            "messages": HI,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "codex_output_schema",
                    "schema": {"type": "object"},
                    "strict": True,
                    "description": "the answer",
                },
            },
        },
    ),
    "text.format json_object, verbosity": (
        {"input": "hi", "text": {"format": {"type": "json_object"}, "verbosity": "high"}},
        {"messages": HI, "response_format": {"type": "json_object"}, "verbosity": "high"},
    ),
    "text.format text: nothing": (
        {"input": "hi", "text": {"format": {"type": "text"}}},
        {"messages": HI},
    ),
    "reasoning effort; summary ignored; max_output_tokens": (
        {
            "input": "hi",
            "reasoning": {"effort": "high", "summary": "detailed"},
            "max_output_tokens": 99,
        },
        {"messages": HI, "reasoning_effort": "high", "max_completion_tokens": 99},
    ),
    "passed as is; metadata dropped": (
        {
            "input": "hi",
            "temperature": 0.5,
            "top_p": 0.8,
            "user": "u-1",
            "safety_identifier": "s-1",
            "prompt_cache_key": "k-1",
            "service_tier": "flex",
            "metadata": {"k": "v"},
        },
        {
            "messages": HI,
            "temperature": 0.5,
            "top_p": 0.8,
            "user": "u-1",
            "safety_identifier": "s-1",
            "prompt_cache_key": "k-1",
            "service_tier": "flex",
        },
    ),
    "ignored: store, include, truncation, max_tool_calls, stream_options, unknown fields": (
        {
            "input": "hi",
            "store": True,
            "include": ["reasoning.encrypted_content"],
            "truncation": "auto",
            "max_tool_calls": 3,
            "stream_options": {"include_obfuscation": False},
            "prompt_cache_retention": "24h",
            "prompt_cache_options": {},
            "background": False,
            "previous_response_id": None,
            "conversation": None,
            "prompt": None,
            "client_metadata": {"a": "b"},
            "some_future_field": 1,
        },
        {"messages": HI},
    ),
    "top_logprobs: logprobs": (
        {"input": "hi", "top_logprobs": 3},
        {"messages": HI, "logprobs": True, "top_logprobs": 3},
    ),
    "include message.output_text.logprobs: logprobs": (
        {"input": "hi", "include": ["message.output_text.logprobs"]},
        {"messages": HI, "logprobs": True},
    ),
    "stream false": ({"input": "hi", "stream": False}, {"messages": HI, "stream": False}),
}


@pytest.mark.parametrize(("body", "expected"), RULES.values(), ids=RULES.keys())
def test_request_rules(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert chat_request(body) == expected


REFUSED: dict[str, tuple[dict[str, Any], str, str]] = {
    "previous_response_id": (
        {"previous_response_id": "resp_1"},
        "unsupported_value",
        "previous_response_id",
    ),
    "conversation": ({"conversation": "conv_1"}, "unsupported_value", "conversation"),
    "stored prompt": ({"prompt": {"id": "pmpt_1"}}, "unsupported_value", "prompt"),
    "background": ({"background": True}, "unsupported_value", "background"),
    "item_reference": (
        {"input": [user("x"), {"type": "item_reference", "id": "msg_1"}]},
        "unsupported_value",
        "input[1]",
    ),
    "hosted tool call item": (
        {"input": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]},
        "unsupported_value",
        "input[0]",
    ),
    "input_file part": (
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "read"},
                        {"type": "input_file", "file_id": "file_1"},
                    ],
                }
            ]
        },
        "unsupported_value",
        "input[0].content[1]",
    ),
    "image by file_id": (
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        "unsupported_value",
        "input[0].content[0]",
    ),
    "image in a system message": (
        {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": IMAGE}]}]},
        "unsupported_value",
        "input[0].content[0]",
    ),
    "input_file in a tool output": (
        {"input": [fc("c"), out("c", [{"type": "input_file", "file_id": "f"}])]},
        "unsupported_value",
        "input[1].output[0]",
    ),
    "custom tool": (
        {"tools": [{"type": "custom", "name": "apply_patch"}]},
        "unsupported_value",
        "tools[0]",
    ),
    "custom tool in a namespace": (
        {
            "tools": [
                {
                    "type": "namespace",
                    "name": "n",
                    "description": "",
                    "tools": [{"type": "custom", "name": "x"}],
                }
            ]
        },
        "unsupported_value",
        "tools[0].tools[0]",
    ),
    "custom tool_choice": (
        {"tool_choice": {"type": "custom", "name": "x"}},
        "unsupported_value",
        "tool_choice",
    ),
    "text.format of another type": (
        {"text": {"format": {"type": "grammar"}}},
        "unsupported_value",
        "text.format",
    ),
    "duplicate tool names": (
        {"tools": [FN, {"type": "function", "name": "f"}]},
        "invalid_value",
        "tools",
    ),
    "function_call without call_id": (
        {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        "invalid_value",
        "input[0]",
    ),
    "function_call_output without output": (
        {"input": [{"type": "function_call_output", "call_id": "c"}]},
        "invalid_value",
        "input[0]",
    ),
    "a role chat does not have": (
        {"input": [{"role": "tool", "content": "x"}]},
        "invalid_value",
        "input[0]",
    ),
    "no input at all": ({"input": []}, "invalid_value", "input"),
    "instructions as a list": (
        {"instructions": [user("x")], "input": "hi"},
        "invalid_value",
        "instructions",
    ),
    "allowed_tools without a mode": (
        {"tool_choice": {"type": "allowed_tools", "tools": []}},
        "invalid_value",
        "tool_choice",
    ),
}


@pytest.mark.parametrize(("body", "code", "param"), REFUSED.values(), ids=REFUSED.keys())
def test_refusals_name_the_field(body: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(ProviderRejected) as caught:
        chat_request({"model": "m", "input": "hi", **body})
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, code, param)
    assert not caught.value.retryable
