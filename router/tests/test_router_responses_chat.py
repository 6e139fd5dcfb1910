"""Responses API <-> chat completions (``providers/responses_chat.py``).

Requests rule by rule, and real client bodies (Codex CLI 0.171.0, openai-agents 0.24.0,
captured and trimmed); whole answers, each a valid OpenAI ``Response``; streams, each
event valid as its ``ResponseStreamEvent`` member, in order (items opened before their
deltas, closed once, sequential; sequence numbers 0, 1, 2...; the last event's output
equal to the items done), and read by the openai SDK's own stream reader."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import openai
import orjson
import pytest

from router.providers.anthropic_format import request_body
from router.providers.base import Usage
from router.providers.errors import ProviderRejected, ProviderUnavailable
from router.providers.responses_chat import (
    ResponsesEvents,
    chat_request,
    response_object,
    responses_usage,
)
from tests.support.openapi import schema_errors, stream_event_component

RID = "resp_7f3a"
CREATED = 1_796_142_049
USAGE = Usage(10, 4)

# --- captured client bodies (texts and schemas trimmed) ------------------------------

EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output or a session ID.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}},
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
VIEW_IMAGE = {
    "type": "function",
    "name": "view_image",
    "description": "View a local image file from the filesystem.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
}
RESUME_AGENT = {
    "type": "function",
    "name": "resume_agent",
    "description": "Resume a previously closed agent by id.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
        "additionalProperties": False,
    },
}
WAIT_AGENT = {
    "type": "function",
    "name": "wait_agent",
    "description": "Wait for agents to reach a final status.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"targets": {"type": "array", "items": {"type": "string"}}},
        "required": ["targets"],
        "additionalProperties": False,
    },
}
MULTI_AGENT = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Tools for spawning and managing sub-agents.",
    "tools": [RESUME_AGENT, WAIT_AGENT],
}
WEB_SEARCH = {"type": "web_search", "external_web_access": False}

DEVELOPER = "You are a coding agent running in the Codex CLI, a terminal-based coding assistant."
SKILLS = "<skills_instructions>\n## Skills\nA skill is a set of local instructions."
PERMISSIONS = "<permissions instructions>\nFilesystem sandboxing defines which files can be read."
ENVIRONMENT = (
    "<environment_context>\n  <cwd>/tmp/run</cwd>\n  <shell>bash</shell>\n</environment_context>"
)
CODEX_CONTEXT = [
    {
        "type": "message",
        "id": "msg_89dc8e0e-3f5c",
        "role": "developer",
        "content": [{"type": "input_text", "text": DEVELOPER}],
    },
    {
        "type": "message",
        "id": "msg_01a23268-5bf2",
        "role": "developer",
        "content": [
            {"type": "input_text", "text": SKILLS},
            {"type": "input_text", "text": PERMISSIONS},
        ],
    },
    {
        "type": "message",
        "id": "msg_01a23268-5bf3",
        "role": "user",
        "content": [{"type": "input_text", "text": ENVIRONMENT}],
    },
]


def codex(*items: dict[str, Any]) -> dict[str, Any]:
    """A Codex ``codex exec`` request body: its context, then ``items``."""
    return {
        "model": "sim-chat",
        "stream": True,
        "input": [*copy.deepcopy(CODEX_CONTEXT), *items],
        "tools": [EXEC_COMMAND, VIEW_IMAGE, MULTI_AGENT, WEB_SEARCH],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "01a23268-5b91-7902-8e3c-d066fc1e640b",
        "client_metadata": {"x-codex-installation-id": "inst-1", "thread_id": "th-1"},
    }


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


CODEX_TURN1 = codex(user("say hi"))
CODEX_AFTER_REASONING_TOOL = codex(
    user("run echo hi"),
    {
        "type": "reasoning",
        "id": "rs_7f4cd3db",
        "content": None,
        "summary": [{"type": "summary_text", "text": "**Plan** run echo"}],
        "encrypted_content": "ENC_OPAQUE_BLOB_123",
    },
    {
        "type": "function_call",
        "status": "completed",
        "id": "fc_64f9bb0c",
        "name": "exec_command",
        "arguments": '{"cmd": "echo hi"}',
        "call_id": "call_8e645f1b",
    },
    {
        "type": "function_call_output",
        "id": "fco_01a23264-6253",
        "call_id": "call_8e645f1b",
        "output": "Chunk ID: f080e4\nProcess exited with code 0\nOutput:\nhi\n",
    },
)
CODEX_RESUME = codex(
    user("say hi"),
    {
        "type": "message",
        "status": "completed",
        "id": "msg_9b562b8a",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "hello from capture", "annotations": [], "logprobs": []}
        ],
    },
    user("say it again"),
)
CODEX_COMPACTION = {
    **codex(user("You are performing a CONTEXT CHECKPOINT COMPACTION.")),
    "tools": [],
}

GET_WEATHER = {
    "name": "get_weather",
    "parameters": {
        "properties": {"city": {"title": "City", "type": "string"}},
        "required": ["city"],
        "title": "get_weather_args",
        "type": "object",
        "additionalProperties": False,
    },
    "strict": True,
    "type": "function",
    "description": "Return the weather for a city.",
}
AGENTS_RUN_REQ1 = {
    "model": "sim-chat",
    "include": [],
    "input": [{"content": "weather in Paris?", "role": "user"}],
    "instructions": "You are a probe agent.",
    "tools": [GET_WEATHER],
}
AGENTS_STREAM_REQ1 = {**AGENTS_RUN_REQ1, "stream": True}
AGENTS_SETTINGS_REQ3 = {
    **AGENTS_RUN_REQ1,
    "input": [
        {"content": "weather in Paris?", "role": "user"},
        {
            "arguments": '{"city":"Paris"}',
            "call_id": "call_9ad69f9f",
            "name": "get_weather",
            "type": "function_call",
            "id": "fc_68022e11",
            "status": "completed",
        },
        {"call_id": "call_9ad69f9f", "output": "sunny in Paris", "type": "function_call_output"},
        {
            "id": "msg_04a51c78",
            "role": "assistant",
            "status": "completed",
            "type": "message",
            "content": [
                {
                    "annotations": [],
                    "text": "hello from capture",
                    "type": "output_text",
                    "logprobs": [],
                }
            ],
        },
        {"role": "user", "content": "and tomorrow?"},
    ],
    "max_output_tokens": 256,
    "metadata": {"k": "v"},
    "parallel_tool_calls": False,
    "reasoning": {"effort": "low"},
    "store": False,
    "temperature": 0.2,
    "text": {"verbosity": "low"},
    "tool_choice": "auto",
    "top_p": 0.9,
    "truncation": "auto",
}


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

FN = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
CHAT_FN = {
    "type": "function",
    "function": {"name": "f", "parameters": {"type": "object"}, "strict": True},
}
NS = {
    "type": "namespace",
    "name": "ns",
    "description": "d",
    "tools": [
        {"type": "function", "name": "g", "description": "G", "parameters": None, "strict": None}
    ],
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


# --- whole answers ---------------------------------------------------------------------


def chat_answer(message: dict[str, Any], finish: str = "stop", **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": finish,
                **choice,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


def message_item(*parts: dict[str, Any], n: int = 0, status: str = "completed") -> dict[str, Any]:
    return {
        "id": f"msg_7f3a_{n}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": list(parts),
    }


def output_text(value: str, logprobs: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": [], "logprobs": logprobs or []}


def call_item(n: int, call_id: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"fc_7f3a_{n}",
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
        **extra,
    }


def reasoning_item(value: str, n: int = 0) -> dict[str, Any]:
    return {
        "id": f"rs_7f3a_{n}",
        "type": "reasoning",
        "status": "completed",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": value}],
    }


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


REQUEST = {"model": "chat", "input": "hi", "tools": [FN, NS, WEB_SEARCH]}
CHAT_LOGPROBS = {
    "content": [
        {
            "token": "Hi",
            "logprob": -0.1,
            "bytes": [72, 105],
            "top_logprobs": [
                {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                {"token": "Yo", "logprob": -2.5, "bytes": None},
            ],
        },
        {"token": "!", "logprob": -0.3, "bytes": None, "top_logprobs": []},
    ]
}
RESPONSES_LOGPROBS = [
    {
        "token": "Hi",
        "logprob": -0.1,
        "bytes": [72, 105],
        "top_logprobs": [
            {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
            {"token": "Yo", "logprob": -2.5, "bytes": [89, 111]},
        ],
    },
    {"token": "!", "logprob": -0.3, "bytes": [33], "top_logprobs": []},
]

WHOLE: dict[str, tuple[dict[str, Any], list[dict[str, Any]], str, str | None]] = {
    "text": (
        chat_answer({"content": "Hello!"}),
        [message_item(output_text("Hello!"))],
        "completed",
        None,
    ),
    "text with logprobs": (
        chat_answer({"content": "Hi!"}, logprobs=CHAT_LOGPROBS),
        [message_item(output_text("Hi!", RESPONSES_LOGPROBS))],
        "completed",
        None,
    ),
    "a tool call, after whitespace": (
        chat_answer(
            {"content": "\n\n", "tool_calls": [tool_call("call_1", "f", '{"a": 1}')]}, "tool_calls"
        ),
        [call_item(0, "call_1", "f", '{"a": 1}')],
        "completed",
        None,
    ),
    "text and parallel tool calls, one namespaced": (
        chat_answer(
            {
                "content": "Let me check.",
                "tool_calls": [
                    tool_call("call_1", "f", "{}"),
                    tool_call("call_2", "ns__g", '{"x": 2}'),
                ],
            },
            "tool_calls",
        ),
        [
            message_item(output_text("Let me check.")),
            call_item(1, "call_1", "f", "{}"),
            call_item(2, "call_2", "g", '{"x": 2}', namespace="ns"),
        ],
        "completed",
        None,
    ),
    "reasoning then text": (
        chat_answer({"content": "42", "reasoning": "Think."}),
        [reasoning_item("Think."), message_item(output_text("42"), n=1)],
        "completed",
        None,
    ),
    "reasoning_content, as older vLLM names it": (
        chat_answer({"content": "42", "reasoning_content": "Think."}),
        [reasoning_item("Think."), message_item(output_text("42"), n=1)],
        "completed",
        None,
    ),
    "refusal": (
        chat_answer({"content": None, "refusal": "I can't help with that."}),
        [message_item({"type": "refusal", "refusal": "I can't help with that."})],
        "completed",
        None,
    ),
    "length: incomplete, max_output_tokens": (
        chat_answer({"content": "Once upon"}, "length"),
        [message_item(output_text("Once upon"), status="incomplete")],
        "incomplete",
        "max_output_tokens",
    ),
    "content_filter: incomplete": (
        chat_answer({"content": ""}, "content_filter"),
        [],
        "incomplete",
        "content_filter",
    ),
    "a call without an id gets one": (
        chat_answer({"content": None, "tool_calls": [tool_call(None, "f", "{}")]}, "tool_calls"),  # type: ignore[arg-type]
        [call_item(0, "call_7f3a_0", "f", "{}")],
        "completed",
        None,
    ),
}


@pytest.mark.parametrize(("chat", "output", "status", "reason"), WHOLE.values(), ids=WHOLE.keys())
def test_whole_answers(
    chat: dict[str, Any], output: list[dict[str, Any]], status: str, reason: str | None
) -> None:
    response = response_object(chat, REQUEST, response_id=RID, usage=USAGE)
    assert schema_errors("Response", response) == []
    assert response["output"] == output
    assert response["status"] == status
    assert response["incomplete_details"] == ({"reason": reason} if reason else None)
    assert response["created_at"] == CREATED
    assert response["error"] is None


def test_the_response_echoes_the_request() -> None:
    request = {
        **AGENTS_SETTINGS_REQ3,
        "user": "u-1",
        "top_logprobs": 2,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "tool_choice": {"type": "function", "name": "get_weather"},
    }
    response = response_object(
        chat_answer({"content": "{}"}), request, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert {k: v for k, v in response.items() if k not in ("output", "usage")} == {
        "id": RID,
        "object": "response",
        "created_at": CREATED,
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": "You are a probe agent.",
        "max_output_tokens": 256,
        "model": "sim-chat",
        "parallel_tool_calls": False,
        "previous_response_id": None,
        "reasoning": {"effort": "low", "summary": None},
        "store": False,
        "temperature": 0.2,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "tool_choice": {"type": "function", "name": "get_weather"},
        "tools": [GET_WEATHER],
        "top_p": 0.9,
        "truncation": "disabled",
        "metadata": {"k": "v"},
        "top_logprobs": 2,
        "user": "u-1",
    }


def test_defaults_when_the_request_says_nothing() -> None:
    response = response_object(
        chat_answer({"content": "hi"}), {"input": "x"}, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert response["model"] == ""
    assert (response["tools"], response["tool_choice"], response["metadata"]) == ([], "auto", {})
    assert response["parallel_tool_calls"] is True
    assert (response["temperature"], response["top_p"], response["instructions"]) == (
        None,
        None,
        None,
    )
    assert response["text"] == {"format": {"type": "text"}}
    assert "user" not in response


def test_codex_request_echo_validates() -> None:
    # Namespace and web_search tools, tool_choice auto, reasoning summary.
    response = response_object(
        chat_answer({"content": "hi"}), CODEX_TURN1, response_id=RID, usage=USAGE
    )
    assert schema_errors("Response", response) == []
    assert response["tools"][-1] == WEB_SEARCH
    assert response["reasoning"] == {"effort": None, "summary": "auto"}


def test_usage_with_cached_and_reasoning_tokens() -> None:
    usage = Usage(100, 40, cached_tokens=64, reasoning_tokens=25)
    expected = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 25},
        "total_tokens": 140,
    }
    assert responses_usage(usage) == expected
    assert schema_errors("ResponseUsage", expected) == []
    response = response_object(chat_answer({"content": "x"}), REQUEST, response_id=RID, usage=usage)
    assert response["usage"] == expected


# --- streams ---------------------------------------------------------------------------


def chunk(finish: str | None = None, logprobs: Any = None, **delta: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "m",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def tool_delta(
    index: int, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name:
        function["name"] = name
    delta: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        delta |= {"id": call_id, "type": "function"}
    return delta


ROLE = chunk(role="assistant", content="")
USAGE_CHUNK = b'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":10}}\n\n'
DONE = b"data: [DONE]\n\n"


def parse(frame: bytes) -> dict[str, Any]:
    head, data, tail = frame.split(b"\n", 2)
    assert head.startswith(b"event: ")
    assert data.startswith(b"data: ")
    assert tail == b"\n"
    event: dict[str, Any] = orjson.loads(data[6:])
    assert head[7:].decode() == event["type"]
    return event


def check(events: list[dict[str, Any]]) -> None:
    """Each event valid as its schema member, and the stream's order."""
    for event in events:
        assert schema_errors(stream_event_component(event["type"]), event) == [], event
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    parts_open: dict[int, set[int]] = {}
    for event in events[2:-1]:
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(added)  # the next one, never seen before
            assert set(added) == set(done)  # sequential: the previous ones are closed
            added[index] = event["item"]
            parts_open[index] = set()
        elif kind == "response.output_item.done":
            assert index in added
            assert index not in done  # closed once
            assert not parts_open[index]
            assert event["item"]["id"] == added[index]["id"]
            done[index] = event["item"]
        else:  # about an open item
            assert index in added, event  # opened before its deltas
            assert index not in done, event
            assert event["item_id"] == added[index]["id"]
            if kind == "response.content_part.added":
                parts_open[index].add(event["content_index"])
            elif kind == "response.content_part.done":
                parts_open[index].remove(event["content_index"])
            elif "content_index" in event and added[index]["type"] == "message":
                assert event["content_index"] in parts_open[index], event
    assert set(added) == set(done) or events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["output"] == [done[i] for i in sorted(done)]


def stream(
    request: dict[str, Any], frames: list[bytes], finish: bool = True
) -> list[dict[str, Any]]:
    translator = ResponsesEvents(request, RID, CREATED)
    out = translator.start()
    for frame in frames:
        out += translator.feed(frame)
    out += translator.finish(USAGE) if finish else translator.fail("server_error", "cut")
    events = [parse(e) for e in out]
    check(events)
    assert events[-1]["response"] == translator.response(USAGE if finish else None)
    return events


def deltas(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The stream in short: (type, output_index, delta or text) per item event."""
    out = []
    for e in events:
        value = e.get("delta", e.get("text", e.get("arguments", e.get("item", {}).get("type"))))
        out.append((e["type"].removeprefix("response."), e.get("output_index"), value))
    return out


def test_stream_text() -> None:
    events = stream(
        REQUEST,
        [ROLE, chunk(content="Hel"), chunk(content="lo"), chunk(finish="stop"), USAGE_CHUNK, DONE],
    )
    assert deltas(events) == [
        ("created", None, None),
        ("in_progress", None, None),
        ("output_item.added", 0, "message"),
        ("content_part.added", 0, None),
        ("output_text.delta", 0, "Hel"),
        ("output_text.delta", 0, "lo"),
        ("output_text.done", 0, "Hello"),
        ("content_part.done", 0, None),
        ("output_item.done", 0, "message"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [message_item(output_text("Hello"))]
    assert events[-1]["response"]["usage"] == responses_usage(USAGE)
    assert events[0]["response"]["status"] == "in_progress"
    assert "usage" not in events[0]["response"]


def test_stream_text_then_two_parallel_tool_calls() -> None:
    frames = [
        ROLE,
        chunk(content="Checking both."),
        chunk(content="\n"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f")]),
        chunk(tool_calls=[tool_delta(0, arguments='{"a":')]),
        chunk(tool_calls=[tool_delta(0, arguments="1}")]),
        chunk(tool_calls=[tool_delta(1, "call_2", "ns__g", '{"x"')]),
        chunk(tool_calls=[tool_delta(1, arguments=":2}")]),
        chunk(finish="tool_calls"),
        DONE,
    ]
    events = stream(REQUEST, frames)
    assert deltas(events)[2:] == [
        ("output_item.added", 0, "message"),
        ("content_part.added", 0, None),
        ("output_text.delta", 0, "Checking both."),
        ("output_text.delta", 0, "\n"),
        ("output_text.done", 0, "Checking both.\n"),
        ("content_part.done", 0, None),
        ("output_item.done", 0, "message"),
        ("output_item.added", 1, "function_call"),
        ("function_call_arguments.delta", 1, '{"a":'),
        ("function_call_arguments.delta", 1, "1}"),
        ("function_call_arguments.done", 1, '{"a":1}'),
        ("output_item.done", 1, "function_call"),
        ("output_item.added", 2, "function_call"),
        ("function_call_arguments.delta", 2, '{"x"'),
        ("function_call_arguments.delta", 2, ":2}"),
        ("function_call_arguments.done", 2, '{"x":2}'),
        ("output_item.done", 2, "function_call"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [
        message_item(output_text("Checking both.\n")),
        call_item(1, "call_1", "f", '{"a":1}'),
        call_item(2, "call_2", "g", '{"x":2}', namespace="ns"),
    ]
    arguments_done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [e["name"] for e in arguments_done] == ["f", "g"]
    assert events[9]["item"]["status"] == "in_progress"  # function call 1 as added
    assert events[9]["item"]["arguments"] == ""


def test_stream_reasoning_then_text() -> None:
    frames = [
        ROLE,
        chunk(reasoning="Think"),
        chunk(reasoning="ing."),
        chunk(content="42"),
        chunk(finish="stop"),
    ]
    events = stream(REQUEST, frames)
    assert deltas(events)[2:] == [
        ("output_item.added", 0, "reasoning"),
        ("reasoning_text.delta", 0, "Think"),
        ("reasoning_text.delta", 0, "ing."),
        ("reasoning_text.done", 0, "Thinking."),
        ("output_item.done", 0, "reasoning"),
        ("output_item.added", 1, "message"),
        ("content_part.added", 1, None),
        ("output_text.delta", 1, "42"),
        ("output_text.done", 1, "42"),
        ("content_part.done", 1, None),
        ("output_item.done", 1, "message"),
        ("completed", None, None),
    ]
    assert events[-1]["response"]["output"] == [
        reasoning_item("Thinking."),
        message_item(output_text("42"), n=1),
    ]


def test_stream_whitespace_around_tool_calls_is_dropped() -> None:
    frames = [
        ROLE,
        chunk(content="\n\n"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", "{}")]),
        chunk(content="\n"),
        chunk(finish="tool_calls"),
    ]
    events = stream(REQUEST, frames)
    assert events[-1]["response"]["output"] == [call_item(0, "call_1", "f", "{}")]


def test_stream_whitespace_only_answer_is_kept() -> None:
    events = stream(REQUEST, [ROLE, chunk(content=" "), chunk(finish="stop")])
    assert events[-1]["response"]["output"] == [message_item(output_text(" "))]


def test_stream_refusal_and_logprobs() -> None:
    first, second = CHAT_LOGPROBS["content"]
    frames = [
        chunk(content="Hi", logprobs={"content": [first]}),
        chunk(content="!", logprobs={"content": [second]}),
        chunk(refusal="No."),
        chunk(finish="stop"),
    ]
    events = stream(REQUEST, frames)
    text_deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert text_deltas[0]["logprobs"] == [
        {
            "token": "Hi",
            "logprob": -0.1,
            "top_logprobs": [{"token": "Hi", "logprob": -0.1}, {"token": "Yo", "logprob": -2.5}],
        }
    ]
    assert events[-1]["response"]["output"] == [
        message_item(output_text("Hi!", RESPONSES_LOGPROBS), {"type": "refusal", "refusal": "No."})
    ]
    assert [e["content_index"] for e in events if e["type"] == "response.content_part.added"] == [
        0,
        1,
    ]


def test_stream_length_is_incomplete() -> None:
    events = stream(REQUEST, [chunk(content="Once upon"), chunk(finish="length")])
    assert events[-1]["type"] == "response.incomplete"
    response = events[-1]["response"]
    assert (response["status"], response["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert response["output"] == [message_item(output_text("Once upon"), status="incomplete")]


def test_stream_without_finish_reason_completes() -> None:
    events = stream(REQUEST, [chunk(tool_calls=[tool_delta(0, "call_1", "f", "{}")])])
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"] == [call_item(0, "call_1", "f", "{}")]


def test_stream_with_nothing_completes_empty() -> None:
    events = stream(REQUEST, [ROLE, chunk(finish="stop"), DONE])
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert events[-1]["response"]["output"] == []


def test_stream_cut_fails_closing_nothing() -> None:
    frames = [
        ROLE,
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", '{"a"')]),
    ]
    events = stream(REQUEST, frames, finish=False)
    assert deltas(events)[-3:] == [
        ("output_item.added", 1, "function_call"),
        ("function_call_arguments.delta", 1, '{"a"'),
        ("failed", None, None),
    ]
    response = events[-1]["response"]
    assert response["status"] == "failed"
    assert response["error"] == {"code": "server_error", "message": "cut"}
    assert response["output"] == [message_item(output_text("Hello"))]  # only what was done
    assert "usage" not in response


def test_after_the_end_nothing_more() -> None:
    translator = ResponsesEvents(REQUEST, RID, CREATED)
    translator.start()
    translator.finish(USAGE)
    assert translator.feed(chunk(content="late")) == []
    assert translator.finish(USAGE) == []
    assert translator.fail("server_error", "x") == []


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([b"data: {not json\n\n"], "unreadable"),
        ([b'data: {"error": {"message": "boom"}}\n\n'], "reported an error"),
        (
            [
                chunk(tool_calls=[tool_delta(0, "call_1", "f", "{")]),
                chunk(tool_calls=[tool_delta(1, "call_2", "f", "{}")]),
                chunk(tool_calls=[tool_delta(0, arguments="}")]),
            ],
            "out of order",
        ),
    ],
    ids=["unreadable", "error event", "tool call deltas out of order"],
)
def test_stream_provider_faults(frames: list[bytes], message: str) -> None:
    translator = ResponsesEvents(REQUEST, RID, CREATED)
    translator.start()
    for frame in frames[:-1]:
        translator.feed(frame)
    with pytest.raises(ProviderUnavailable, match=message):
        translator.feed(frames[-1])


def test_stream_ignores_comments_done_and_other_choices() -> None:
    other = b'data: {"choices":[{"index":1,"delta":{"content":"other"}}]}\n\n'
    frames = [b": keepalive\n\n", other, chunk(content="x"), DONE]
    events = stream(REQUEST, frames)
    assert events[-1]["response"]["output"] == [message_item(output_text("x"))]


def test_streamed_and_whole_answers_agree() -> None:
    calls = [tool_call("call_1", "f", '{"a":1}'), tool_call("call_2", "ns__g", "{}")]
    whole = response_object(
        chat_answer({"content": "ok", "reasoning": "hmm", "tool_calls": calls}, "tool_calls"),
        REQUEST,
        response_id=RID,
        usage=USAGE,
    )
    frames = [
        chunk(reasoning="hmm"),
        chunk(content="ok"),
        chunk(tool_calls=[tool_delta(0, "call_1", "f", '{"a":1}')]),
        chunk(tool_calls=[tool_delta(1, "call_2", "ns__g", "{}")]),
        chunk(finish="tool_calls"),
    ]
    streamed = stream(REQUEST, frames)[-1]["response"]
    assert streamed == whole


# --- the openai SDK reads them ---------------------------------------------------------


def sdk_client(body: bytes, content_type: str) -> openai.OpenAI:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", http_client=http)


def test_the_sdk_reads_a_stream() -> None:
    translator = ResponsesEvents(AGENTS_STREAM_REQ1, RID, CREATED)
    frames = [
        ROLE,
        chunk(content="Checking."),
        chunk(reasoning="x"),
        chunk(tool_calls=[tool_delta(0, "call_1", "get_weather", '{"city":')]),
        chunk(tool_calls=[tool_delta(0, arguments='"Paris"}')]),
        chunk(finish="tool_calls"),
    ]
    sse = b"".join(translator.start() + [e for f in frames for e in translator.feed(f)])
    client = sdk_client(sse + b"".join(translator.finish(USAGE)), "text/event-stream")
    with client.responses.stream(
        model="sim-chat", input="weather in Paris?", tools=[GET_WEATHER]
    ) as events:  # type: ignore[list-item]
        kinds = [event.type for event in events]
        final = events.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert final.output_text == "Checking."
    assert [item.type for item in final.output] == ["message", "reasoning", "function_call"]
    function_call = final.output[-1]
    assert function_call.type == "function_call"
    assert (function_call.call_id, function_call.arguments) == ("call_1", '{"city":"Paris"}')
    assert final.usage is not None
    assert final.usage.total_tokens == 14


def test_the_sdk_reads_a_whole_answer() -> None:
    answer = chat_answer({"content": "hello from capture"})
    response = response_object(answer, AGENTS_RUN_REQ1, response_id=RID, usage=USAGE)
    client = sdk_client(orjson.dumps(response), "application/json")
    parsed = client.responses.create(model="sim-chat", input="weather in Paris?")
    assert parsed.id == RID
    assert parsed.output_text == "hello from capture"
    assert parsed.status == "completed"
